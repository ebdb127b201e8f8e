"""Clients of /api/v1/ on a live server, with keys of every scope for both tenants.

acme_api, globex_api     httpx clients with a read+write management key of the tenant
acme_read_api            acme, management:read only
acme_chat_api            acme, chat only
api_with                 makes a client with any raw key
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync

from chatkit_core.types import ThreadMetadata
from hosted_agents.capabilities.services import mcp_server_create
from hosted_agents.services import (
    agent_create,
    agent_publish,
    agent_update,
    client_tool_create,
    http_tool_create,
)
from tenants.models import ApiKey, Tenant
from tenants.services import api_key_create, feedback_create, provider_credential_create
from tenants.store import DjangoStore

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


@dataclass
class Seeded:
    """One of each object of a tenant, by the path parameter that names it."""

    tenant: Tenant
    agent: str
    http_tool: int
    client_tool: int
    credential: int
    api_key: int
    thread: str
    mcp_server: int


def seed(tenant: Tenant, *, prefix: str = "", user: str = "user-1") -> Seeded:
    """Give `tenant` an agent published twice, tools, a credential, a thread with feedback,
    an MCP server (that nothing listens on)."""
    http_tool = http_tool_create(
        tenant=tenant, name="weather", description="Weather", url_template="http://127.0.0.1:9/w"
    )
    client_tool = client_tool_create(tenant=tenant, name="pick", description="Pick a date")
    credential = provider_credential_create(
        tenant=tenant, name="local", kind="openai_compatible", secret="sk-local-123456",
        base_url="http://127.0.0.1:9/v1",
    )  # fmt: skip
    agent = agent_create(
        tenant=tenant, slug=f"{prefix}support", name="Support", instructions="v1",
        http_tools=[http_tool.pk], client_tools=[client_tool.pk],
        provider_credential_id=credential.pk,
    )  # fmt: skip
    agent_publish(tenant=tenant, agent_id=agent.pk)
    agent_update(tenant=tenant, agent_id=agent.pk, changes={"instructions": "v2"})
    agent_publish(tenant=tenant, agent_id=agent.pk)
    thread = ThreadMetadata(id=f"thr_{prefix}seed", created_at=datetime(2026, 11, 1, tzinfo=UTC))
    store: DjangoStore[None] = DjangoStore(tenant, agent=agent, end_user_id=user)
    async_to_sync(store.save_thread)(thread, None)
    feedback_create(tenant=tenant, thread_id=f"thr_{prefix}seed", item_ids=[], kind="positive",
                    end_user_id=user)  # fmt: skip
    key = api_key_create(tenant=tenant, name="spare", scopes=["chat"]).api_key
    server = mcp_server_create(
        tenant=tenant, name="weather", url="http://127.0.0.1:9/mcp",
        headers={"Authorization": "Bearer mcp-seed-secret-1234"},
    )  # fmt: skip
    return Seeded(tenant, agent.slug, http_tool.pk, client_tool.pk, credential.pk, key.pk,
                  f"thr_{prefix}seed", server.pk)  # fmt: skip
