"""Agents over /api/v1/: create, update with If-Match, publish, versions, diff, rollback,
duplicate, delete; Idempotency-Key on creates; the audit trail names the key."""

from __future__ import annotations

import httpx
import pytest

from tenants.models import AuditEvent, Tenant
from tests.management_api.conftest import assert_error

pytestmark = pytest.mark.live


def _create(api: httpx.Client, slug: str = "helper", **fields: object) -> httpx.Response:
    return api.post("/agents", json={"slug": slug, "name": "Helper", **fields})


def test_an_agent_is_created_published_and_listed(acme_api: httpx.Client, acme: Tenant) -> None:
    created = _create(acme_api, instructions="Be brief.")
    assert created.status_code == 201, created.text
    assert created.json()["published_version"] is None
    published = acme_api.post("/agents/helper/publish", json={"note": "first"})
    assert published.status_code == 201, published.text
    assert published.json()["number"] == 1
    assert published.json()["config"]["instructions"] == "Be brief."
    listed = acme_api.get("/agents").json()
    assert [a["slug"] for a in listed["data"]] == ["helper"]
    assert listed["data"][0]["published_version"] == 1
    event = AuditEvent.objects.for_tenant(acme).filter(action="agent.publish").get()
    assert event.actor_kind == "api_key" and event.actor_label.startswith("api_key:")


def test_a_stale_if_match_answers_412_and_changes_nothing(acme_api: httpx.Client) -> None:
    _create(acme_api)
    first = acme_api.get("/agents/helper")
    etag = first.headers["etag"]
    ok = acme_api.patch("/agents/helper", json={"name": "One"}, headers={"If-Match": etag})
    assert ok.status_code == 200, ok.text
    assert ok.headers["etag"] != etag
    stale = acme_api.patch("/agents/helper", json={"name": "Two"}, headers={"If-Match": etag})
    assert assert_error(stale, 412)["code"] == "precondition_failed"
    assert acme_api.get("/agents/helper").json()["name"] == "One"


def test_an_idempotency_key_answers_the_first_result_and_refuses_another_body(
    acme_api: httpx.Client, acme: Tenant
) -> None:
    headers = {"Idempotency-Key": "deploy-42"}
    first = acme_api.post("/agents", json={"slug": "a", "name": "A"}, headers=headers)
    again = acme_api.post("/agents", json={"name": "A", "slug": "a"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    other = acme_api.post("/agents", json={"slug": "b", "name": "B"}, headers=headers)
    assert assert_error(other, 409)["code"] == "idempotency_key_reused"
    assert AuditEvent.objects.for_tenant(acme).filter(action="agent.create").count() == 1


def test_versions_diff_rollback_and_duplicate(acme_api: httpx.Client) -> None:
    _create(acme_api, instructions="v1")
    acme_api.post("/agents/helper/publish", json={})
    acme_api.patch("/agents/helper", json={"instructions": "v2", "greeting": "Hi"})
    acme_api.post("/agents/helper/publish", json={})
    diff = acme_api.get("/agents/helper/versions/1/diff/2").json()
    assert {c["field"]: (c["before"], c["after"]) for c in diff["changes"]} == {
        "instructions": ("v1", "v2"),
        "greeting": ("", "Hi"),
    }
    rolled = acme_api.post("/agents/helper/rollback", json={"number": 1})
    assert rolled.status_code == 201 and rolled.json()["number"] == 3
    assert rolled.json()["config"]["instructions"] == "v1"
    versions = acme_api.get("/agents/helper/versions", params={"limit": 2}).json()
    assert [v["number"] for v in versions["data"]] == [3, 2] and versions["has_more"]
    rest = acme_api.get("/agents/helper/versions", params={"after": versions["last_id"]}).json()
    assert [v["number"] for v in rest["data"]] == [1] and not rest["has_more"]
    copy = acme_api.post("/agents/helper/duplicate", json={"slug": "helper-2"})
    assert copy.status_code == 201 and copy.json()["instructions"] == "v2"
    assert copy.json()["published_version"] is None


def test_delete_and_missing_agents(acme_api: httpx.Client) -> None:
    _create(acme_api)
    assert acme_api.delete("/agents/helper").json()["deleted"] is True
    assert_error(acme_api.get("/agents/helper"), 404)
    assert_error(acme_api.delete("/agents/helper"), 404)


def test_bad_input_answers_400_with_one_entry_per_field(acme_api: httpx.Client) -> None:
    response = acme_api.post("/agents", json={"slug": "Not A Slug", "name": "", "extra": 1})
    error = assert_error(response, 400)
    assert error["type"] == "invalid_request_error"
    params = sorted(e["param"] for e in response.json()["errors"])
    assert params == ["extra", "name", "slug"]
    taken = _create(acme_api), _create(acme_api)
    assert_error(taken[1], 409)


def test_another_tenants_agent_is_missing(acme_api: httpx.Client, globex_api: httpx.Client) -> None:
    _create(acme_api)
    for response in (
        globex_api.get("/agents/helper"),
        globex_api.patch("/agents/helper", json={"name": "x"}),
        globex_api.post("/agents/helper/publish", json={}),
    ):
        assert_error(response, 404)
    assert globex_api.get("/agents").json()["data"] == []
