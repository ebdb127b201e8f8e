"""Acme's store, whatever context it is given, treats Globex's threads, items, attachments
and feedback exactly like ids that do not exist, and leaves them untouched. The same holds
between two end users of one tenant, and between two agents of one tenant, when the store is
narrowed to one of them; and an agent created under a deleted agent's slug inherits nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async

from chatkit_core.store import NotFoundError
from chatkit_core.types import FileAttachment, ThreadMetadata, UserMessageItem
from hosted_agents.models import Agent
from tenants.models import Feedback, Tenant, Thread
from tenants.store import DjangoStore

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
MISSING_THREAD, MISSING_ITEM, MISSING_ATTACHMENT = "thr_nothere", "msg_nothere", "atc_nothere"
Operation = Callable[[DjangoStore[Any], str, str, str], Awaitable[Any]]


def _message(item_id: str, thread_id: str, text: str, seconds: int = 1) -> UserMessageItem:
    return UserMessageItem.model_validate(
        {
            "id": item_id,
            "thread_id": thread_id,
            "created_at": T0 + timedelta(seconds=seconds),
            "content": [{"type": "input_text", "text": text}],
            "inference_options": {},
        }
    )


def _attachment(attachment_id: str, name: str = "secret.pdf") -> FileAttachment:
    return FileAttachment(
        id=attachment_id, name=name, mime_type="application/pdf", metadata={"key": "s3://x"}
    )


async def _fill(store: DjangoStore[Any], prefix: str) -> dict[str, str]:
    """Give the store's tenant a thread with one item, an attachment and feedback."""
    thread = ThreadMetadata(id=f"thr_{prefix}", created_at=T0, title=f"{prefix} private")
    await store.save_thread(thread, context=None)
    await store.add_thread_item(thread.id, _message(f"msg_{prefix}", thread.id, "hi"), None)
    await store.save_attachment(_attachment(f"atc_{prefix}"), context=None)
    await store.add_feedback(thread.id, [f"msg_{prefix}"], "positive", context=None)
    return {"thread": thread.id, "item": f"msg_{prefix}", "attachment": f"atc_{prefix}"}


async def _snapshot(store: DjangoStore[Any], ids: dict[str, str]) -> tuple[Any, ...]:
    thread = await store.load_thread(ids["thread"], context=None)
    items = await store.load_thread_items(ids["thread"], None, 50, "asc", context=None)
    attachment = await store.load_attachment(ids["attachment"], context=None)
    listed = await store.load_threads(50, None, "asc", context=None)

    def feedback() -> list[Any]:
        rows = Feedback.objects.for_tenant(store.tenant)
        return list(rows.values_list("thread__public_id", "item_ids", "kind"))

    return (
        thread.model_dump(),
        [item.model_dump() for item in items.data],
        attachment.model_dump(),
        [t.id for t in listed.data],
        await database_sync_to_async(feedback)(),
    )


async def _outcome(operation: Awaitable[Any]) -> Any:
    try:
        result = await operation
    except NotFoundError:
        return "NotFoundError"
    if hasattr(result, "data"):  # a page: compare its shape, not the records' ids
        return ("page", len(result.data), result.has_more, result.after)
    return ("value", type(result).__name__)


OPERATIONS: dict[str, Operation] = {
    "load_thread": lambda s, t, i, a: s.load_thread(t, None),
    "save_thread": lambda s, t, i, a: s.save_thread(
        ThreadMetadata(id=t, created_at=T0, title="overwritten"), None
    ),
    "delete_thread": lambda s, t, i, a: s.delete_thread(t, None),
    "load_thread_items": lambda s, t, i, a: s.load_thread_items(t, None, 20, "asc", None),
    "load_thread_items_after": lambda s, t, i, a: s.load_thread_items(t, i, 20, "desc", None),
    "load_threads_after": lambda s, t, i, a: s.load_threads(20, t, "asc", None),
    "add_thread_item": lambda s, t, i, a: s.add_thread_item(t, _message(i, t, "intrude"), None),
    "save_item": lambda s, t, i, a: s.save_item(t, _message(i, t, "overwrite"), None),
    "load_item": lambda s, t, i, a: s.load_item(t, i, None),
    "delete_thread_item": lambda s, t, i, a: s.delete_thread_item(t, i, None),
    "save_attachment": lambda s, t, i, a: s.save_attachment(_attachment(a, "evil.pdf"), None),
    "load_attachment": lambda s, t, i, a: s.load_attachment(a, None),
    "delete_attachment": lambda s, t, i, a: s.delete_attachment(a, None),
    "add_feedback": lambda s, t, i, a: s.add_feedback(t, [i], "negative", None),
}


SAVES_UNDER_A_TAKEN_ID = {"save_thread", "save_attachment"}


def _agent(tenant: Tenant, slug: str) -> Agent:
    agent = Agent(tenant=tenant, slug=slug, name=slug.title())
    agent.save()
    return agent


