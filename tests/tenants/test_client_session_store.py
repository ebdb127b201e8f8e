"""A client session's history rules, applied by its store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from chatkit_core.store import NotFoundError
from chatkit_core.types import EndOfTurnItem, ThreadMetadata
from hosted_agents.models import Agent
from hosted_agents.services import agent_publish
from tenants.client_session_store import ClientSessionStore
from tenants.models import ClientSession, Tenant
from tenants.services import client_secret_authenticate, client_session_create

pytestmark = pytest.mark.django_db(transaction=True)

OLD = datetime(2026, 1, 1, tzinfo=UTC)


def _session(tenant: Tenant, agent: Agent, **history: Any) -> ClientSession:
    agent_publish(tenant=tenant, agent_id=agent.pk)
    issued = client_session_create(
        tenant=tenant,
        agent=Agent.objects.for_tenant(tenant).get(pk=agent.pk),
        user="user-1",
        workflow_ref="support",
        chatkit_configuration={"history": history} if history else {},
    )
    # As the endpoint has it: tenant and agent loaded with the session.
    return client_secret_authenticate(raw=issued.client_secret)


async def _threads(store: ClientSessionStore[None], *ids_and_times: tuple[str, datetime]) -> None:
    for thread_id, created_at in ids_and_times:
        thread = ThreadMetadata(id=thread_id, created_at=created_at)
        await store.save_thread(thread, None)
        await store.add_thread_item(
            thread_id,
            EndOfTurnItem(id=f"eot_{thread_id}", thread_id=thread_id, created_at=created_at),
            None,
        )


async def test_history_off_lists_nothing_and_refuses_earlier_threads(
    acme: Tenant, acme_agent: Agent
) -> None:
    session = await database_sync_to_async(_session)(acme, acme_agent, enabled=False)
    store: ClientSessionStore[None] = ClientSessionStore(session)
    later = timezone.now() + timedelta(seconds=1)
    await _threads(store, ("thr_old", OLD), ("thr_new", later))

    assert (await store.load_threads(20, None, "desc", None)).data == []
    for call in (
        store.load_thread("thr_old", None),
        store.load_thread_items("thr_old", None, 20, "asc", None),
        store.delete_thread("thr_old", None),
    ):
        with pytest.raises(NotFoundError):
            await call
    assert (await store.load_thread("thr_new", None)).id == "thr_new"
    items = await store.load_thread_items("thr_new", None, 20, "asc", None)
    assert [item.id for item in items.data] == ["eot_thr_new"]


async def test_recent_threads_caps_the_list_whatever_the_paging(
    acme: Tenant, acme_agent: Agent
) -> None:
    session = await database_sync_to_async(_session)(acme, acme_agent, recent_threads=3)
    store: ClientSessionStore[None] = ClientSessionStore(session)
    await _threads(store, *[(f"thr_{n}", OLD + timedelta(minutes=n)) for n in range(5)])

    first = await store.load_threads(2, None, "desc", None)
    assert [t.id for t in first.data] == ["thr_4", "thr_3"] and first.has_more
    second = await store.load_threads(2, first.after, "desc", None)
    assert [t.id for t in second.data] == ["thr_2"] and not second.has_more
    ascending = await store.load_threads(10, None, "asc", None)
    assert [t.id for t in ascending.data] == ["thr_2", "thr_3", "thr_4"]
    assert (await store.load_threads(10, "thr_0", "desc", None)).data == []
    assert (await store.load_thread("thr_0", None)).id == "thr_0"  # reachable by id


async def test_history_on_is_the_plain_narrowed_store(acme: Tenant, acme_agent: Agent) -> None:
    session = await database_sync_to_async(_session)(acme, acme_agent)
    store: ClientSessionStore[None] = ClientSessionStore(session)
    await _threads(store, *[(f"thr_{n}", OLD + timedelta(minutes=n)) for n in range(3)])
    page = await store.load_threads(20, None, "desc", None)
    assert [t.id for t in page.data] == ["thr_2", "thr_1", "thr_0"]
    assert (await store.load_thread("thr_0", None)).id == "thr_0"
