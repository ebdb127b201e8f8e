"""The playground's page and its client sessions; a draft session runs the draft."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from django.urls import reverse

from hosted_agents.chat_access import ClientSecretCredential, chat_context_build
from hosted_agents.exceptions import AgentMisconfigured
from hosted_agents.instructions import instructions_placeholders
from hosted_agents.models import Agent
from hosted_agents.runtime import DRAFT_VERSION, run_plan_for
from hosted_agents.services import agent_create, agent_publish, agent_update, http_tool_create
from hosted_agents.services.tools import http_tool_delete
from tenants.exceptions import InvalidInput
from tenants.models import ClientSession, Tenant
from tenants.services.client_sessions import client_session_create

pytestmark = pytest.mark.django_db


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"console:{name}", kwargs={"tenant": "acme", **kwargs})


@pytest.fixture
def admin(acme_admin: AbstractBaseUser) -> Client:
    client = Client()
    client.force_login(acme_admin)
    return client


@pytest.fixture
def helper(acme: Tenant) -> Agent:
    agent = agent_create(
        tenant=acme, slug="helper", name="Helper", model="demo", instructions="Published.",
        greeting="Ask me.", starter_prompts=["What is 2+2?"],
    )  # fmt: skip
    agent_publish(tenant=acme, agent_id=agent.pk)
    agent_update(tenant=acme, agent_id=agent.pk, changes={"instructions": "Draft."})
    agent.refresh_from_db()
    return agent


def test_page_embeds_the_platforms_own_client(admin: Client, helper: Agent) -> None:
    response = admin.get(url("playground", agent="helper"))

    page = response.content.decode()
    assert 'src="/static/chatkit_platform/chatkit-client.js"' in page
    assert "cdn.platform.openai.com" not in page
    assert 'data-endpoint="/t/acme/agents/helper/chatkit"' in page
    assert (
        f'data-session-url="{url("playground_session", agent="helper")}?version=published"' in page
    )
    assert "<script>" not in page  # nothing inline: the CSP forbids it
    assert 'starter-prompts="[&quot;What is 2+2?&quot;]"' in page
    assert "version 1" in page
    assert not hasattr(response, "_csp_update")


def test_official_mode_loads_openais_script_with_its_own_csp_exception(
    admin: Client, helper: Agent
) -> None:
    response = admin.get(url("playground_official", agent="helper") + "?version=draft")

    page = response.content.decode()
    assert 'src="https://cdn.platform.openai.com/deployments/chatkit/chatkit.js"' in page
    assert "chatkit-client.js" not in page
    assert "it needs internet access" in page
    assert response._csp_update["script-src"] == ["https://cdn.platform.openai.com"]  # type: ignore[attr-defined]


def test_session_for_the_published_version_is_pinned_to_it(
    admin: Client, acme: Tenant, helper: Agent
) -> None:
    response = admin.post(url("playground_session", agent="helper") + "?version=published")

    assert response.status_code == 200
    body = response.json()
    assert body["client_secret"].startswith("ckcs_")
    assert body["version"] == 1
    session = ClientSession.objects.for_tenant(acme).get()
    assert session.end_user_id == "console:adam"
    assert session.version == 1
    assert not session.serves_draft
    assert body["expires_at"] == int(session.expires_at.timestamp())


def test_an_unpublished_agent_gets_a_draft_session(
    admin: Client, acme: Tenant, acme_agent: Agent
) -> None:
    page = admin.get(url("playground", agent="support")).content.decode()
    assert "?version=draft" in page and "Published v" not in page

    body = admin.post(url("playground_session", agent="support")).json()

    assert body["version"] == "draft"
    assert ClientSession.objects.for_tenant(acme).get().serves_draft


def test_viewers_and_other_tenants_get_no_session(
    acme_viewer: AbstractBaseUser, admin: Client, helper: Agent, globex: Tenant
) -> None:
    viewer = Client()
    viewer.force_login(acme_viewer)
    assert viewer.post(url("playground_session", agent="helper")).status_code == 403
    assert viewer.get(url("playground", agent="helper")).status_code == 403
    assert admin.get(url("playground_session", agent="helper")).status_code == 405
    agent_create(tenant=globex, slug="theirs", name="Theirs")
    assert admin.post(url("playground_session", agent="theirs")).status_code == 404
    assert not ClientSession.objects.for_tenant(helper.tenant).exists()


def _plan_of_session(admin: Client, version: str) -> Any:
    secret = admin.post(url("playground_session", agent="helper") + f"?version={version}").json()
    access = chat_context_build(
        tenant_slug="acme", agent_slug="helper", end_user_id="",
        credential=ClientSecretCredential(secret["client_secret"]),
    )  # fmt: skip
    return run_plan_for(access.context)


def test_a_draft_session_runs_the_draft_and_a_published_one_the_version(
    admin: Client, helper: Agent
) -> None:
    draft = _plan_of_session(admin, "draft")
    assert draft.version.number == DRAFT_VERSION
    assert draft.version.config["instructions"] == "Draft."

    published = _plan_of_session(admin, "published")
    assert published.version.number == 1
    assert published.version.config["instructions"] == "Published."


def test_a_draft_naming_a_deleted_tool_is_refused_as_misconfigured(
    admin: Client, acme: Tenant, helper: Agent
) -> None:
    tool = http_tool_create(tenant=acme, name="t", description="T.", url_template="https://e.com/")
    agent_update(tenant=acme, agent_id=helper.pk, changes={"http_tools": [tool.pk]})
    # Deleting a tool drops it from drafts; a row changed behind the services' back does not.
    Agent.objects.for_tenant(acme).filter(pk=helper.pk).update(http_tools=[tool.pk + 100])
    http_tool_delete(tenant=acme, tool_id=tool.pk)

    with pytest.raises(AgentMisconfigured):
        _plan_of_session(admin, "draft")


def test_a_session_serves_a_version_or_the_draft_not_both(acme: Tenant, helper: Agent) -> None:
    with pytest.raises(InvalidInput):
        client_session_create(
            tenant=acme, agent=helper, user="u", workflow_ref="helper", version=1,
            serves_draft=True,
        )  # fmt: skip
    assert not ClientSession.objects.for_tenant(acme).exists()


def test_placeholders_are_listed_once_in_order_without_escaped_ones() -> None:
    text = "Hi {{ state.name }}, tier {{state.tier}}; again {{ state.name }}; \\{{ state.raw }}"
    assert instructions_placeholders(text) == ["name", "tier"]
