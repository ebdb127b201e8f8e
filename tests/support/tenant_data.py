"""Fill a tenant with one of everything it can own, through the services where they exist.

    rows = tenant_fill(tenant, marker="acme")   # every text the rows carry contains the marker

Used by the export and deletion tests: the marker lets a test find any row of one tenant in
another's export, and the secrets let it check that none leaves the platform.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from hosted_agents.models import Agent, ToolCall, UsageDaily
from hosted_agents.services import agent_create, agent_publish, http_tool_create
from tenants.models import ApiKey, Attachment, Feedback, Tenant, Thread, ThreadItem
from tenants.services import api_key_create, client_session_create, provider_credential_create

__all__ = ["FilledTenant", "tenant_fill"]


@dataclass(frozen=True)
class FilledTenant:
    agent: Agent
    raw_api_key: str
    client_secret: str
    provider_secret: str
    header_secret: str
    api_key_hash: str


def tenant_fill(tenant: Tenant, *, marker: str) -> FilledTenant:
    provider_secret = f"sk-provider-{marker}-0123456789"
    header_secret = f"header-secret-{marker}-9876543210"
    provider_credential_create(
        tenant=tenant, name=f"{marker} openai", kind="openai", secret=provider_secret
    )
    http_tool_create(
        tenant=tenant, name=f"{marker}_lookup", description=f"{marker} lookup",
        url_template="https://api.example.com/lookup", headers={"Authorization": header_secret},
    )  # fmt: skip
    agent = agent_create(tenant=tenant, slug=f"{marker}-agent", name=f"{marker} agent")
    agent_publish(tenant=tenant, agent_id=agent.pk)
    agent.refresh_from_db()
    key = api_key_create(tenant=tenant, name=f"{marker} key", scopes=[ApiKey.Scope.CHAT])
    session = client_session_create(
        tenant=tenant, agent=agent, user=f"{marker}-user", workflow_ref=agent.slug
    )
    now = timezone.now()
    thread = Thread.objects.for_tenant(tenant).create(
        tenant=tenant, public_id=f"thr_{marker}", agent=agent, title=f"{marker} thread",
        created_at=now,
    )  # fmt: skip
    ThreadItem.objects.for_tenant(tenant).create(
        tenant=tenant, thread=thread, public_id=f"msg_{marker}", type="user_message",
        created_at=now, data={"text": f"hello from {marker}"},
    )  # fmt: skip
    Attachment.objects.for_tenant(tenant).create(
        tenant=tenant, thread=thread, public_id=f"atc_{marker}", name=f"{marker}.txt",
        mime_type="text/plain", data={"name": f"{marker}.txt"},
    )  # fmt: skip
    Feedback.objects.for_tenant(tenant).create(tenant=tenant, thread=thread, kind="positive")
    ToolCall.objects.for_tenant(tenant).create(
        tenant=tenant, thread_id=thread.public_id, run_id="run1", call_id=f"call_{marker}",
        tool_name=f"{marker}_tool", time_limit_seconds=5, queued_at=now, status="done",
    )  # fmt: skip
    UsageDaily.objects.for_tenant(tenant).create(
        tenant=tenant, agent=agent, day=now.date(), runs=1, input_tokens=10, output_tokens=5
    )
    return FilledTenant(
        agent=agent,
        raw_api_key=key.raw,
        client_secret=session.client_secret,
        provider_secret=provider_secret,
        header_secret=header_secret,
        api_key_hash=ApiKey.objects.for_tenant(tenant).get(pk=key.api_key.pk).key_hash,
    )
