"""Operators edit agents and tools in the admin through the audited services; versions are
read-only; HTTP tool header values are write-only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from hosted_agents.models import (
    Agent,
    AgentVersion,
    ClientTool,
    HttpTool,
    PendingApproval,
    RunSpan,
    UsageDaily,
)
from hosted_agents.selectors import http_tool_headers
from hosted_agents.services import (
    agent_create,
    agent_publish,
    client_tool_create,
    client_tool_delete,
    http_tool_create,
)
from tenants.models import AuditEvent, Tenant
from tenants.services import provider_credential_create

SECRET = "Bearer admin-form-secret-0123456789"


@pytest.fixture
def operator(db: None) -> Client:
    user = get_user_model()._default_manager.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def agent_form(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    data = {
        "tenant": tenant.pk,
        "slug": "helpdesk",
        "name": "Helpdesk",
        "instructions": "Help.",
        "model": "gpt-4.1-mini",
        "model_settings": json.dumps({"temperature": 0.3}),
        "provider_credential": "",
        "greeting": "Hi!",
        "starter_prompts": json.dumps(["What can you do?"]),
    }
    return data | fields


@pytest.mark.parametrize(
    "model", [Agent, AgentVersion, HttpTool, ClientTool, UsageDaily, PendingApproval, RunSpan]
)
def test_every_model_lists_all_tenants_rows_for_operators(
    model: Any, operator: Client, acme: Tenant, globex: Tenant
) -> None:
    agent_publish(tenant=acme, agent_id=agent_create(tenant=acme, slug="a1", name="A1").pk)
    agent_publish(tenant=globex, agent_id=agent_create(tenant=globex, slug="g1", name="G1").pk)

    response = operator.get(reverse(f"admin:hosted_agents_{model._meta.model_name}_changelist"))

    assert response.status_code == 200
    if model in (Agent, AgentVersion):
        assert b"a1" in response.content and b"g1" in response.content


def test_an_agent_added_in_the_admin_is_created_through_the_audited_service(
    operator: Client, acme: Tenant
) -> None:
    response = operator.post(
        reverse("admin:hosted_agents_agent_add"),
        agent_form(acme, code_tools=["calculator", "show_table"]),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    agent = Agent.objects.for_tenant(acme).get(slug="helpdesk")
    assert agent.code_tools == ["calculator", "show_table"]
    assert agent.model_settings == {"temperature": 0.3}
    assert AuditEvent.objects.for_tenant(acme).filter(action="agent.create").count() == 1


def test_the_agent_form_sets_approval_policies_and_refuses_unknown_tools(
    operator: Client, acme: Tenant
) -> None:
    url = reverse("admin:hosted_agents_agent_add")
    refused = operator.post(
        url, agent_form(acme, code_tools=["calculator"], tool_approvals='{"weather": "ask"}')
    )
    created = operator.post(
        url, agent_form(acme, code_tools=["calculator"], tool_approvals='{"calculator": "ask"}')
    )

    assert "no such selected tool" in refused.content.decode()
    assert created.status_code == 302, created.content.decode()[:2000]
    agent = Agent.objects.for_tenant(acme).get(slug="helpdesk")
    assert agent.tool_approvals == {"calculator": "ask"}
    version = agent_publish(tenant=acme, agent_id=agent.pk)
    [tool] = version.config["tools"]
    assert (tool["name"], tool["approval"]) == ("calculator", "ask")


def test_the_agent_form_refuses_another_tenants_credential(
    operator: Client, acme: Tenant, globex: Tenant
) -> None:
    credential = provider_credential_create(
        tenant=globex, name="globex key", kind="openai", secret="sk-globex-0123456789abcdef"
    )

    response = operator.post(
        reverse("admin:hosted_agents_agent_add"),
        agent_form(acme, provider_credential=credential.pk),
    )

    assert response.status_code == 200
    assert "no such provider credential" in response.content.decode()
    assert not Agent.objects.for_tenant(acme).exists()


def test_the_agent_form_refuses_a_reasoning_effort_for_a_model_without_one(
    operator: Client, acme: Tenant
) -> None:
    response = operator.post(
        reverse("admin:hosted_agents_agent_add"),
        agent_form(acme, model_settings=json.dumps({"reasoning_effort": "high"})),
    )

    assert response.status_code == 200
    assert "does not take a reasoning effort" in response.content.decode()


def test_publishing_and_rolling_back_are_admin_actions(operator: Client, acme: Tenant) -> None:
    agent = agent_create(tenant=acme, slug="helpdesk", name="Helpdesk", instructions="v1")
    operator.post(
        reverse("admin:hosted_agents_agent_changelist"),
        {"action": "publish", "_selected_action": [agent.pk]},
    )
    Agent.objects.for_tenant(acme).filter(pk=agent.pk).update(instructions="v2")
    agent_publish(tenant=acme, agent_id=agent.pk)
    first = AgentVersion.objects.for_tenant(acme).get(agent=agent, number=1)

    operator.post(
        reverse("admin:hosted_agents_agentversion_changelist"),
        {"action": "rollback", "_selected_action": [first.pk]},
    )

    agent.refresh_from_db()
    assert agent.published_version is not None
    assert (agent.published_version.number, agent.published_version.config["instructions"]) == (
        3,
        "v1",
    )


def test_versions_cannot_be_changed_in_the_admin(operator: Client, acme: Tenant) -> None:
    agent = agent_create(tenant=acme, slug="helpdesk", name="Helpdesk")
    version = agent_publish(tenant=acme, agent_id=agent.pk)
    url = reverse("admin:hosted_agents_agentversion_change", args=[version.pk])

    assert operator.get(url).status_code == 200  # view only
    operator.post(url, {"note": "edited"})
    version.refresh_from_db()
    assert version.note == ""
    assert operator.get(reverse("admin:hosted_agents_agentversion_add")).status_code == 403


def test_http_tool_headers_are_stored_encrypted_and_never_rendered(
    operator: Client, acme: Tenant
) -> None:
    response = operator.post(
        reverse("admin:hosted_agents_httptool_add"),
        {
            "tenant": acme.pk,
            "name": "weather",
            "description": "Weather for a city.",
            "method": "GET",
            "url_template": "https://api.example.com/weather/{city}",
            "args_schema": json.dumps(
                {"type": "object", "properties": {"city": {"type": "string"}}}
            ),
            "time_limit_seconds": "10",
            "max_response_bytes": "65536",
            "new_headers": f"Authorization: {SECRET}",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    tool = HttpTool.objects.for_tenant(acme).get(name="weather")
    assert SECRET not in tool.headers_encrypted
    assert http_tool_headers(tenant=acme, tool_id=tool.pk) == {"Authorization": SECRET}

    page = operator.get(reverse("admin:hosted_agents_httptool_change", args=[tool.pk]))

    content = page.content.decode()
    assert SECRET not in content and tool.headers_encrypted not in content
    assert "Authorization: Bea..." in content


def test_an_empty_headers_field_keeps_the_stored_headers_and_clearing_removes_them(
    operator: Client, acme: Tenant
) -> None:
    tool = http_tool_create(
        tenant=acme,
        name="weather",
        description="Weather.",
        url_template="https://api.example.com/weather",
        headers={"Authorization": SECRET},
    )
    url = reverse("admin:hosted_agents_httptool_change", args=[tool.pk])
    form = {
        "name": "weather",
        "description": "Weather, renamed.",
        "method": "GET",
        "url_template": "https://api.example.com/weather",
        "args_schema": json.dumps({"type": "object", "properties": {}}),
        "time_limit_seconds": "10",
        "max_response_bytes": "65536",
        "new_headers": "",
    }

    assert operator.post(url, form).status_code == 302
    assert http_tool_headers(tenant=acme, tool_id=tool.pk) == {"Authorization": SECRET}
    assert operator.post(url, form | {"clear_headers": "on"}).status_code == 302
    assert http_tool_headers(tenant=acme, tool_id=tool.pk) == {}


def test_a_form_shown_again_after_an_error_does_not_echo_the_submitted_headers(
    operator: Client, acme: Tenant
) -> None:
    tool = http_tool_create(
        tenant=acme,
        name="weather",
        description="Weather.",
        url_template="https://api.example.com/weather",
        headers={"Authorization": SECRET},
    )
    url = reverse("admin:hosted_agents_httptool_change", args=[tool.pk])
    typed = "Bearer typed-but-refused-0123456789"
    form = {
        "name": "weather",
        "description": "Weather.",
        "method": "GET",
        "url_template": "ftp://api.example.com/weather",  # refused: not http(s)
        "args_schema": json.dumps({"type": "object", "properties": {}}),
        "time_limit_seconds": "10",
        "max_response_bytes": "65536",
        "new_headers": f"Authorization: {typed}",
    }

    response = operator.post(url, form)

    content = response.content.decode()
    assert response.status_code == 200
    assert "must be an http(s) URL" in content
    assert typed not in content and SECRET not in content
    # Sent again with the field left empty, as the page now shows it: the stored value stays.
    fixed = form | {"url_template": "https://api.example.com/weather", "new_headers": ""}
    assert operator.post(url, fixed).status_code == 302
    assert http_tool_headers(tenant=acme, tool_id=tool.pk) == {"Authorization": SECRET}


def test_a_refused_rollback_is_reported_in_the_admin(operator: Client, acme: Tenant) -> None:
    tool = client_tool_create(tenant=acme, name="pick", description="Pick.")
    agent = agent_create(tenant=acme, slug="helpdesk", name="Helpdesk", client_tools=[tool.pk])
    first = agent_publish(tenant=acme, agent_id=agent.pk)
    client_tool_delete(tenant=acme, tool_id=tool.pk)
    agent_publish(tenant=acme, agent_id=agent.pk)

    response = operator.post(
        reverse("admin:hosted_agents_agentversion_changelist"),
        {"action": "rollback", "_selected_action": [first.pk]},
        follow=True,
    )

    assert "version 1 cannot be published again" in response.content.decode()
    assert AgentVersion.objects.for_tenant(acme).filter(agent=agent).count() == 2


@pytest.fixture
def agent_viewer(db: None) -> Client:
    """A staff user who may look at agents and versions but change nothing."""
    user = get_user_model()._default_manager.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="hosted_agents",
            codename__in=["view_agent", "view_agentversion"],
        )
    )
    client = Client()
    client.force_login(user)
    return client


def test_a_staff_user_who_may_only_view_agents_cannot_publish_or_roll_back(
    agent_viewer: Client, acme: Tenant
) -> None:
    agent = agent_create(tenant=acme, slug="helpdesk", name="Helpdesk")
    first = agent_publish(tenant=acme, agent_id=agent.pk)

    for changelist, selected in [("agent", agent.pk), ("agentversion", first.pk)]:
        action = "publish" if changelist == "agent" else "rollback"
        response = agent_viewer.post(
            reverse(f"admin:hosted_agents_{changelist}_changelist"),
            {"action": action, "_selected_action": [selected]},
        )
        assert response.status_code in (200, 302)

    assert AgentVersion.objects.for_tenant(acme).filter(agent=agent).count() == 1
    assert not AuditEvent.objects.for_tenant(acme).filter(actor_label="viewer").exists()


def test_deleting_selected_agents_goes_through_the_service_and_is_audited_as_the_operator(
    operator: Client, acme: Tenant, globex: Tenant
) -> None:
    agents = [
        agent_create(tenant=acme, slug="helpdesk", name="Helpdesk"),
        agent_create(tenant=globex, slug="sales", name="Sales"),
    ]
    response = operator.post(
        reverse("admin:hosted_agents_agent_changelist"),
        {"action": "delete_selected", "_selected_action": [a.pk for a in agents], "post": "yes"},
        REMOTE_ADDR="192.0.2.10",
    )

    assert response.status_code == 302
    assert not Agent.unscoped.filter(pk__in=[a.pk for a in agents]).exists()
    for tenant in (acme, globex):
        event = AuditEvent.objects.for_tenant(tenant).get(action="agent.delete")
        assert (event.actor_kind, event.actor_label, event.ip) == ("user", "root", "192.0.2.10")


def test_deleting_selected_tools_in_the_admin_is_audited(operator: Client, acme: Tenant) -> None:
    tool = client_tool_create(tenant=acme, name="pick", description="Pick a colour.")
    response = operator.post(
        reverse("admin:hosted_agents_clienttool_changelist"),
        {"action": "delete_selected", "_selected_action": [tool.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not ClientTool.unscoped.filter(pk=tool.pk).exists()
    assert AuditEvent.objects.for_tenant(acme).filter(action="client_tool.delete").count() == 1


def test_the_agent_and_version_pages_show_the_state_placeholders_used(
    operator: Client, acme: Tenant
) -> None:
    agent = agent_create(
        tenant=acme, slug="tiers", name="Tiers", model="demo",
        instructions="Greet {{ state.first_name }}; tier {{ state.tier }}.",
    )  # fmt: skip
    version = agent_publish(tenant=acme, agent_id=agent.pk)
    plain = agent_create(tenant=acme, slug="plain", name="Plain", model="demo")

    pages = [
        operator.get(reverse("admin:hosted_agents_agent_change", args=[agent.pk])),
        operator.get(reverse("admin:hosted_agents_agentversion_change", args=[version.pk])),
    ]
    other = operator.get(reverse("admin:hosted_agents_agent_change", args=[plain.pk]))

    for page in pages:
        assert page.status_code == 200
        assert "state.first_name, state.tier" in page.text
    assert "use no {{ state.* }} placeholder" in other.text
