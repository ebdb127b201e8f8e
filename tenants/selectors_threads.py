"""The console's reads of a tenant's conversations and trail: filtered, paged, exported.

Pages are keysets on (created_at, id), as the store's (tenants/store.py); exports iterate
in chunks, so that memory stays flat however many rows the tenant has.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL

from tenants.exceptions import ObjectNotFound
from tenants.models import AuditEvent, Feedback, Tenant, Thread, ThreadItem
from tenants.selectors import _cursor_page

__all__ = [
    "ITEM_COLUMNS",
    "THREAD_COLUMNS",
    "ThreadFilter",
    "audit_event_search",
    "feedback_search",
    "thread_browse_page",
    "thread_export_rows",
    "thread_item_export_rows",
    "thread_item_page",
    "thread_items_all",
    "thread_search",
    "thread_search_page",
]

THREAD_COLUMNS = ("public_id", "created_at", "updated_at", "title", "end_user_id", "agent_slug")
EXPORT_CHUNK = 2000
SEARCH_IDS_LISTED = 5000


@dataclass(frozen=True, kw_only=True)
class ThreadFilter:
    """The console's thread filters; None leaves a filter off."""

    agent_slug: str | None = None
    end_user_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    has_feedback: bool | None = None
    # The console's extra filters. `agent_version` is a version number of `agent_id`'s agent
    # that answered at least once in the thread; `has_errors`: a long tool call failed.
    agent_id: int | None = None
    agent_version: int | None = None
    has_errors: bool | None = None
    # Words to find in the thread's title or any of its items (see `_text_match`).
    text: str | None = None


def _text_match(tenant: Tenant, text: str) -> Q:
    """Match threads whose title or any item contains the words of `text`.

    PostgreSQL: full-text search with the `simple` configuration (no stemming: a tenant's
    end users write in any language) over the items' stored words and the titles, through
    the GIN indexes of migration tenants 0008. Two plans, by how many items match:

    * at most SEARCH_IDS_LISTED (a rare or a 1% word): their thread ids are read first
      from the indexes, and the page query reads that list in page order;
    * more (a common word): the page query walks the tenant's threads in page order and
      checks each one's items (a few index entries and a stored column), stopping when the
      page is full; matches are dense then.

    Handed the subquery alone, the planner guesses hundreds of matches for any word and
    joins them with every thread of the tenant, whatever the word. SQLite: a substring
    search of the title and of the items' JSON text.
    """
    items = ThreadItem.objects.for_tenant(tenant)
    titles = Thread.objects.for_tenant(tenant)
    if connection.vendor == "postgresql":
        items = items.filter(_words("search_words", text))
        title_match: Any = _words("to_tsvector('simple', coalesce(title, ''))", text)
    else:
        items = items.filter(data__icontains=text)
        title_match = Q(title__icontains=text)
    # UNION ALL, not UNION: it streams, so the LIMIT stops the scan; duplicates go here.
    matching = items.values_list("thread_id", flat=True).union(
        titles.filter(title_match).values_list("pk", flat=True), all=True
    )
    found = list(matching[: SEARCH_IDS_LISTED + 1])
    if len(found) <= SEARCH_IDS_LISTED:  # every match; a thread once per matching item
        return Q(pk__in=sorted(set(found)))
    if connection.vendor != "postgresql":
        return Q(Exists(items.filter(thread_id=OuterRef("pk")))) | Q(title_match)
    return Q(_item_words_exist(text)) | Q(title_match)


def _words(words: str, text: str) -> RawSQL:
    return RawSQL(f"{words} @@ plainto_tsquery('simple', %s)", [text], output_field=BooleanField())


def _item_words_exist(text: str) -> RawSQL:
    """A per-thread EXISTS over the thread's items, for a page query on tenants_thread.

    OFFSET 0 keeps PostgreSQL from turning it into a join or a hashed subplan, both of
    which read every matching item of the tenant before the first row. The items are
    reached through their thread, one of the tenant's (the outer query's); an item's
    tenant is its thread's (a composite foreign key, migration tenants 0004).
    """
    return RawSQL(
        "EXISTS (SELECT 1 FROM tenants_threaditem i WHERE i.thread_id = tenants_thread.id"
        " AND i.search_words @@ plainto_tsquery('simple', %s) OFFSET 0)",
        [text],
        output_field=BooleanField(),
    )


def thread_search(*, tenant: Tenant, where: ThreadFilter) -> QuerySet[Thread]:
    rows = Thread.objects.for_tenant(tenant)
    if where.agent_id is not None:
        rows = rows.filter(agent_id=where.agent_id)
    if where.agent_version is not None:
        answered = ThreadItem.objects.for_tenant(tenant).filter(
            thread_id=OuterRef("pk"), agent_version=where.agent_version
        )
        rows = rows.filter(Exists(answered))
    if where.has_errors is not None:
        from hosted_agents.models import ToolCall  # hosted_agents builds on tenants

        failed = ToolCall.objects.for_tenant(tenant).filter(
            thread_id=OuterRef("public_id"),
            status__in=[ToolCall.Status.FAILED, ToolCall.Status.TIMED_OUT],
        )
        rows = rows.filter(Exists(failed)) if where.has_errors else rows.exclude(Exists(failed))
    if where.text:
        rows = rows.filter(_text_match(tenant, where.text))
    if where.agent_slug is not None:
        rows = rows.filter(agent_slug=where.agent_slug)
    if where.end_user_id is not None:
        rows = rows.filter(end_user_id=where.end_user_id)
    if where.created_after is not None:
        rows = rows.filter(created_at__gte=where.created_after)
    if where.created_before is not None:
        rows = rows.filter(created_at__lt=where.created_before)
    if where.has_feedback is not None:
        feedback = Feedback.objects.for_tenant(tenant).filter(thread_id=OuterRef("pk"))
        has = Exists(feedback)
        rows = rows.filter(has) if where.has_feedback else rows.exclude(has)
    return rows


