"""Remote MCP servers: registered per tenant, listed, frozen at publish, called in a run
through PlatformChatKitServer.process() on the OpenAI stub, against a real MCP server on a
loopback port."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async

from hosted_agents.capabilities.selectors import mcp_server_headers
from hosted_agents.capabilities.services import (
    agent_capabilities_set,
    mcp_server_create,
    mcp_server_delete,
    mcp_server_refresh_tools,
)
from hosted_agents.exceptions import InvalidInput, ObjectNotFound
from hosted_agents.models import Agent, AgentCapabilities, McpServer
from hosted_agents.services import agent_create, agent_publish
from tenants.models import AuditEvent, Tenant
from tests.hosted_agents.capabilities.conftest import LoopbackMcp
from tests.hosted_agents.test_runtime import (
    assistant_text,
    chat_for,
    errors,
    make_credential,
    no_platform_key,
    openai_stub,
)
from tests.support.openai_stub import FunctionCall, OpenAIStub

__all__ = ["no_platform_key", "openai_stub"]

SECRET = "Bearer mcp-secret-abcdef123456"


def weather_server(tenant: Tenant, mcp: LoopbackMcp, transport: str) -> McpServer:
    server = mcp_server_create(
        tenant=tenant,
        name="weather",
        url=mcp.url(transport),
        transport=transport,
        headers={"Authorization": SECRET},
        time_limit_seconds=10,
    )
    return mcp_server_refresh_tools(tenant=tenant, server_id=server.pk)


def agent_using(
    tenant: Tenant, base_url: str | None, server: McpServer, allowed: list[str]
) -> Agent:
    """Publish an agent allowed `allowed` of `server`'s tools; its model is the stub at
    `base_url` through a tenant credential, or (None) the operator's own base URL."""
    credential = make_credential(tenant, base_url) if base_url is not None else None
    agent = agent_create(
        tenant=tenant, slug="support", name="Support", model="gpt-4.1",
        provider_credential_id=credential.pk if credential is not None else None,
    )  # fmt: skip
    agent_capabilities_set(
        tenant=tenant,
        agent_id=agent.pk,
        changes={"mcp_servers": [{"server_id": server.pk, "allowed_tools": allowed}]},
    )
    agent_publish(tenant=tenant, agent_id=agent.pk)
    agents = Agent.objects.for_tenant(tenant).select_related("tenant", "published_version")
    return agents.get(pk=agent.pk)


def tool_output_sent(stub: OpenAIStub, call: FunctionCall) -> str:
    [output] = [
        item["output"]
        for item in stub.last_request.body["input"]
        if item.get("type") == "function_call_output" and item["call_id"] == call.call_id
    ]
    return str(output)


# --------------------------------------------------------------------------- services


@pytest.mark.parametrize("mcp_transport", ["streamable_http", "sse"], indirect=True)
def test_refreshing_lists_the_tools_of_a_real_server_with_the_secret_headers(
    acme: Tenant, loopback_mcp: LoopbackMcp, mcp_transport: str, settings: Any
) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = True

    server = weather_server(acme, loopback_mcp, mcp_transport)

    assert server.tool_names == ["forecast", "delete_everything"]
    [forecast, _] = server.tools
    assert forecast["description"] == "Tomorrow's forecast for a city."
    assert forecast["input_schema"]["required"] == ["city"]
    assert server.tools_fetched_at is not None and server.tools_error == ""
    assert all(seen.get("authorization") == SECRET for seen in loopback_mcp.seen_headers)
    assert loopback_mcp.seen_headers
    # At rest: ciphertext and a hint only.
    stored = McpServer.objects.for_tenant(acme).values().get(pk=server.pk)
    assert "mcp-secret" not in json.dumps(stored, default=str)
    assert server.header_hints == {"Authorization": "Bea...3456"}
    assert mcp_server_headers(tenant=acme, server_id=server.pk) == {"Authorization": SECRET}


def test_refreshing_a_private_target_is_refused_without_the_operator_setting(
    acme: Tenant, loopback_mcp: LoopbackMcp, settings: Any
) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = False
    server = mcp_server_create(tenant=acme, name="weather", url=loopback_mcp.url())

    with pytest.raises(InvalidInput, match="not a public address"):
        mcp_server_refresh_tools(tenant=acme, server_id=server.pk)

    assert loopback_mcp.seen_headers == []  # nothing was sent
    refreshed = McpServer.objects.for_tenant(acme).get(pk=server.pk)
    assert (refreshed.tools, "not a public address" in refreshed.tools_error) == ([], True)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"url": "ftp://example.com/mcp"}, "http"),
        ({"url": "https://user:pw@example.com/mcp"}, "credentials"),
        ({"transport": "stdio"}, "transport"),
        ({"time_limit_seconds": 600}, "0.5 to 60"),
        ({"name": "no spaces please"}, "letters"),
        ({"headers": {"Host": "evil"}}, "set by the platform"),
    ],
)
def test_a_bad_server_definition_is_refused(
    acme: Tenant, changes: dict[str, Any], message: str
) -> None:
    fields: dict[str, Any] = {"name": "weather", "url": "https://mcp.example.com/mcp"} | changes
    with pytest.raises(InvalidInput, match=message):
        mcp_server_create(tenant=acme, **fields)
    assert not McpServer.objects.for_tenant(acme).exists()