async def _stores(kind: str, acme: Tenant, globex: Tenant) -> tuple[DjangoStore[Any], ...]:
    """Return (intruder, victim, fresh intruder) stores for the isolation boundary `kind`."""
    if kind == "tenants":
        return DjangoStore(acme), DjangoStore(globex), DjangoStore(acme)
    new_agent = database_sync_to_async(_agent)
    if kind == "agents":
        support, sales = await new_agent(acme, "support"), await new_agent(acme, "sales")
        return (
            DjangoStore(acme, agent=sales, end_user_id="victoria"),
            DjangoStore(acme, agent=support, end_user_id="victoria"),
            DjangoStore(acme, agent=sales, end_user_id="victoria"),
        )
    support = await new_agent(acme, "support")
    return (
        DjangoStore(acme, agent=support, end_user_id="mallory"),
        DjangoStore(acme, agent=support, end_user_id="victoria"),
        DjangoStore(acme, agent=support, end_user_id="mallory"),
    )


@pytest.mark.parametrize("kind", ["tenants", "end_users", "agents"])
@pytest.mark.parametrize("name", sorted(OPERATIONS))
async def test_another_scopes_record_behaves_exactly_like_a_missing_one(
    name: str, kind: str, acme: Tenant, globex: Tenant
) -> None:
    intruder, victim, _ = await _stores(kind, acme, globex)
    theirs = await _fill(victim, "theirs")
    await _fill(intruder, "mine")  # the intruder has data of its own too
    before = await _snapshot(victim, theirs)
    operation = OPERATIONS[name]

    foreign = await _outcome(
        operation(intruder, theirs["thread"], theirs["item"], theirs["attachment"])
    )
    missing = await _outcome(operation(intruder, MISSING_THREAD, MISSING_ITEM, MISSING_ATTACHMENT))

    if kind != "tenants" and name in SAVES_UNDER_A_TAKEN_ID:
        # Ids are unique per tenant: the victim's id is taken, so the save is refused.
        assert (foreign, missing) == ("NotFoundError", ("value", "NoneType"))
    else:
        assert foreign == missing
    assert await _snapshot(victim, theirs) == before


@pytest.mark.parametrize("kind", ["tenants", "end_users", "agents"])
async def test_listing_threads_never_shows_another_scopes_threads(
    kind: str, acme: Tenant, globex: Tenant
) -> None:
    intruder, victim, _ = await _stores(kind, acme, globex)
    await _fill(victim, "theirs")
    mine = await _fill(intruder, "mine")
    for order in ("asc", "desc"):
        page = await intruder.load_threads(50, None, order, context={"tenant": "globex"})
        assert [thread.id for thread in page.data] == [mine["thread"]]


async def test_a_context_naming_another_tenant_still_reaches_only_the_stores_tenant(
    acme: Tenant, globex: Tenant
) -> None:
    theirs = await _fill(DjangoStore(globex), "theirs")
    store = DjangoStore(acme)
    for context in ({"tenant": "globex"}, {"tenant_id": globex.pk}, globex):
        with pytest.raises(NotFoundError):
            await store.load_thread(theirs["thread"], context=context)


async def test_ids_are_unique_per_tenant_so_two_tenants_may_use_the_same_ids(
    acme: Tenant, globex: Tenant
) -> None:
    acme_ids = await _fill(DjangoStore(acme), "same")
    globex_ids = await _fill(DjangoStore(globex), "same")
    assert acme_ids == globex_ids
    await DjangoStore(globex).delete_thread(globex_ids["thread"], context=None)
    assert (await DjangoStore(acme).load_thread(acme_ids["thread"], None)).title == "same private"


async def test_an_agent_created_under_a_deleted_agents_slug_inherits_none_of_its_records(
    acme: Tenant, acme_agent: Agent
) -> None:
    old_store = DjangoStore(acme, agent=acme_agent, end_user_id="victoria")
    old = await _fill(old_store, "old")
    await database_sync_to_async(acme_agent.delete)()
    successor = await database_sync_to_async(_agent)(acme, acme_agent.slug)
    store = DjangoStore(acme, agent=successor, end_user_id="victoria")

    assert (await store.load_threads(50, None, "asc", None)).data == []
    for load in (
        store.load_thread(old["thread"], None),
        store.load_attachment(old["attachment"], None),
    ):
        with pytest.raises(NotFoundError):
            await load
    # The tenant keeps them: the whole-tenant store (the console's) still lists the thread.
    kept = await DjangoStore(acme).load_thread(old["thread"], None)
    assert kept.title == "old private"


async def test_a_thread_keeps_its_agents_slug_for_display(acme: Tenant, acme_agent: Agent) -> None:
    await _fill(DjangoStore(acme, agent=acme_agent, end_user_id="victoria"), "mine")

    def row() -> tuple[Any, ...]:
        thread = Thread.objects.for_tenant(acme).get(public_id="thr_mine")
        return thread.agent_id, thread.agent_slug, thread.end_user_id

    assert await database_sync_to_async(row)() == (acme_agent.pk, "support", "victoria")


def test_a_store_refuses_an_agent_of_another_tenant_an_unsaved_one_and_an_empty_end_user(
    acme: Tenant, globex: Tenant, acme_agent: Agent
) -> None:
    with pytest.raises(ValueError, match="agent of its own tenant"):
        DjangoStore(globex, agent=acme_agent, end_user_id="u")
    with pytest.raises(ValueError, match="agent of its own tenant"):
        DjangoStore(acme, agent=Agent(tenant=acme, slug="unsaved"), end_user_id="u")
    with pytest.raises(ValueError, match="non-empty end_user_id"):
        DjangoStore(acme, agent=acme_agent, end_user_id="")
    assert DjangoStore(acme, agent=acme_agent, end_user_id="u").tenant == acme