def thread_search_page(
    *,
    tenant: Tenant,
    where: ThreadFilter,
    after: str | None = None,
    limit: int = 20,
    order: str = "desc",
) -> tuple[list[dict[str, Any]], bool]:
    """Return a page of the filtered threads (as dicts of THREAD_COLUMNS), and if more remain."""
    found, has_more = _cursor_page(
        thread_search(tenant=tenant, where=where),
        THREAD_COLUMNS, after=after, before=None, limit=limit, order=order,
    )  # fmt: skip
    return [dict(zip(THREAD_COLUMNS, row, strict=True)) for row in found], has_more


def thread_browse_page(
    *, tenant: Tenant, where: ThreadFilter, after: str | None = None, limit: int = 25
) -> tuple[list[dict[str, Any]], bool]:
    """Return the console's page of filtered threads, newest first, and if more remain.

    Unlike `thread_search_page`, the cursor is found among all the tenant's threads, not
    only the filtered ones: its position is read by two index lookups instead of running
    the filters (a text search) again for it. Another tenant's cursor finds nothing: an
    empty page.
    """
    rows = thread_search(tenant=tenant, where=where)
    if after is not None:
        cursor = Thread.objects.for_tenant(tenant).filter(public_id=after)
        created_at = Subquery(cursor.values("created_at")[:1])
        pk = Subquery(cursor.values("id")[:1])
        # As the store's keyset (tenants/store.py): a range on created_at, then the ties.
        rows = rows.filter(created_at__lte=created_at).exclude(created_at=created_at, id__gte=pk)
    found = list(rows.order_by("-created_at", "-id").values_list(*THREAD_COLUMNS)[: limit + 1])
    page = [dict(zip(THREAD_COLUMNS, row, strict=True)) for row in found[:limit]]
    return page, len(found) > limit


def thread_export_rows(*, tenant: Tenant, where: ThreadFilter) -> Iterator[dict[str, Any]]:
    """Yield every filtered thread, oldest first, reading EXPORT_CHUNK rows at a time."""
    rows = thread_search(tenant=tenant, where=where).order_by("created_at", "id")
    for row in rows.values_list(*THREAD_COLUMNS).iterator(chunk_size=EXPORT_CHUNK):
        yield dict(zip(THREAD_COLUMNS, row, strict=True))


def thread_items_all(*, tenant: Tenant, thread_id: str, limit: int) -> list[dict[str, Any]]:
    """Return the first `limit` items of the thread, oldest first, as stored."""
    thread = Thread.objects.for_tenant(tenant).filter(public_id=thread_id).first()
    if thread is None:
        raise ObjectNotFound("thread", thread_id)
    rows = ThreadItem.objects.for_tenant(tenant).filter(thread_id=thread.pk)
    return list(rows.order_by("created_at", "id").values_list("data", flat=True)[:limit])


ITEM_COLUMNS = ("public_id", "type", "created_at", "data", "agent_version", "model")


def thread_item_page(
    *, tenant: Tenant, thread: Thread, after: str | None = None, limit: int = 200
) -> tuple[list[dict[str, Any]], bool]:
    """Return a page of the thread's items, oldest first (dicts of ITEM_COLUMNS), and if more
    remain; one statement, a keyset on (created_at, id) as the store's."""
    rows = ThreadItem.objects.for_tenant(tenant).filter(thread_id=thread.pk)
    found, has_more = _cursor_page(
        rows, ITEM_COLUMNS, after=after, before=None, limit=limit, order="asc"
    )
    return [dict(zip(ITEM_COLUMNS, row, strict=True)) for row in found], has_more


def thread_item_export_rows(*, tenant: Tenant, thread: Thread) -> Iterator[dict[str, Any]]:
    """Yield every item of the thread, oldest first, reading EXPORT_CHUNK rows at a time."""
    rows = ThreadItem.objects.for_tenant(tenant).filter(thread_id=thread.pk)
    ordered = rows.order_by("created_at", "id").values_list(*ITEM_COLUMNS)
    for row in ordered.iterator(chunk_size=EXPORT_CHUNK):
        yield dict(zip(ITEM_COLUMNS, row, strict=True))


def feedback_search(
    *, tenant: Tenant, kind: str | None = None, thread_id: str | None = None
) -> QuerySet[Feedback]:
    rows = Feedback.objects.for_tenant(tenant).select_related("thread")
    if kind is not None:
        rows = rows.filter(kind=kind)
    if thread_id is not None:
        rows = rows.filter(thread__tenant=tenant, thread__public_id=thread_id)
    return rows


def audit_event_search(
    *,
    tenant: Tenant,
    action: str | None = None,
    actor_kind: str | None = None,
    actor_label: str | None = None,
    target_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    rows = AuditEvent.objects.for_tenant(tenant)
    if action is not None:
        rows = rows.filter(action=action)
    if actor_kind is not None:
        rows = rows.filter(actor_kind=actor_kind)
    if actor_label is not None:
        rows = rows.filter(actor_label=actor_label)
    if target_type is not None:
        rows = rows.filter(target_type=target_type)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    return rows
