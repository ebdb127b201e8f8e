"""An agent's capabilities over /api/v1/agents/{slug}/capabilities: GET, PUT and PATCH of
the draft, frozen into the version at publish; refusals from the shape and from the domain
rules, all or nothing; If-Match; scopes; another tenant's agent, server and handoff target
answer like missing ones; the audit trail."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from hosted_agents.models import AgentCapabilities
from tenants.models import AuditEvent, Tenant
from tests.hosted_agents.capabilities.conftest import LoopbackMcp, loopback_mcp, mcp_transport
from tests.management_api.conftest import Seeded, assert_error, seed

__all__ = ["loopback_mcp", "mcp_transport"]

pytestmark = pytest.mark.live

URL = "/agents/support/capabilities"


def _billing(api: httpx.Client, seeded: Seeded, publish: bool = True) -> None:
    """Give the tenant a second agent on the same credential, a handoff target."""
    created = api.post("/agents", json={"slug": "billing", "name": "Billing",
                                        "provider_credential_id": seeded.credential})  # fmt: skip
    assert created.status_code == 201, created.text
    if publish:
        assert api.post("/agents/billing/publish", json={}).status_code == 201


def _weather(api: httpx.Client, mcp: LoopbackMcp) -> int:
    server_id: int = api.post("/mcp-servers", json={"name": "forecasts", "url": mcp.url()}).json()[
        "id"
    ]
    assert api.post(f"/mcp-servers/{server_id}/refresh-tools").status_code == 200
    return server_id


def _everything(server_id: int) -> dict[str, Any]:
    return {
        "mcp_servers": [{"server_id": server_id, "allowed_tools": ["forecast"],
                         "approval_tools": ["forecast"]}],
        "guardrails": {
            "input": [{"kind": "pii", "action": "redact", "types": ["email"]}],
            "output": [{"kind": "blocklist", "patterns": ["(?i)password"]}],
            "message": "Not that, sorry.",
        },
        "hosted_tools": [{"type": "web_search", "search_context_size": "low"}],
        "handoffs": [{"agent": "billing", "description": "Questions about invoices"}],
        "tool_approvals": {"weather": "ask", "pick": "auto"},
    }  # fmt: skip


def _events(tenant: Tenant) -> list[str]:
    rows = AuditEvent.objects.for_tenant(tenant).filter(action__startswith="agent.")
    return list(rows.order_by("pk").values_list("action", flat=True))


def test_capabilities_are_put_read_back_and_frozen_into_the_published_version(
    acme_api: httpx.Client, acme: Tenant, loopback_mcp: LoopbackMcp
) -> None:
    seeded = seed(acme)
    _billing(acme_api, seeded)
    server_id = _weather(acme_api, loopback_mcp)
    empty = acme_api.get(URL)
    assert empty.status_code == 200, empty.text
    assert empty.json() == {
        "object": "agent.capabilities", "agent": "support", "mcp_servers": [], "guardrails": {},
        "hosted_tools": [], "handoffs": [], "tool_approvals": {}, "updated_at": None,
    }  # fmt: skip
    before = len(_events(acme))
    put = acme_api.put(
        URL, json=_everything(server_id), headers={"If-Match": empty.headers["etag"]}
    )
    assert put.status_code == 200, put.text
    shown = put.json()
    assert shown["mcp_servers"] == _everything(server_id)["mcp_servers"]
    assert shown["guardrails"]["input"] == [{"kind": "pii", "action": "redact", "types": ["email"]}]
    assert shown["guardrails"]["message"] == "Not that, sorry."
    assert shown["handoffs"] == [{"agent": "billing", "description": "Questions about invoices"}]
    assert shown["tool_approvals"] == {"weather": "ask"}  # "auto" is the default, not kept
    assert shown["updated_at"] is not None
    assert put.headers["etag"] != empty.headers["etag"]
    assert acme_api.get(URL).json() == shown
    stale = acme_api.patch(
        URL, json={"hosted_tools": []}, headers={"If-Match": empty.headers["etag"]}
    )
    assert assert_error(stale, 412)["code"] == "precondition_failed"
    assert _events(acme)[before:] == ["agent.update", "agent.set_capabilities"]
    event = AuditEvent.objects.for_tenant(acme).filter(action="agent.set_capabilities").get()
    assert event.actor_kind == "api_key" and event.after["hosted_tools"] == [
        {"type": "web_search", "search_context_size": "low"}
    ]
    # The same document again changes nothing and leaves no trace.
    again = acme_api.put(
        URL, json=_everything(server_id), headers={"If-Match": put.headers["etag"]}
    )
    assert again.json() == shown and len(_events(acme)) == before + 2

    published = acme_api.post("/agents/support/publish", json={})
    assert published.status_code == 201, published.text
    number = published.json()["number"]
    config = acme_api.get(f"/agents/support/versions/{number}").json()["config"]
    frozen = config["capabilities"]
    [server] = frozen["mcp_servers"]
    assert server["id"] == server_id and [t["name"] for t in server["tools"]] == ["forecast"]
    assert server["approval_tools"] == ["forecast"] and "headers" not in str(server)
    assert frozen["guardrails"] == shown["guardrails"]
    assert frozen["hosted_tools"] == shown["hosted_tools"]
    assert [(h["slug"], h["tool_name"]) for h in frozen["handoffs"]] == [
        ("billing", "transfer_to_billing")
    ]
    assert {t["name"]: t.get("approval") for t in config["tools"]} == {"weather": "ask",
                                                                       "pick": None}  # fmt: skip
    # The version before has none: capabilities are versioned with the agent.
    assert "capabilities" not in acme_api.get("/agents/support/versions/1").json()["config"]
    diff = acme_api.get(f"/agents/support/versions/1/diff/{number}").json()["changes"]
    [change] = [c for c in diff if c["field"] == "capabilities"]
    assert change["before"] is None and change["after"] == frozen


def test_patch_changes_only_the_parts_sent(acme_api: httpx.Client, acme: Tenant) -> None:
    seed(acme)
    guardrails = {"input": [{"kind": "blocklist", "patterns": ["secret"]}]}
    first = acme_api.patch(URL, json={"guardrails": guardrails})
    assert first.status_code == 200, first.text
    assert first.json()["guardrails"]["message"] == "Sorry, I can't help with that."
    second = acme_api.patch(URL, json={"hosted_tools": [{"type": "code_interpreter"}]})
    assert second.json()["hosted_tools"] == [{"type": "code_interpreter"}]
    assert second.json()["guardrails"] == first.json()["guardrails"]
    assert acme_api.patch(URL, json={}).json() == second.json()
    nulled = assert_error(acme_api.patch(URL, json={"guardrails": None}), 400)
    assert "'guardrails' may be left out but not null" in nulled["message"]
    cleared = acme_api.put(URL, json={})
    assert cleared.json()["guardrails"] == {} and cleared.json()["hosted_tools"] == []


BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"mcp_servers": [{"server_id": 999999}]}, "mcp_servers", "no such MCP server: 999999"),
    ({"mcp_servers": [{"server_id": "SERVER", "approval_tools": ["x"]}]}, "mcp_servers",
     "a tool needing approval must also be allowed"),
    ({"guardrails": {"output": [{"kind": "pii", "action": "redact"}]}}, "guardrails",
     "pii action on output must be block or redact"),
    ({"guardrails": {"input": [{"kind": "blocklist", "patterns": ["("]}]}}, "guardrails",
     "bad pattern"),
    ({"guardrails": {"input": [{"kind": "telepathy"}]}}, "guardrails.input.0", "telepathy"),
    ({"guardrails": {"input": [{"kind": "moderation"}]}}, "guardrails",
     "the moderation check needs OpenAI as the provider"),
    ({"hosted_tools": [{"type": "web_search"}, {"type": "web_search"}]}, "hosted_tools",
     "each hosted tool may be chosen once"),
    ({"hosted_tools": [{"type": "file_search", "vector_store_ids": []}]},
     "hosted_tools.0.file_search.vector_store_ids", "at least 1"),
    ({"handoffs": [{"agent": "nobody", "description": "d"}]}, "handoffs.0.agent",
     "no agent is named 'nobody'"),
    ({"handoffs": [{"agent": "billing", "description": "d"}]}, "handoffs",
     "agent billing is not published: publish it first"),
    ({"handoffs": [{"agent": "support", "description": "d"}]}, "handoffs",
     "an agent cannot hand off to itself"),
    ({"tool_approvals": {"pick": "ask"}}, "tool_approvals", "a client tool runs in the browser"),
    ({"tool_approvals": {"weather": "sometimes"}}, "tool_approvals.weather", "auto"),
    ({"mcp_servers": [], "colour": "blue"}, "colour", "Unknown parameter"),
]  # fmt: skip


def test_invalid_capabilities_answer_400_on_the_part_and_write_nothing(
    acme_api: httpx.Client, acme: Tenant
) -> None:
    seeded = seed(acme)
    _billing(acme_api, seeded, publish=False)
    before = _events(acme)
    for body, param, words in BAD:
        if body.get("mcp_servers") and body["mcp_servers"][0]["server_id"] == "SERVER":
            body = {"mcp_servers": [{**body["mcp_servers"][0], "server_id": seeded.mcp_server}]}
        # A valid part beside the bad one is not written either: all or nothing.
        document = {"tool_approvals": {"weather": "ask"}, **body}
        for method in ("PUT", "PATCH"):
            refused = acme_api.request(method, URL, json=document)
            error = assert_error(refused, 400)
            assert error["param"] == param, (body, refused.text)
            assert words in error["message"], (body, error["message"])
    assert _events(acme) == before
    assert not AgentCapabilities.objects.for_tenant(acme).exists()
    assert acme_api.get(URL).json()["tool_approvals"] == {}


def test_a_read_key_reads_capabilities_and_cannot_change_them(
    acme_api: httpx.Client, acme_read_api: httpx.Client, acme_chat_api: httpx.Client, acme: Tenant
) -> None:
    seed(acme)
    assert acme_read_api.get(URL).status_code == 200
    body = {"hosted_tools": [{"type": "image_generation"}]}
    assert assert_error(acme_read_api.put(URL, json=body), 401)["code"] == "invalid_api_key"
    assert assert_error(acme_read_api.patch(URL, json=body), 401)["code"] == "invalid_api_key"
    assert assert_error(acme_chat_api.get(URL), 401)["code"] == "invalid_api_key"
    assert acme_api.get(URL).json()["hosted_tools"] == []


def test_another_tenants_agent_server_and_handoff_target_answer_like_missing_ones(
    acme_api: httpx.Client, globex_api: httpx.Client, acme: Tenant, globex: Tenant
) -> None:
    acme_objects = seed(acme)
    _billing(acme_api, acme_objects)
    seed(globex, prefix="g-")
    body = {"hosted_tools": [{"type": "image_generation"}]}
    for method in ("GET", "PUT", "PATCH"):
        theirs = globex_api.request(method, URL, json=None if method == "GET" else body)
        absent = globex_api.request(method, "/agents/nobody/capabilities",
                                    json=None if method == "GET" else body)  # fmt: skip
        assert assert_error(theirs, 404)["message"] == "No agent found with id 'support'."
        assert assert_error(absent, 404)["message"] == "No agent found with id 'nobody'."
    own = "/agents/g-support/capabilities"
    server = {"mcp_servers": [{"server_id": acme_objects.mcp_server}]}
    refused = assert_error(globex_api.put(own, json=server), 400)["message"]
    assert (
        refused
        == f"Invalid value for 'mcp_servers': no such MCP server: {acme_objects.mcp_server}."
    )
    handoff = {"handoffs": [{"agent": "billing", "description": "Invoices"}]}
    missing = {"handoffs": [{"agent": "nobody", "description": "Invoices"}]}
    theirs_message = assert_error(globex_api.put(own, json=handoff), 400)["message"]
    absent_message = assert_error(globex_api.put(own, json=missing), 400)["message"]
    assert theirs_message.replace("'billing'", "'nobody'") == absent_message
    assert not AgentCapabilities.objects.for_tenant(acme).exists()
    assert not AgentCapabilities.objects.for_tenant(globex).exists()
