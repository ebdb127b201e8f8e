"""Idempotency keys: per tenant and operation; a failed create keeps nothing."""

from __future__ import annotations

import httpx
import pytest

from tenants.models import IdempotencyKey, Tenant
from tests.management_api.conftest import assert_error

pytestmark = pytest.mark.live


def test_a_failed_create_keeps_no_answer_and_can_be_retried(
    acme_api: httpx.Client, acme: Tenant
) -> None:
    headers = {"Idempotency-Key": "k1"}
    acme_api.post("/agents", json={"slug": "taken", "name": "T"})
    body = {"name": "crm", "description": "d", "url_template": "ftp://nowhere"}
    refused = acme_api.post("/tools/http", json=body, headers=headers)
    assert refused.status_code == 400, refused.text
    assert not IdempotencyKey.objects.for_tenant(acme).exists()
    fixed = {**body, "url_template": "http://127.0.0.1:9/crm"}
    assert acme_api.post("/tools/http", json=fixed, headers=headers).status_code == 201
    assert acme_api.post("/tools/http", json=fixed, headers=headers).status_code == 201
    stored = IdempotencyKey.objects.for_tenant(acme).get()
    assert "ftp" not in str(stored.body) and stored.operation == "POST /api/v1/tools/http"


def test_keys_are_per_tenant_and_per_operation(
    acme_api: httpx.Client, globex_api: httpx.Client
) -> None:
    headers = {"Idempotency-Key": "same"}
    assert acme_api.post("/agents", json={"slug": "a", "name": "A"}, headers=headers).is_success
    # Another operation, and another tenant, with the same key: fresh creates.
    tool = {"name": "pick", "description": "d"}
    assert acme_api.post("/tools/client", json=tool, headers=headers).status_code == 201
    other = globex_api.post("/agents", json={"slug": "b", "name": "B"}, headers=headers)
    assert other.status_code == 201 and other.json()["slug"] == "b"
    too_long = acme_api.post("/agents", json={"slug": "c", "name": "C"},
                             headers={"Idempotency-Key": "x" * 201})  # fmt: skip
    assert assert_error(too_long, 400)["code"] == "invalid_idempotency_key"