def test_another_tenants_server_answers_like_a_missing_one(acme: Tenant, globex: Tenant) -> None:
    theirs = mcp_server_create(tenant=globex, name="weather", url="https://mcp.example.com/mcp")
    agent = agent_create(tenant=acme, slug="support", name="Support")

    with pytest.raises(InvalidInput, match=f"no such MCP server: {theirs.pk}"):
        agent_capabilities_set(
            tenant=acme,
            agent_id=agent.pk,
            changes={"mcp_servers": [{"server_id": theirs.pk, "allowed_tools": []}]},
        )
    with pytest.raises(ObjectNotFound):
        mcp_server_refresh_tools(tenant=acme, server_id=theirs.pk)
    with pytest.raises(ObjectNotFound):
        mcp_server_headers(tenant=acme, server_id=theirs.pk)
    with pytest.raises(ObjectNotFound):
        mcp_server_delete(tenant=acme, server_id=theirs.pk)
    assert not AgentCapabilities.objects.for_tenant(acme).exists()


def test_publish_freezes_the_allowed_tools_and_refuses_one_the_server_does_not_list(
    acme: Tenant, loopback_mcp: LoopbackMcp, openai_stub: OpenAIStub, settings: Any
) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = True
    server = weather_server(acme, loopback_mcp, "streamable_http")

    agent = agent_using(acme, openai_stub.base_url, server, ["forecast"])

    [frozen] = agent.published_version.config["capabilities"]["mcp_servers"]
    assert (frozen["id"], frozen["url"], frozen["transport"]) == (
        server.pk, loopback_mcp.url(), "streamable_http",
    )  # fmt: skip
    assert [tool["name"] for tool in frozen["tools"]] == ["forecast"]
    assert "mcp-secret" not in json.dumps(agent.published_version.config)
    agent_capabilities_set(
        tenant=acme,
        agent_id=agent.pk,
        changes={"mcp_servers": [{"server_id": server.pk, "allowed_tools": ["rain"]}]},
    )
    with pytest.raises(InvalidInput, match="does not list a tool 'rain'"):
        agent_publish(tenant=acme, agent_id=agent.pk)
    assert (
        Agent.objects.for_tenant(acme).get(pk=agent.pk).published_version_id
        == agent.published_version.pk
    )
    assert AuditEvent.objects.for_tenant(acme).filter(action="agent.set_capabilities").exists()


def test_deleting_a_server_removes_it_from_drafts(acme: Tenant) -> None:
    server = mcp_server_create(tenant=acme, name="weather", url="https://mcp.example.com/mcp")
    agent = agent_create(tenant=acme, slug="support", name="Support")
    agent_capabilities_set(
        tenant=acme,
        agent_id=agent.pk,
        changes={"mcp_servers": [{"server_id": server.pk, "allowed_tools": []}]},
    )

    mcp_server_delete(tenant=acme, server_id=server.pk)

    assert AgentCapabilities.objects.for_tenant(acme).get(agent_id=agent.pk).mcp_servers == []


# --------------------------------------------------------------------------- in a run


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mcp_transport", ["streamable_http", "sse"], indirect=True)
async def test_the_model_calls_an_allowed_mcp_tool_and_gets_its_result(
    acme: Tenant,
    loopback_mcp: LoopbackMcp,
    mcp_transport: str,
    openai_stub: OpenAIStub,
    settings: Any,
) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = True
    server = await database_sync_to_async(weather_server)(acme, loopback_mcp, mcp_transport)
    agent = await database_sync_to_async(agent_using)(
        acme, openai_stub.base_url, server, ["forecast"]
    )
    call = FunctionCall("forecast", {"city": "Oslo"})
    openai_stub.add(call)
    openai_stub.add("Sunny tomorrow.")

    events = await chat_for(agent).create("Weather in Oslo tomorrow?")

    assert assistant_text(events) == "Sunny tomorrow."
    offered = [tool["name"] for tool in openai_stub.requests[0].body["tools"]]
    assert offered == ["forecast"]  # delete_everything is not on the allowlist
    assert "Sunny with 21 degrees in Oslo" in tool_output_sent(openai_stub, call)
    assert loopback_mcp.calls == [("forecast", {"city": "Oslo"})]
    assert loopback_mcp.seen_headers[-1]["authorization"] == SECRET


