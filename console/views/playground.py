"""The playground: chat with an agent's draft or published version from the console.

The page embeds `<chatkit-client>` (served by the platform: no network beyond it) against
the agent's own ChatKit endpoint, so a playground chat takes exactly the path an end
user's does. Its credential is a client session minted for the signed-in member (end user
`console:<username>`), fetched by the page's script from `playground_session` and again
when it expires: no secret is written into the page. A session pins the published version
it was minted for, or serves the draft as it is at each turn (`serves_draft`).

A second page loads OpenAI's ChatKit JS from OpenAI's CDN instead, only when the member
picks it; it needs internet access and a Content-Security-Policy exception for that CDN,
which is granted on that page alone.
"""

from __future__ import annotations

import json
from typing import Any

from csp.decorators import csp_update
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from console.access import console_view
from console.views.agents import agent_or_404
from hosted_agents.models import Agent
from tenants.exceptions import DomainError
from tenants.services.client_sessions import client_session_create

OPENAI_CDN = "https://cdn.platform.openai.com"
OFFICIAL_SCRIPT = f"{OPENAI_CDN}/deployments/chatkit/chatkit.js"
SESSION_SECONDS = 15 * 60
SESSION_REQUESTS_PER_MINUTE = 60
END_USER_PREFIX = "console:"


def _mode(request: HttpRequest, agent: Agent) -> str:
    """`draft` or `published` (the default once there is a published version)."""
    wanted = request.GET.get("version") or request.POST.get("version")
    if wanted == "draft" or agent.published_version_id is None:
        return "draft"
    return "published"


def _page(request: HttpRequest, agent: str, client: str) -> HttpResponse:
    tenant = request.console.tenant  # type: ignore[attr-defined]
    row = agent_or_404(request, agent)
    mode = _mode(request, row)
    session_url = reverse(
        "console:playground_session", kwargs={"tenant": tenant.slug, "agent": row.slug}
    )
    context: dict[str, Any] = {
        "agent": row,
        "mode": mode,
        "client": client,
        "version": row.published_version if mode == "published" else None,
        "endpoint_path": f"/t/{tenant.slug}/agents/{row.slug}/chatkit",
        "session_url": f"{session_url}?version={mode}",
        "starter_prompts_json": json.dumps(row.starter_prompts),
        "official_script": OFFICIAL_SCRIPT,
    }
    return render(request, "console/playground/page.html", context)


@console_view("admin")
def playground(request: HttpRequest, agent: str) -> HttpResponse:
    return _page(request, agent, "platform")


@csp_update({"script-src": [OPENAI_CDN], "frame-src": [OPENAI_CDN], "connect-src": [OPENAI_CDN]})
@console_view("admin")
def playground_official(request: HttpRequest, agent: str) -> HttpResponse:
    return _page(request, agent, "official")


@console_view("admin")
@require_POST
def playground_session(request: HttpRequest, agent: str) -> HttpResponse:
    """Mint a client session for the signed-in member; answer as the sessions API does."""
    console = request.console  # type: ignore[attr-defined]
    row = agent_or_404(request, agent)
    mode = _mode(request, row)
    version = row.published_version
    try:
        issued = client_session_create(
            tenant=console.tenant,
            agent=row,
            user=f"{END_USER_PREFIX}{request.user.get_username()}",
            workflow_ref=row.slug,
            version=version.number if mode == "published" and version is not None else None,
            serves_draft=mode == "draft",
            expires_after_seconds=SESSION_SECONDS,
            max_requests_per_1_minute=SESSION_REQUESTS_PER_MINUTE,
            actor=console.actor,
        )
    except DomainError as error:
        return JsonResponse(
            {"error": {"code": "session_refused", "message": str(error)}}, status=400
        )
    return JsonResponse(
        {
            "client_secret": issued.client_secret,
            "expires_at": int(issued.session.expires_at.timestamp()),
            "version": "draft" if mode == "draft" else issued.session.version,
        }
    )
