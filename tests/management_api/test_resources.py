"""Tools, provider credentials, API keys, allowed origins, feedback, audit and usage."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import httpx
import pytest

from hosted_agents.models import Agent, UsageDaily
from tenants.models import ApiKey, Tenant
from tests.management_api.conftest import assert_error, seed

pytestmark = pytest.mark.live


def test_http_tools_keep_headers_write_only(acme_api: httpx.Client) -> None:
    body = {"name": "crm", "description": "Look up", "url_template": "http://127.0.0.1:9/c",
            "headers": {"Authorization": "Bearer sk-very-secret-1234"}}  # fmt: skip
    created = acme_api.post("/tools/http", json=body)
    assert created.status_code == 201, created.text
    assert "sk-very-secret" not in created.text
    assert set(created.json()["header_hints"]) == {"Authorization"}
    tool_id = created.json()["id"]
    etag = acme_api.get(f"/tools/http/{tool_id}").headers["etag"]
    changed = acme_api.patch(
        f"/tools/http/{tool_id}", json={"description": "CRM"}, headers={"If-Match": etag}
    )
    assert changed.json()["description"] == "CRM"
    stale = acme_api.patch(f"/tools/http/{tool_id}", json={"name": "x"}, headers={"If-Match": etag})
    assert_error(stale, 412)
    assert_error(acme_api.patch(f"/tools/http/{tool_id}", json={"name": None}), 400)
    assert acme_api.delete(f"/tools/http/{tool_id}").json()["deleted"] is True


def test_client_and_code_tools(acme_api: httpx.Client) -> None:
    created = acme_api.post("/tools/client", json={"name": "pick", "description": "Pick"})
    assert created.status_code == 201
    assert [t["name"] for t in acme_api.get("/tools/client").json()["data"]] == ["pick"]
    code = acme_api.get("/tools/code").json()
    assert all(t["object"] == "tool.code" for t in code["data"])
    assert acme_api.post("/tools/code", json={}).status_code == 405


def test_credentials_hide_the_secret_and_test_the_connection(
    acme_api: httpx.Client, live_server: Any
) -> None:
    body = {"name": "gw", "kind": "openai_compatible", "secret": "sk-gateway-98765",
            "base_url": f"{live_server.url}/v1"}  # fmt: skip
    created = acme_api.post("/provider-credentials", json=body, headers={"Idempotency-Key": "c1"})
    assert created.status_code == 201, created.text
    assert "sk-gateway" not in created.text and created.json()["secret_hint"]
    again = acme_api.post("/provider-credentials", json=body, headers={"Idempotency-Key": "c1"})
    assert again.json() == created.json()
    credential_id = created.json()["id"]
    # The platform's own /v1/models does not exist: the provider answered, with a 404.
    tested = acme_api.post(f"/provider-credentials/{credential_id}/test").json()
    assert tested["ok"] is False and tested["reason"] == "http_404"
    acme_api.patch(
        f"/provider-credentials/{credential_id}", json={"base_url": "http://127.0.0.1:9/v1"}
    )
    unreachable = acme_api.post(f"/provider-credentials/{credential_id}/test").json()
    assert unreachable["reason"] == "unreachable"


def test_api_keys_show_the_secret_once_and_revoke(
    acme_api: httpx.Client, api_with: Any, acme: Tenant
) -> None:
    created = acme_api.post("/api-keys", json={"name": "ci", "scopes": ["management:read"]})
    assert created.status_code == 201, created.text
    raw, key_id = created.json()["key"], created.json()["id"]
    listed = acme_api.get("/api-keys").json()["data"]
    assert raw not in json.dumps(listed) and key_id in [k["id"] for k in listed]
    ci = api_with(raw)
    assert ci.get("/agents").status_code == 200
    assert acme_api.post(f"/api-keys/{key_id}/revoke").json()["revoked_at"] is not None
    assert_error(ci.get("/agents"), 401)
    assert ApiKey.objects.for_tenant(acme).get(pk=key_id).revoked_at is not None


def test_allowed_origins_are_normalised_and_guarded_by_if_match(acme_api: httpx.Client) -> None:
    first = acme_api.get("/allowed-origins")
    assert first.json()["origins"] == []
    put = acme_api.put(
        "/allowed-origins",
        json={"origins": ["https://App.example.com/"]},
        headers={"If-Match": first.headers["etag"]},
    )
    assert put.json()["origins"] == ["https://app.example.com"]
    stale = acme_api.put(
        "/allowed-origins", json={"origins": []}, headers={"If-Match": first.headers["etag"]}
    )
    assert_error(stale, 412)
    assert_error(acme_api.put("/allowed-origins", json={"origins": ["not an origin"]}), 400)


def test_feedback_audit_and_usage(acme_api: httpx.Client, acme: Tenant) -> None:
    seed(acme)
    feedback = acme_api.get("/feedback", params={"kind": "positive"}).json()["data"]
    assert [f["thread"] for f in feedback] == ["thr_seed"]
    assert acme_api.get("/feedback", params={"kind": "negative"}).json()["data"] == []
    acme_api.post("/agents", json={"slug": "x", "name": "X"})
    events = acme_api.get("/audit-events", params={"actor_kind": "api_key"}).json()["data"]
    assert [e["action"] for e in events] == ["agent.create"]
    exported = acme_api.get("/audit-events/export", params={"action": "agent.publish"}).text
    assert [json.loads(line)["action"] for line in exported.splitlines()] == ["agent.publish"] * 2
    agent = Agent.objects.for_tenant(acme).get(slug="support")
    UsageDaily(tenant=acme, agent=agent, day=date(2026, 11, 2), runs=3, input_tokens=30,
               output_tokens=12).save()  # fmt: skip
    window = {"since": "2026-11-01", "until": "2026-11-30"}
    by_day = acme_api.get("/usage", params=window).json()["data"]
    assert by_day == [{"day": "2026-11-02", "agent": None, "user": None, "runs": 3,
                       "input_tokens": 30, "output_tokens": 12, "threads": None,
                       "items": None}]  # fmt: skip
    by_agent = acme_api.get("/usage", params={**window, "group_by": "agent"}).json()["data"]
    assert by_agent[0]["agent"] == "support" and by_agent[0]["runs"] == 3
    by_user = acme_api.get("/usage", params={**window, "group_by": "end_user"}).json()["data"]
    assert by_user[0]["user"] == "user-1" and by_user[0]["threads"] == 1
    assert_error(acme_api.get("/usage", params={"since": "2026-12-01", "until": "2026-11-01"}), 400)
