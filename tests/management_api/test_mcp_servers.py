"""MCP servers over /api/v1/: create, list, read, update with If-Match, delete; headers
write-only; refreshing the tools of a real MCP server on loopback, a refused private target
and a server that is down; scopes, another tenant, the audit trail."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from hosted_agents.models import McpServer
from tenants.models import AuditEvent, IdempotencyKey, Tenant
from tests.hosted_agents.capabilities.conftest import LoopbackMcp, loopback_mcp, mcp_transport
from tests.management_api.conftest import assert_error
from tests.support.live_server import free_port

__all__ = ["loopback_mcp", "mcp_transport"]

pytestmark = pytest.mark.live

SECRET = "Bearer mcp-secret-abcdef123456"


def _create(api: httpx.Client, url: str = "http://127.0.0.1:9/mcp", **fields: Any) -> Any:
    body = {"name": "weather", "url": url, "headers": {"Authorization": SECRET}, **fields}
    return api.post("/mcp-servers", json=body)


def test_a_server_is_created_read_updated_and_deleted_with_its_headers_write_only(
    acme_api: httpx.Client, acme: Tenant
) -> None:
    created = _create(acme_api, time_limit_seconds=5)
    assert created.status_code == 201, created.text
    server = created.json()
    assert server["header_names"] == ["Authorization"] and server["tools"] == []
    assert server["transport"] == "streamable_http" and server["time_limit_seconds"] == 5
    assert [s["id"] for s in acme_api.get("/mcp-servers").json()["data"]] == [server["id"]]
    read = acme_api.get(f"/mcp-servers/{server['id']}")
    assert read.json() == server
    etag = read.headers["etag"]
    changed = acme_api.patch(
        f"/mcp-servers/{server['id']}",
        json={"transport": "sse", "headers": {"X-Api-Key": "k-0987654321abcdef"}},
        headers={"If-Match": etag},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["transport"] == "sse"
    assert changed.json()["header_names"] == ["X-Api-Key"]
    stale = acme_api.patch(f"/mcp-servers/{server['id']}", json={"name": "x"},
                           headers={"If-Match": etag})  # fmt: skip
    assert assert_error(stale, 412)["code"] == "precondition_failed"
    assert_error(acme_api.patch(f"/mcp-servers/{server['id']}", json={"url": None}), 400)
    deleted = acme_api.delete(f"/mcp-servers/{server['id']}")
    assert deleted.json() == {"id": server["id"], "object": "mcp_server.deleted", "deleted": True}
    assert_error(acme_api.get(f"/mcp-servers/{server['id']}"), 404)
    events = AuditEvent.objects.for_tenant(acme).filter(action__startswith="mcp_server.")
    assert [e.action for e in events.order_by("pk")] == [
        "mcp_server.create", "mcp_server.update", "mcp_server.delete",
    ]  # fmt: skip
    assert {e.actor_kind for e in events} == {"api_key"}
    kept = " ".join(str(e.before) + str(e.after) for e in events)
    assert "mcp-secret" not in kept and "0987654321" not in kept


def test_refresh_lists_the_tools_of_a_real_server_sending_the_secret_header(
    acme_api: httpx.Client, acme: Tenant, loopback_mcp: LoopbackMcp
) -> None:
    server_id = _create(acme_api, url=loopback_mcp.url()).json()["id"]
    refreshed = acme_api.post(f"/mcp-servers/{server_id}/refresh-tools")
    assert refreshed.status_code == 200, refreshed.text
    tools = refreshed.json()["tools"]
    assert sorted(t["name"] for t in tools) == ["delete_everything", "forecast"]
    forecast = next(t for t in tools if t["name"] == "forecast")
    assert forecast["description"] == "Tomorrow's forecast for a city."
    assert "city" in forecast["input_schema"]["properties"]
    assert loopback_mcp.seen_headers
    assert all(seen.get("authorization") == SECRET for seen in loopback_mcp.seen_headers)
    shown = acme_api.get(f"/mcp-servers/{server_id}").json()
    assert shown["tools"] == tools and shown["tools_fetched_at"] is not None
    assert SECRET not in refreshed.text + str(shown)
    event = AuditEvent.objects.for_tenant(acme).get(action="mcp_server.refresh_tools")
    assert event.actor_kind == "api_key"
    assert sorted(event.after["tools"]) == ["delete_everything", "forecast"]


def test_refreshing_a_private_target_is_refused_without_the_operator_setting(
    acme_api: httpx.Client, loopback_mcp: LoopbackMcp, settings: Any
) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = False
    server_id = _create(acme_api, url=loopback_mcp.url()).json()["id"]
    refused = acme_api.post(f"/mcp-servers/{server_id}/refresh-tools")
    error = assert_error(refused, 400)
    assert error["param"] == "url" and "127.0.0.1" in error["message"]
    assert "Traceback" not in refused.text
    assert loopback_mcp.seen_headers == []  # nothing was sent to the private address
    assert acme_api.get(f"/mcp-servers/{server_id}").json()["tools"] == []


def test_refreshing_a_server_that_is_down_answers_502_and_keeps_the_reason(
    acme_api: httpx.Client, acme: Tenant
) -> None:
    server_id = _create(acme_api, url=f"http://127.0.0.1:{free_port()}/mcp").json()["id"]
    down = acme_api.post(f"/mcp-servers/{server_id}/refresh-tools")
    error = assert_error(down, 502)
    assert error["code"] == "mcp_server_unreachable"
    assert error["message"].startswith("Could not list the tools: weather:")
    shown = acme_api.get(f"/mcp-servers/{server_id}").json()
    assert shown["tools"] == [] and shown["tools_fetched_at"] is None
    assert shown["tools_error"]
    assert not AuditEvent.objects.for_tenant(acme).filter(action="mcp_server.refresh_tools")


def test_bad_definitions_are_refused_and_nothing_is_written(
    acme_api: httpx.Client, acme: Tenant
) -> None:
    assert assert_error(_create(acme_api, url="ftp://example.com/mcp"), 400)["param"] == "url"
    with_credentials = _create(acme_api, url="https://user:pw@example.com/mcp")
    assert assert_error(with_credentials, 400)["param"] == "url"
    bad_header = _create(acme_api, headers={"Bad Name": "x"})
    assert assert_error(bad_header, 400)["param"] == "headers"
    assert assert_error(_create(acme_api, transport="websocket"), 400)["param"] == "transport"
    too_slow = _create(acme_api, time_limit_seconds=600)
    assert assert_error(too_slow, 400)["param"] == "time_limit_seconds"
    assert not McpServer.objects.for_tenant(acme).exists()
    assert _create(acme_api).status_code == 201
    assert assert_error(_create(acme_api), 409)["message"].startswith("The MCP server 'weather'")
    assert McpServer.objects.for_tenant(acme).count() == 1


def test_a_create_with_an_idempotency_key_makes_one_server(
    acme_api: httpx.Client, acme: Tenant
) -> None:
    headers = {"Idempotency-Key": "mcp-1"}
    body = {"name": "weather", "url": "http://127.0.0.1:9/mcp", "headers": {"A": SECRET}}
    first = acme_api.post("/mcp-servers", json=body, headers=headers)
    again = acme_api.post("/mcp-servers", json=body, headers=headers)
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert McpServer.objects.for_tenant(acme).count() == 1
    assert "mcp-secret" not in str(IdempotencyKey.objects.for_tenant(acme).get().body)


def test_a_read_key_reads_and_a_chat_key_cannot_even_read(
    acme_api: httpx.Client, acme_read_api: httpx.Client, acme_chat_api: httpx.Client
) -> None:
    server_id = _create(acme_api).json()["id"]
    assert acme_read_api.get(f"/mcp-servers/{server_id}").status_code == 200
    for call in (
        lambda api: api.post("/mcp-servers", json={"name": "x", "url": "http://x.test/"}),
        lambda api: api.patch(f"/mcp-servers/{server_id}", json={"name": "x"}),
        lambda api: api.delete(f"/mcp-servers/{server_id}"),
        lambda api: api.post(f"/mcp-servers/{server_id}/refresh-tools"),
    ):
        assert assert_error(call(acme_read_api), 401)["code"] == "invalid_api_key"
    assert assert_error(acme_chat_api.get("/mcp-servers"), 401)["code"] == "invalid_api_key"
    assert acme_api.get(f"/mcp-servers/{server_id}").json()["name"] == "weather"


def test_another_tenants_server_answers_exactly_like_a_missing_one(
    acme_api: httpx.Client, globex_api: httpx.Client, acme: Tenant
) -> None:
    server_id = _create(acme_api).json()["id"]
    missing = server_id + 1000
    for method, suffix, body in (
        ("GET", "", None),
        ("PATCH", "", {"name": "stolen"}),
        ("DELETE", "", None),
        ("POST", "/refresh-tools", None),
    ):
        theirs = globex_api.request(method, f"/mcp-servers/{server_id}{suffix}", json=body)
        absent = globex_api.request(method, f"/mcp-servers/{missing}{suffix}", json=body)
        assert assert_error(theirs, 404)["message"] == f"No MCP server found with id '{server_id}'."
        assert assert_error(absent, 404)["message"] == f"No MCP server found with id '{missing}'."
    assert globex_api.get("/mcp-servers").json()["data"] == []
    assert McpServer.objects.for_tenant(acme).get(pk=server_id).name == "weather"
