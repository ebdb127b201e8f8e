"""The official `openai` client, unchanged, pointed at a live server of the platform.

acme_client, globex_client   OpenAI clients with each tenant's API key (all scopes)
client_with                  makes a client with any key
published                    acme's agent "support", published once
acme_store                   acme's whole-tenant DjangoStore, to write threads through
make_thread                  writes a thread (and its items) for an end user
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from openai import OpenAI

from chatkit_core.types import ThreadItem, ThreadMetadata
from hosted_agents.models import Agent
from hosted_agents.services import agent_publish
from tenants.models import Tenant, Thread
from tenants.services import IssuedApiKey
from tenants.store import DjangoStore

BASE = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def client_for(live_server: Any, raw_key: str) -> OpenAI:
    # No retries: a test sees the first answer, and a refusal is not retried into a pass.
    return OpenAI(base_url=f"{live_server.url}/v1", api_key=raw_key, max_retries=0, timeout=30)


@pytest.fixture
def client_with(live_server: Any) -> Iterator[Callable[[str], OpenAI]]:
    """Return a maker of clients with a given key; they are closed at the end of the test."""
    made: list[OpenAI] = []

    def make(raw_key: str) -> OpenAI:
        made.append(client_for(live_server, raw_key))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def acme_client(live_server: Any, acme_key: IssuedApiKey) -> Iterator[OpenAI]:
    client = client_for(live_server, acme_key.raw)
    yield client
    client.close()


@pytest.fixture
def globex_client(live_server: Any, globex_key: IssuedApiKey) -> Iterator[OpenAI]:
    client = client_for(live_server, globex_key.raw)
    yield client
    client.close()


@pytest.fixture
def published(acme: Tenant, acme_agent: Agent) -> Agent:
    agent_publish(tenant=acme, agent_id=acme_agent.pk)
    acme_agent.refresh_from_db()
    return acme_agent


@pytest.fixture
def acme_store(acme: Tenant) -> DjangoStore[None]:
    return DjangoStore(acme)


MakeThread = Callable[..., Thread]


@pytest.fixture
def make_thread(acme: Tenant, acme_agent: Agent) -> MakeThread:
    """Write thread `thread_id` of `user`, `minutes` after BASE, with `items`, via the store."""

    def make(
        thread_id: str,
        *,
        user: str = "user-1",
        minutes: int = 0,
        title: str | None = None,
        status: dict[str, Any] | None = None,
        items: list[ThreadItem] | None = None,
        tenant: Tenant = acme,
    ) -> Thread:
        agent = acme_agent if tenant.pk == acme.pk else None
        store: DjangoStore[None] = DjangoStore(tenant, agent=agent, end_user_id=user)
        thread = ThreadMetadata.model_validate(
            {
                "id": thread_id,
                "created_at": BASE + timedelta(minutes=minutes),
                "title": title,
                "status": status or {"type": "active"},
            }
        )
        async_to_sync(store.save_thread)(thread, None)
        for item in items or []:
            async_to_sync(store.add_thread_item)(thread_id, item, None)
        return Thread.objects.for_tenant(tenant).get(public_id=thread_id)

    return make
