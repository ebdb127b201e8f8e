"""The MCP servers section, through Django's test client, against a real MCP server on
loopback: adding a server fetches its tools, headers are write-only, refusals of the
address policy and dead servers are shown as errors, roles and other tenants' servers."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from django.urls import reverse

from hosted_agents.capabilities.selectors import mcp_server_headers
from hosted_agents.capabilities.services import (
    agent_capabilities_set,
    mcp_server_create,
    mcp_server_refresh_tools,
)
from hosted_agents.models import AgentCapabilities, McpServer
from hosted_agents.services import agent_create
from tenants.models import AuditEvent, Tenant
from tests.hosted_agents.capabilities.conftest import LoopbackMcp, loopback_mcp, mcp_transport

__all__ = ["loopback_mcp", "mcp_transport"]

pytestmark = pytest.mark.django_db

SECRET = "Bearer mcp-console-secret-0123456789"


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"console:{name}", kwargs={"tenant": "acme", **kwargs})


def signed_in(user: AbstractBaseUser) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin(acme_admin: AbstractBaseUser) -> Client:
    return signed_in(acme_admin)


@pytest.fixture
def viewer(acme_viewer: AbstractBaseUser) -> Client:
    return signed_in(acme_viewer)


def server_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "weather",
        "url": "https://mcp.example.com/mcp",
        "transport": "streamable_http",
        "headers": json.dumps({"Authorization": SECRET}),
        "time_limit_seconds": "5",
    }
    data.update(overrides)
    return data


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mcp"


def page_messages(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --------------------------------------------------------------------------- adding


def test_adding_a_server_encrypts_its_headers_and_fetches_its_tools(
    admin: Client, acme: Tenant, loopback_mcp: LoopbackMcp
) -> None:
    response = admin.post(url("mcp_server_new"), server_form(url=loopback_mcp.url()), follow=True)

    server = McpServer.objects.for_tenant(acme).get(name="weather")
    assert response.redirect_chain == [(url("mcp_server", mcp_server=server.pk), 302)]
    assert page_messages(response) == ["Added weather: it lists 2 tools."]
    assert server.tool_names == ["forecast", "delete_everything"]
    assert SECRET not in server.headers_encrypted
    assert mcp_server_headers(tenant=acme, server_id=server.pk) == {"Authorization": SECRET}
    assert any(seen.get("authorization") == SECRET for seen in loopback_mcp.seen_headers)
    page = response.content.decode()
    assert 'data-mcp-tool="forecast"' in page and "Tomorrow&#x27;s forecast" in page
    assert SECRET not in page
    assert "Authorization: Bea...6789" in page
    actions = AuditEvent.objects.for_tenant(acme).values_list("action", flat=True)
    assert {"mcp_server.create", "mcp_server.refresh_tools"} <= set(actions)


@pytest.mark.parametrize("mcp_transport", ["sse"], indirect=True)
def test_an_sse_server_is_reached_over_sse(
    admin: Client, acme: Tenant, loopback_mcp: LoopbackMcp
) -> None:
    response = admin.post(
        url("mcp_server_new"),
        server_form(url=loopback_mcp.url("sse"), transport="sse"),
        follow=True,
    )

    assert page_messages(response) == ["Added weather: it lists 2 tools."]
    assert McpServer.objects.for_tenant(acme).get().transport == "sse"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": "has space"}, "name", "letters, digits"),
        ({"url": "ftp://mcp.example.com/"}, "url", "http(s) URL"),
        ({"url": "https://user:pw@mcp.example.com/"}, "url", "credentials in the URL"),
        ({"transport": "websocket"}, "transport", "Select a valid choice"),
        ({"headers": "{not json"}, "headers", "not valid JSON"),
        ({"headers": '{"X-Key": 1}'}, "headers", "must be a string"),
        ({"headers": '{"Host": "evil.example"}'}, "headers", "set by the platform"),
        ({"time_limit_seconds": "99"}, "time_limit_seconds", "less than or equal to 60"),
    ],
)
def test_bad_servers_are_refused_on_their_field_and_nothing_is_saved(
    admin: Client, acme: Tenant, overrides: dict[str, Any], field: str, message: str
) -> None:
    response = admin.post(url("mcp_server_new"), server_form(**overrides))

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert message in " ".join(errors.get(field, [])), errors
    assert not McpServer.objects.for_tenant(acme).exists()
    assert not AuditEvent.objects.for_tenant(acme).filter(action__startswith="mcp").exists()


def test_a_taken_name_is_refused(admin: Client, acme: Tenant) -> None:
    mcp_server_create(tenant=acme, name="weather", url="https://one.example.com/mcp")

    response = admin.post(url("mcp_server_new"), server_form(url="https://two.example.com/mcp"))

    assert response.status_code == 400
    assert response.context["form"].errors["name"] == ["weather is taken: choose another."]
    assert McpServer.objects.for_tenant(acme).get().url == "https://one.example.com/mcp"


def test_a_private_target_is_saved_but_its_refusal_is_shown(
    admin: Client, acme: Tenant, loopback_mcp: LoopbackMcp, settings: Any
) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = False

    response = admin.post(url("mcp_server_new"), server_form(url=loopback_mcp.url()), follow=True)

    [message] = page_messages(response)
    assert message.startswith("Added weather, but its tools could not be listed:")
    assert "127.0.0.1, which is not a public address" in message
    assert loopback_mcp.seen_headers == []  # refused before any connection
    server = McpServer.objects.for_tenant(acme).get()
    assert server.tools == [] and server.tools_fetched_at is None
    assert "not a public address" in response.content.decode()  # the last refresh's error


# --------------------------------------------------------------------------- refreshing


def test_refresh_shows_the_servers_current_tools(
    admin: Client, acme: Tenant, loopback_mcp: LoopbackMcp
) -> None:
    server = mcp_server_create(tenant=acme, name="weather", url=loopback_mcp.url())

    response = admin.post(url("mcp_server_refresh", mcp_server=server.pk), follow=True)

    assert page_messages(response) == ["Refreshed weather: it lists 2 tools."]
    page = response.content.decode()
    assert page.count("data-mcp-tool=") == 2
    assert "&quot;city&quot;" in page  # the tool's argument schema


@pytest.mark.parametrize("private_allowed", [False, True], ids=["refused", "dead"])
def test_a_failed_refresh_is_shown_and_keeps_the_last_tool_list(
    admin: Client, acme: Tenant, loopback_mcp: LoopbackMcp, settings: Any, private_allowed: bool
) -> None:
    server = mcp_server_create(tenant=acme, name="weather", url=loopback_mcp.url())
    mcp_server_refresh_tools(tenant=acme, server_id=server.pk)
    # Refused by the address policy, or a server that is not there any more.
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = private_allowed
    target = closed_port_url() if private_allowed else loopback_mcp.url()
    McpServer.objects.for_tenant(acme).filter(pk=server.pk).update(url=target)

    response = admin.post(url("mcp_server_refresh", mcp_server=server.pk))

    assert response.status_code == 502
    page = response.content.decode()
    failure = page.split('class="form-errors refresh-failure" role="alert">')[1].split("</div>")[0]
    assert "Could not refresh the tools: could not list the tools: weather:" in failure
    expected = "Failed to connect" if private_allowed else "not a public address"
    assert expected in failure
    assert "Traceback" not in page
    assert page.count("data-mcp-tool=") == 2  # the list last fetched
    assert McpServer.objects.for_tenant(acme).get().tools_error


# --------------------------------------------------------------------------- editing


@pytest.fixture
def weather(acme: Tenant, loopback_mcp: LoopbackMcp) -> McpServer:
    server = mcp_server_create(
        tenant=acme, name="weather", url=loopback_mcp.url(), headers={"Authorization": SECRET}
    )
    return mcp_server_refresh_tools(tenant=acme, server_id=server.pk)


def test_the_edit_form_never_shows_the_header_values(admin: Client, weather: McpServer) -> None:
    page = admin.get(url("mcp_server_edit", mcp_server=weather.pk)).content.decode()

    assert SECRET not in page
    assert "Authorization: Bea...6789" in page
    assert 'value="weather"' in page


@pytest.mark.parametrize(
    ("headers", "clear", "expected"),
    [
        ("", False, {"Authorization": SECRET}),
        ('{"X-Api-Key": "k-0987654321"}', False, {"X-Api-Key": "k-0987654321"}),
        ("", True, {}),
    ],
    ids=["kept", "replaced", "removed"],
)
def test_editing_keeps_replaces_or_removes_the_headers(
    admin: Client,
    acme: Tenant,
    weather: McpServer,
    loopback_mcp: LoopbackMcp,
    headers: str,
    clear: bool,
    expected: dict[str, str],
) -> None:
    form = server_form(url=loopback_mcp.url(), headers=headers, time_limit_seconds="7")
    if clear:
        form["clear_headers"] = "on"

    response = admin.post(url("mcp_server_edit", mcp_server=weather.pk), form, follow=True)

    assert page_messages(response) == ["Saved weather: it lists 2 tools."]
    assert mcp_server_headers(tenant=acme, server_id=weather.pk) == expected
    assert McpServer.objects.for_tenant(acme).get().time_limit_seconds == 7.0
    assert AuditEvent.objects.for_tenant(acme).filter(action="mcp_server.update").count() == 1


def test_a_bad_edit_changes_nothing(admin: Client, acme: Tenant, weather: McpServer) -> None:
    response = admin.post(
        url("mcp_server_edit", mcp_server=weather.pk),
        server_form(url="not a url", headers='{"X-New": "v-123456789"}'),
    )

    assert response.status_code == 400
    assert "http(s) URL" in " ".join(response.context["form"].errors["url"])
    assert McpServer.objects.for_tenant(acme).get().url == weather.url
    assert mcp_server_headers(tenant=acme, server_id=weather.pk) == {"Authorization": SECRET}


def test_deleting_a_server_removes_it_from_agent_drafts(
    admin: Client, acme: Tenant, weather: McpServer
) -> None:
    agent = agent_create(tenant=acme, slug="helper", name="Helper")
    agent_capabilities_set(
        tenant=acme, agent_id=agent.pk,
        changes={"mcp_servers": [{"server_id": weather.pk, "allowed_tools": ["forecast"]}]},
    )  # fmt: skip

    response = admin.post(url("mcp_server_delete", mcp_server=weather.pk))

    assert response.status_code == 302 and response["Location"] == url("mcp_servers")
    assert not McpServer.objects.for_tenant(acme).exists()
    assert AgentCapabilities.objects.for_tenant(acme).get().mcp_servers == []
    assert AuditEvent.objects.for_tenant(acme).filter(action="mcp_server.delete").exists()


# --------------------------------------------------------------------------- the list


def test_the_list_shows_each_server_with_its_tools_and_users(
    viewer: Client, acme: Tenant, weather: McpServer
) -> None:
    mcp_server_create(tenant=acme, name="crm", url="https://crm.example.com/sse", transport="sse")
    agent = agent_create(tenant=acme, slug="helper", name="Helper")
    agent_capabilities_set(
        tenant=acme, agent_id=agent.pk,
        changes={"mcp_servers": [{"server_id": weather.pk, "allowed_tools": ["forecast"]}]},
    )  # fmt: skip

    page = viewer.get(url("mcp_servers")).content.decode()

    row = page.split('data-mcp-server="weather"')[1].split("</tr>")[0]
    assert weather.url in row and "Streamable HTTP" in row
    assert "<td data-tool-count>2</td>" in row
    assert "<time datetime=" in row and "Helper" in row
    crm = page.split('data-mcp-server="crm"')[1].split("</tr>")[0]
    assert "SSE" in crm and "<td data-tool-count>0</td>" in crm and "never" in crm
    assert SECRET not in page
    assert url("mcp_server_new") not in page  # a viewer gets no add button
    assert url("mcp_servers") in page.split('<nav class="sidebar"')[1]  # in the console's nav


def test_the_list_reads_a_fixed_number_of_statements(
    viewer: Client, acme: Tenant, django_assert_max_num_queries: Any
) -> None:
    for n in range(6):
        server = mcp_server_create(tenant=acme, name=f"s{n}", url=f"https://s{n}.example.com/")
        agent = agent_create(tenant=acme, slug=f"a{n}", name=f"A{n}")
        agent_capabilities_set(
            tenant=acme, agent_id=agent.pk,
            changes={"mcp_servers": [{"server_id": server.pk, "allowed_tools": []}]},
        )  # fmt: skip
    viewer.get(url("mcp_servers"))  # the session's first read

    # session, user, membership, the tenant switcher's memberships; capabilities rows with
    # their agents, servers: the same for 6 servers as for 1
    with django_assert_max_num_queries(6):
        response = viewer.get(url("mcp_servers"))
    assert response.content.decode().count("data-mcp-server=") == 6


def test_a_viewer_sees_a_server_without_controls(
    viewer: Client, acme: Tenant, weather: McpServer
) -> None:
    page = viewer.get(url("mcp_server", mcp_server=weather.pk)).content.decode()

    assert 'data-mcp-tool="forecast"' in page
    assert "data-edit-controls" not in page
    assert viewer.post(url("mcp_server_refresh", mcp_server=weather.pk)).status_code == 403
    assert viewer.post(url("mcp_server_delete", mcp_server=weather.pk)).status_code == 403
    assert McpServer.objects.for_tenant(acme).filter(pk=weather.pk).exists()


def test_another_tenants_server_is_not_found(
    globex: Tenant, globex_owner: AbstractBaseUser, weather: McpServer
) -> None:
    client = signed_in(globex_owner)
    theirs = {"tenant": "globex", "mcp_server": weather.pk}

    assert client.get(reverse("console:mcp_server", kwargs=theirs)).status_code == 404
    assert client.post(reverse("console:mcp_server_refresh", kwargs=theirs)).status_code == 404
    assert client.post(reverse("console:mcp_server_delete", kwargs=theirs)).status_code == 404
    edit = client.post(reverse("console:mcp_server_edit", kwargs=theirs), server_form())
    assert edit.status_code == 404
    assert McpServer.objects.for_tenant(weather.tenant_id).get().url == weather.url
