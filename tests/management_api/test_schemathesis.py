"""schemathesis against the live OpenAPI schema of /api/v1/, with the keys of two tenants.

Every operation gets generated requests (a few per operation and tenant, so that the run
stays bounded on a loaded machine); none may answer 5xx, and every answer must match the
schema: its status documented, its content type and its body.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tenants.models import Tenant
from tenants.services import api_key_create
from tests.management_api.conftest import MANAGE, seed

pytestmark = pytest.mark.live

MAX_EXAMPLES = 4
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_every_operation_keeps_to_the_schema_for_two_tenants(
    live_server: Any, acme: Tenant, globex: Tenant
) -> None:
    seed(acme)
    seed(globex, prefix="g-")
    keys = [api_key_create(tenant=t, name="fuzz", scopes=MANAGE).raw for t in (acme, globex)]
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json")
    checked = 0
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        for raw in keys:
            _fuzz(operation, live_server.url, raw, statuses)
        checked += 1
    assert checked >= 35
    # The generated requests reached the operations: some succeeded, some were refused.
    assert sum(n for status, n in statuses.items() if status < 300) >= 30, statuses
    assert sum(n for status, n in statuses.items() if status >= 400) >= 30, statuses
    assert not [status for status in statuses if status >= 500]


def _fuzz(operation: Any, base_url: str, raw: str, statuses: Counter[int]) -> None:
    headers = {"Authorization": f"Bearer {raw}"}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    run()


def test_the_schema_is_served_without_a_key(live_server: Any) -> None:
    response = httpx.get(f"{live_server.url}/api/v1/openapi.json", timeout=30)
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Management API"
