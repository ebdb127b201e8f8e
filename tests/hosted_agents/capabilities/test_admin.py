"""Operators register MCP servers (write-only headers), see and refresh their tool lists,
and set an agent's capabilities in the admin, through the audited services."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client
from django.urls import reverse

from hosted_agents.capabilities.selectors import mcp_server_headers
from hosted_agents.capabilities.services import mcp_server_create
from hosted_agents.models import AgentCapabilities, McpServer
from hosted_agents.services import agent_create
from tenants.models import AuditEvent, Tenant
from tests.hosted_agents.capabilities.conftest import LoopbackMcp
from tests.hosted_agents.test_admin import operator

__all__ = ["operator"]

SECRET = "Bearer admin-mcp-secret-0123456789"


def test_an_operator_adds_a_server_whose_headers_are_never_shown_again(
    operator: Client, acme: Tenant
) -> None:
    response = operator.post(
        reverse("admin:hosted_agents_mcpserver_add"),
        {
            "tenant": acme.pk, "name": "weather", "url": "https://mcp.example.com/mcp",
            "transport": "streamable_http", "time_limit_seconds": "5",
            "new_headers": f"Authorization: {SECRET}",
        },
    )  # fmt: skip

    assert response.status_code == 302, response.content.decode()
    server = McpServer.objects.for_tenant(acme).get(name="weather")
    assert mcp_server_headers(tenant=acme, server_id=server.pk) == {"Authorization": SECRET}
    page = operator.get(reverse("admin:hosted_agents_mcpserver_change", args=[server.pk]))
    assert SECRET not in page.content.decode()
    assert "Bea...6789" in page.content.decode()
    assert AuditEvent.objects.for_tenant(acme).filter(action="mcp_server.create").exists()


def test_the_refresh_action_fetches_and_shows_the_tool_list(
    operator: Client, acme: Tenant, loopback_mcp: LoopbackMcp, settings: Any
) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = True
    server = mcp_server_create(tenant=acme, name="weather", url=loopback_mcp.url())

    response = operator.post(
        reverse("admin:hosted_agents_mcpserver_changelist"),
        {"action": "refresh_tools", "_selected_action": [server.pk]},
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == [
        "weather: forecast, delete_everything."
    ]
    page = operator.get(reverse("admin:hosted_agents_mcpserver_change", args=[server.pk]))
    assert "<code>forecast</code>: Tomorrow&#x27;s forecast for a city." in page.content.decode()


def test_capabilities_naming_another_tenants_server_are_refused_on_the_form(
    operator: Client, acme: Tenant, globex: Tenant
) -> None:
    theirs = mcp_server_create(tenant=globex, name="weather", url="https://mcp.example.com/mcp")
    agent = agent_create(tenant=acme, slug="support", name="Support")
    selection = [{"server_id": theirs.pk, "allowed_tools": []}]

    response = operator.post(
        reverse("admin:hosted_agents_agentcapabilities_add"),
        {
            "tenant": acme.pk, "agent": agent.pk, "mcp_servers": json.dumps(selection),
            "guardrails": "{}", "handoffs": "[]", "hosted_tools": "[]",
        },
    )  # fmt: skip

    assert response.status_code == 200
    assert f"no such MCP server: {theirs.pk}" in response.content.decode()
    assert not AgentCapabilities.objects.for_tenant(acme).exists()


def test_an_operator_sets_an_agents_mcp_servers(operator: Client, acme: Tenant) -> None:
    server = mcp_server_create(tenant=acme, name="weather", url="https://mcp.example.com/mcp")
    agent = agent_create(tenant=acme, slug="support", name="Support")
    selection = [{"server_id": server.pk, "allowed_tools": ["forecast"]}]

    response = operator.post(
        reverse("admin:hosted_agents_agentcapabilities_add"),
        {
            "tenant": acme.pk, "agent": agent.pk, "mcp_servers": json.dumps(selection),
            "guardrails": "{}", "handoffs": "[]", "hosted_tools": "[]",
        },
    )  # fmt: skip

    assert response.status_code == 302, response.content.decode()
    row = AgentCapabilities.objects.for_tenant(acme).get(agent_id=agent.pk)
    assert row.mcp_servers == [
        {"server_id": server.pk, "allowed_tools": ["forecast"], "approval_tools": []}
    ]
    assert AuditEvent.objects.for_tenant(acme).filter(action="agent.set_capabilities").exists()


def test_hosted_tools_for_an_agent_on_the_demo_model_are_refused_on_the_form(
    operator: Client, acme: Tenant
) -> None:
    agent = agent_create(tenant=acme, slug="support", name="Support", model="demo")

    response = operator.post(
        reverse("admin:hosted_agents_agentcapabilities_add"),
        {
            "tenant": acme.pk, "agent": agent.pk, "mcp_servers": "[]", "guardrails": "{}",
            "handoffs": "[]", "hosted_tools": json.dumps([{"type": "web_search"}]),
        },
    )  # fmt: skip

    assert response.status_code == 200
    assert "need a provider on the Responses API" in response.content.decode()
    assert not AgentCapabilities.objects.for_tenant(acme).exists()
