"""Clients of /api/v1/ on a live server, with keys of every scope for both tenants.

    acme_api, globex_api     httpx clients with a read+write management key of the tenant
    acme_read_api            acme, management:read only
    acme_chat_api            acme, chat only
    api_with                 makes a client with any raw key
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tenants.models import ApiKey, Tenant
from tenants.services import api_key_create

MANAGE = [ApiKey.Scope.MANAGEMENT_READ, ApiKey.Scope.MANAGEMENT_WRITE]


def _raw(tenant: Tenant, scopes: list[str]) -> str:
    return api_key_create(tenant=tenant, name=f"{tenant.slug} {scopes}", scopes=scopes).raw


@pytest.fixture
def api_with(live_server: Any) -> Iterator[Callable[[str], httpx.Client]]:
    made: list[httpx.Client] = []

    def make(raw: str) -> httpx.Client:
        made.append(
            httpx.Client(
                base_url=f"{live_server.url}/api/v1",
                headers={"Authorization": f"Bearer {raw}"},
                timeout=30,
            )
        )
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def acme_api(acme: Tenant, api_with: Callable[[str], httpx.Client]) -> httpx.Client:
    return api_with(_raw(acme, MANAGE))


@pytest.fixture
def globex_api(globex: Tenant, api_with: Callable[[str], httpx.Client]) -> httpx.Client:
    return api_with(_raw(globex, MANAGE))


@pytest.fixture
def acme_read_api(acme: Tenant, api_with: Callable[[str], httpx.Client]) -> httpx.Client:
    return api_with(_raw(acme, [ApiKey.Scope.MANAGEMENT_READ]))


@pytest.fixture
def acme_chat_api(acme: Tenant, api_with: Callable[[str], httpx.Client]) -> httpx.Client:
    return api_with(_raw(acme, [ApiKey.Scope.CHAT]))


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert the one error shape of the platform's APIs and return its `error`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) <= {"error", "errors"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error