@pytest.mark.django_db(transaction=True)
async def test_a_tool_outside_the_allowlist_is_not_run_even_if_the_model_asks(
    acme: Tenant, loopback_mcp: LoopbackMcp, openai_stub: OpenAIStub, settings: Any
) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = True
    server = await database_sync_to_async(weather_server)(acme, loopback_mcp, "streamable_http")
    agent = await database_sync_to_async(agent_using)(
        acme, openai_stub.base_url, server, ["forecast"]
    )
    openai_stub.add(FunctionCall("delete_everything", {}))
    openai_stub.add("Done.")

    await chat_for(agent).create("Delete everything")

    assert loopback_mcp.calls == []


@pytest.mark.django_db(transaction=True)
async def test_a_private_mcp_target_is_refused_in_a_run_without_the_operator_setting(
    acme: Tenant, loopback_mcp: LoopbackMcp, openai_stub: OpenAIStub, settings: Any
) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = True
    # The operator's own base URL is trusted as configured: the model stays reachable while
    # the tenant's private targets are refused.
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "sk-operator", openai_stub.base_url
    server = await database_sync_to_async(weather_server)(acme, loopback_mcp, "streamable_http")
    agent = await database_sync_to_async(agent_using)(acme, None, server, ["forecast"])
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = False
    requests_before = len(loopback_mcp.seen_headers)
    call = FunctionCall("forecast", {"city": "Oslo"})
    openai_stub.add(call)
    openai_stub.add("I could not check.")

    events = await chat_for(agent).create("Weather in Oslo?")

    assert not errors(events)
    assert assistant_text(events) == "I could not check."
    assert "not a public address" in tool_output_sent(openai_stub, call)
    assert len(loopback_mcp.seen_headers) == requests_before
    assert loopback_mcp.calls == []


@pytest.mark.django_db(transaction=True)
async def test_the_demo_model_calls_an_mcp_tool_on_a_local_server(
    acme: Tenant, loopback_mcp: LoopbackMcp, settings: Any
) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = True

    @database_sync_to_async
    def demo_agent() -> Agent:
        server = weather_server(acme, loopback_mcp, "streamable_http")
        agent = agent_create(tenant=acme, slug="demo", name="Demo", model="demo")
        agent_capabilities_set(
            tenant=acme,
            agent_id=agent.pk,
            changes={"mcp_servers": [{"server_id": server.pk, "allowed_tools": ["forecast"]}]},
        )
        agent_publish(tenant=acme, agent_id=agent.pk)
        return Agent.objects.for_tenant(acme).select_related("tenant").get(pk=agent.pk)

    events = await chat_for(await demo_agent()).create("forecast city: Bergen")

    assert not errors(events)
    assert [name for name, _ in loopback_mcp.calls] == ["forecast"]
    assert "Sunny with 21 degrees in" in assistant_text(events)


@pytest.mark.django_db(transaction=True)
async def test_an_mcp_tool_on_the_approval_list_waits_for_the_end_users_approve(
    acme: Tenant, loopback_mcp: LoopbackMcp, openai_stub: OpenAIStub, settings: Any
) -> None:
    from tests.hosted_agents.test_runtime_approvals import approval_widget_of, click

    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = True

    def asking() -> Agent:
        server = weather_server(acme, loopback_mcp, "streamable_http")
        agent = agent_create(
            tenant=acme, slug="support", name="Support", model="gpt-4.1",
            provider_credential_id=make_credential(acme, openai_stub.base_url).pk,
        )  # fmt: skip
        agent_capabilities_set(
            tenant=acme,
            agent_id=agent.pk,
            changes={
                "mcp_servers": [
                    {
                        "server_id": server.pk,
                        "allowed_tools": ["forecast"],
                        "approval_tools": ["forecast"],
                    }
                ]
            },
        )
        agent_publish(tenant=acme, agent_id=agent.pk)
        agents = Agent.objects.for_tenant(acme).select_related("tenant", "published_version")
        return agents.get(pk=agent.pk)

    agent = await database_sync_to_async(asking)()
    call = FunctionCall("forecast", {"city": "Oslo"})
    openai_stub.add(call)

    paused = await chat_for(agent).create("Weather in Oslo tomorrow?")

    widget = approval_widget_of(paused)
    assert "forecast" in json.dumps(widget["widget"]) and "Oslo" in json.dumps(widget["widget"])
    assert loopback_mcp.calls == []  # not called before the end user says so
    openai_stub.add("Sunny tomorrow.")

    events = await click(agent, paused[0]["thread"]["id"], widget, "Approve")

    assert errors(events) == []
    assert assistant_text(events) == "Sunny tomorrow."
    assert loopback_mcp.calls == [("forecast", {"city": "Oslo"})]
    assert "Sunny with 21 degrees in Oslo" in tool_output_sent(openai_stub, call)
