"""`DjangoStore`: the chatkit_core `Store` on the tenants tables, for exactly one tenant.

The tenant is fixed when the store is built; the per-request context is accepted (the
interface requires it) and never consulted, so nothing in a request can widen the scope.
A store may also be narrowed to one agent (by its row, not its slug: an agent created later
under a deleted agent's slug sees none of its threads) and one end user: threads and
attachments outside the narrowing then behave like missing ones, except that saving a record
under an id that another end user of the tenant already holds raises `NotFoundError` (ids
are unique per tenant, and that record must not be overwritten).

Paging is keyset-based on (created_at, id), the auto-increment id breaking ties in
insertion order: one indexed range scan per page, no OFFSET and no COUNT, and a cursor
stays valid while records are added before or after it. A cursor that names no record of
the listing (a deleted one, or one of another thread) ends it: an empty last page, never a
restart from the first page, which would show the client every record twice.

Hot paths are one SQL statement each (tests/tenants/test_store_queries.py pins them): a
page, whatever its cursor, and adding or replacing an item, which is a single
INSERT ... ON CONFLICT DO UPDATE whose thread is looked up inside the statement.

A streamed request can hold its writes (`DjangoStore.buffered`, which the platform's
server wraps around each stream): a turn then costs two hops off the event loop, one that
records what the turn needs (the thread, the user's message) and one that saves what it
produced, instead of one hop and one statement per write. While a turn holds writes:

* threads, items and deletions are kept in memory and written, in order, by the next hop
  that needs the database (a read, `write` called by the runtime, or the end of the stream,
  whichever task it runs in),
  items as one multi-row INSERT;
* a thread this store created in the turn, and a thread it loaded whose history is at most
  `KNOWN_HISTORY` items (read with the thread, in the same hop), is known whole: its item
  pages and items are answered from memory, so nothing is read that cannot be found (a new
  thread has no history) and the history is not read twice;
* a thread save that changes nothing the database holds is not written.

Every other operation writes what is held, then runs as outside a turn, in one hop.

Attachment names and MIME types are kept whole in the protocol attachment (`data`); the
`name` and `mime_type` columns are listing copies, shortened to fit their columns (a
name keeps its extension) rather than refused: a long file name is not the end user's
error, and the attachment they get back is the one they sent.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from channels.db import database_sync_to_async
from django.db import IntegrityError, models, transaction
from django.db.models import Subquery
from django.db.models.constants import OnConflict
from django.utils import timezone
from pydantic import TypeAdapter
from pydantic_core import to_json

from chatkit_core._time import aware_utc
from chatkit_core.store import NotFoundError, Store, StoreItemType, TContext, default_generate_id
from chatkit_core.types import Attachment, Page, ThreadItem, ThreadMetadata
from tenants.exceptions import ObjectNotFound
from tenants.models import Attachment as AttachmentRow
from tenants.models import Tenant, Thread
from tenants.models import ThreadItem as ThreadItemRow
from tenants.models.conversations import MIME_TYPE_MAX_LENGTH, NAME_MAX_LENGTH
from tenants.prepared import Placeholders, PreparedQuery
from tenants.services.attachments import attachment_rows_delete
from tenants.services.conversations import feedback_create, thread_items_mark_origin

if TYPE_CHECKING:
    from hosted_agents.models import Agent

__all__ = ["KNOWN_HISTORY", "DjangoStore", "ItemOrigin", "Turn", "orm_hop"]

_ITEM: TypeAdapter[ThreadItem] = TypeAdapter(ThreadItem)
_ATTACHMENT: TypeAdapter[Attachment] = TypeAdapter(Attachment)
_THREAD_FIELDS = set(ThreadMetadata.model_fields)
_R = TypeVar("_R")
_Row = TypeVar("_Row")


def _run_sync(function: Callable[..., _R], *args: Any) -> _R:
    return function(*args)


# The one bridge from the event loop to the ORM: each store method is a small sync function
# run through it, in one thread, with stale connections closed around the call.
_bridge = database_sync_to_async(_run_sync)


async def orm_hop(function: Callable[..., _R], *args: Any) -> _R:
    """Run the sync `function(*args)` off the event loop: one hop (the runtime's too)."""
    # Channels has no type hints: the bridge's result is typed here, once.
    result: _R = await _bridge(function, *args)
    return result


_run = orm_hop

# Naive timestamps follow chatkit_core's one rule (read as local time, made UTC); records
# built by chatkit_core are aware already.
_aware = aware_utc

KNOWN_HISTORY = 100
"""A loaded thread with at most this many items is read whole with it (one page of history)."""


@dataclass(frozen=True, slots=True)
class ItemOrigin:
    """Which agent version and model produced the items `item_ids` (never user messages)."""

    thread_id: str
    item_ids: Collection[str]
    agent_version: int
    model: str

    def stamps(self, thread_id: str, item_id: str, item_type: str) -> bool:
        return (
            thread_id == self.thread_id and item_type != "user_message" and item_id in self.item_ids
        )


@dataclass(slots=True)
class _KnownItem:
    """An item of a thread the turn knows whole: its place in the thread and its data."""

    created_at: datetime
    seq: int
    data: dict[str, Any]
    stored: bool  # the database has a row with this id


@dataclass(slots=True)
class _PendingItem:
    type: str
    created_at: datetime
    data: dict[str, Any]


@dataclass(eq=False)
class Turn:
    """The writes one streamed request holds, and what it knows of its threads."""

    store: DjangoStore[Any]
    new_thread_ids: set[str] = field(default_factory=set)
    thread_pks: dict[str, int] = field(default_factory=dict)
    # The thread fields the database holds, as `_thread_fields` writes them.
    written: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: dict[str, ThreadMetadata] = field(default_factory=dict)
    items: dict[str, dict[str, _PendingItem]] = field(default_factory=dict)
    deletes: dict[str, set[str]] = field(default_factory=dict)
    known: dict[str, dict[str, _KnownItem]] = field(default_factory=dict)
    seq: int = 0

    def holds_writes(self) -> bool:
        return bool(self.threads or self.items or self.deletes)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


def _thread_fields(thread: ThreadMetadata) -> dict[str, Any]:
    data = thread.model_dump(mode="json", include=_THREAD_FIELDS)
    return {
        "title": data["title"],
        "status": data["status"],
        "allowed_image_domains": data["allowed_image_domains"],
        "metadata": data["metadata"],
    }


def _item_of(row: _KnownItem) -> ThreadItem:
    # Through JSON: validation would share the row's nested values with the caller's record.
    return _ITEM.validate_json(to_json(row.data))


def _held_thread(thread: ThreadMetadata) -> ThreadMetadata:
    # A copy, as the database would keep it: later changes to `thread` are not saved, and a
    # full Thread is held as its metadata only.
    return ThreadMetadata.model_validate(thread.model_dump(include=_THREAD_FIELDS))


def _known_page(
    rows: dict[str, _KnownItem], after: str | None, limit: int, order: str
) -> Page[Any]:
    """Page a known thread's items as `_keyset_page` pages the table (same order, same cursor)."""
    if order not in ("asc", "desc"):
        raise ValueError(f"order must be 'asc' or 'desc', not {order!r}")
    ordered = sorted(rows.items(), key=lambda entry: (entry[1].created_at, entry[1].seq))
    if order == "desc":
        ordered.reverse()
    if after is not None:
        position = next((n for n, (item_id, _) in enumerate(ordered) if item_id == after), None)
        ordered = [] if position is None else ordered[position + 1 :]
    limit = max(limit, 0)
    found = [_item_of(row) for _, row in ordered[:limit]]
    return _page(found, len(ordered) > limit)


def _fit(value: str, limit: int) -> str:
    """Return `value` cut to `limit` characters, marked with an ellipsis when cut."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


# An extension longer than this is not a file type worth keeping whole.
_EXTENSION_MAX = 16


def _fit_name(name: str, limit: int = NAME_MAX_LENGTH) -> str:
    """Return a file name cut to `limit` characters, keeping its extension (`report….pdf`)."""
    if len(name) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > _EXTENSION_MAX:
        return _fit(name, limit)
    return f"{stem[: limit - len(extension) - 2]}….{extension}"


def _one(rows: models.QuerySet[Any, _Row]) -> _Row | None:
    """Return the single row of a unique lookup, or None.

    Unlike first(), adds no ORDER BY id, which can lead PostgreSQL to walk the primary key
    of a large table instead of using the (tenant, public_id) unique index.
    """
    found = list(rows[:1])
    return found[0] if found else None


def _keyset_rows(
    rows: models.QuerySet[Any], columns: tuple[str, ...], after: str | None, limit: int, order: str
) -> models.QuerySet[Any]:
    """Return the query of up to `limit + 1` rows (as `columns`) past the `after` row.

    One statement: the cursor row is read by scalar subqueries, which PostgreSQL runs once
    before the range scan. A cursor that is not among `rows` makes them NULL, and every
    comparison with NULL fails: an empty last page.
    """
    if order not in ("asc", "desc"):
        raise ValueError(f"order must be 'asc' or 'desc', not {order!r}")
    limit = max(limit, 0)
    if after is not None:
        cursor = rows.filter(public_id=after)
        created_at = Subquery(cursor.values("created_at")[:1])
        pk = Subquery(cursor.values("id")[:1])
        # `created_at >= c` is the index range; the exclude drops the few rows of the same
        # instant at or before the cursor. An OR of the two would scan from the start.
        if order == "asc":
            rows = rows.filter(created_at__gte=created_at).exclude(
                created_at=created_at, id__lte=pk
            )
        else:
            rows = rows.filter(created_at__lte=created_at).exclude(
                created_at=created_at, id__gte=pk
            )
    ordering = ("created_at", "id") if order == "asc" else ("-created_at", "-id")
    return rows.order_by(*ordering).values_list(*columns)[: limit + 1]


def _keyset_page(
    rows: models.QuerySet[Any], columns: tuple[str, ...], after: str | None, limit: int, order: str
) -> tuple[list[tuple[Any, ...]], bool]:
    """Return up to `limit` rows (as `columns`) past the `after` row, and whether more remain."""
    limit = max(limit, 0)
    found = list(_keyset_rows(rows, columns, after, limit, order))
    return found[:limit], len(found) > limit


# The lists' statements, compiled once per shape (tenants/prepared.py): a page of threads
# or items is the most frequent request there is, and building and compiling its queryset
# cost more than running it. The shape is what changes the SQL's text.
_THREAD_COLUMNS = (
    "public_id",
    "created_at",
    "title",
    "status",
    "allowed_image_domains",
    "metadata",
)


def _narrowed(rows: models.QuerySet[Any], p: Placeholders, agent: bool, end_user: bool) -> Any:
    if agent:
        rows = rows.filter(agent_id=p.agent_id)
    if end_user:
        rows = rows.filter(end_user_id=p.end_user_id)
    return rows


def _thread_page_query(
    p: Placeholders, *, agent: bool, end_user: bool, after: bool, order: str, limit: int
) -> models.QuerySet[Any]:
    rows = _narrowed(Thread.objects.for_tenant(p.tenant_id), p, agent, end_user)
    return _keyset_rows(rows, _THREAD_COLUMNS, p.after if after else None, limit, order)


def _item_page_query(
    p: Placeholders, *, agent: bool, end_user: bool, after: bool, order: str, limit: int
) -> models.QuerySet[Any]:
    threads = _narrowed(Thread.objects.for_tenant(p.tenant_id), p, agent, end_user)
    # As in DjangoStore._items: the thread as a scalar subquery, not a join.
    thread_pk = Subquery(threads.filter(public_id=p.thread_id).values("pk")[:1])
    rows = ThreadItemRow.objects.for_tenant(p.tenant_id).filter(thread_id=thread_pk)
    return _keyset_rows(rows, ("data",), p.after if after else None, limit, order)


_THREAD_PAGE: PreparedQuery[Thread] = PreparedQuery(
    _thread_page_query, tenant_id=int, agent_id=int, end_user_id=str, after=str
)
_ITEM_PAGE: PreparedQuery[ThreadItemRow] = PreparedQuery(
    _item_page_query, tenant_id=int, agent_id=int, end_user_id=str, after=str, thread_id=str
)


def _page(records: list[Any], has_more: bool) -> Page[Any]:
    return Page(data=records, has_more=has_more, after=records[-1].id if has_more else None)


class DjangoStore(Store[TContext]):
    """A `Store` that keeps one tenant's threads, items and attachments in the database."""

    def __init__(
        self, tenant: Tenant, *, agent: Agent | None = None, end_user_id: str | None = None
    ) -> None:
        """Build the store of `tenant`, narrowed to `agent` and `end_user_id` if given.

        None leaves a dimension open (the console's whole-tenant store). An empty end user
        id is refused: it would put every end user without an id in one shared history.
        """
        if tenant.pk is None:
            raise ValueError("DjangoStore needs a saved tenant")
        if agent is not None and (agent.pk is None or agent.tenant_id != tenant.pk):
            raise ValueError("DjangoStore needs a saved agent of its own tenant")
        if end_user_id is not None and not end_user_id:
            raise ValueError("DjangoStore needs a non-empty end_user_id, or None for all")
        self._tenant = tenant
        self._agent = agent
        self._end_user_id = end_user_id
        self._turn: Turn | None = None
        # Reads made ahead of process(), in the hop that authenticated the request.
        self._ahead: dict[tuple[Any, ...], tuple[bool, Any]] = {}

    # On: an attachment whose file was not uploaded yet cannot be loaded (so not referenced
    # from a message); the platform's ChatKit server turns it on (hosted_agents/runtime.py).
    uploaded_attachments_only = False

    @property
    def tenant(self) -> Tenant:
        return self._tenant

    # Ids are unique per tenant, and a large tenant holds far more than the 8 hex digits of
    # the default ids keep apart; these keep the default prefix and add 16 more digits.
    def generate_thread_id(self, context: TContext) -> str:
        thread_id = default_generate_id("thread") + uuid.uuid4().hex[:16]
        turn = self.turn()
        if turn is not None:
            turn.new_thread_ids.add(thread_id)
        return thread_id

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: TContext
    ) -> str:
        return default_generate_id(item_type) + uuid.uuid4().hex[:16]

    # --- scoped querysets -------------------------------------------------------------

    def _narrowing(self) -> dict[str, Any]:
        narrowing: dict[str, Any] = {}
        if self._agent is not None:
            narrowing["agent_id"] = self._agent.pk
        if self._end_user_id is not None:
            narrowing["end_user_id"] = self._end_user_id
        return narrowing

    def _owner(self) -> dict[str, Any]:
        """Return the columns that say whose a new thread or attachment is."""
        agent = self._agent
        return {
            "agent_id": None if agent is None else agent.pk,
            "agent_slug": "" if agent is None else agent.slug,
            "end_user_id": self._end_user_id or "",
        }

    def _threads(self) -> models.QuerySet[Thread]:
        return Thread.objects.for_tenant(self._tenant).filter(**self._narrowing())

    def _thread_pk_subquery(self, thread_id: str) -> Subquery:
        return Subquery(self._threads().filter(public_id=thread_id).values("pk")[:1])

    def _items(self, thread_id: str) -> models.QuerySet[ThreadItemRow]:
        # A scalar subquery, not a join: PostgreSQL resolves the thread once, then walks the
        # thread_item_page index; with a join it chose to scan the tenant's every item.
        rows = ThreadItemRow.objects.for_tenant(self._tenant)
        return rows.filter(thread_id=self._thread_pk_subquery(thread_id))

    def _attachments(self) -> models.QuerySet[AttachmentRow]:
        return AttachmentRow.objects.for_tenant(self._tenant).filter(**self._narrowing())

    def _thread_pk(self, thread_id: str) -> int:
        pk = _one(self._threads().filter(public_id=thread_id).values_list("pk", flat=True))
        if pk is None:
            raise NotFoundError(f"Thread {thread_id} not found")
        return pk

    # --- threads ----------------------------------------------------------------------

    def _load_thread(self, thread_id: str) -> ThreadMetadata:
        row = _one(self._threads().filter(public_id=thread_id))
        if row is None:
            raise NotFoundError(f"Thread {thread_id} not found")
        return self._thread_of(row)

    @staticmethod
    def _thread_of(row: Thread) -> ThreadMetadata:
        return ThreadMetadata.model_validate(
            {
                "id": row.public_id,
                "created_at": row.created_at,
                "title": row.title,
                "status": row.status,
                "allowed_image_domains": row.allowed_image_domains,
                "metadata": row.metadata,
            }
        )

    def _save_thread(self, thread: ThreadMetadata) -> None:
        data = thread.model_dump(mode="json", include=_THREAD_FIELDS)
        fields = {
            "title": data["title"],
            "status": data["status"],
            "allowed_image_domains": data["allowed_image_domains"],
            "metadata": data["metadata"],
        }
        # created_at is left alone on update: a saved thread keeps its place in the list.
        rows = self._threads().filter(public_id=thread.id)
        if rows.update(**fields, updated_at=timezone.now()):
            return
        try:
            with transaction.atomic():
                Thread(
                    tenant=self._tenant,
                    public_id=thread.id,
                    created_at=_aware(thread.created_at),
                    **self._owner(),
                    **fields,
                ).save(force_insert=True)
        except IntegrityError:
            # Another writer inserted it just now, or it is another end user's thread.
            if not rows.update(**fields, updated_at=timezone.now()):
                raise NotFoundError(f"Thread {thread.id} not found") from None

    def _page_rows(
        self,
        query: PreparedQuery[Any],
        after: str | None,
        limit: int,
        order: str,
        **values: Any,
    ) -> tuple[list[tuple[Any, ...]], bool]:
        """Return a keyset page of `query` (see _keyset_rows) narrowed like this store."""
        if order not in ("asc", "desc"):
            raise ValueError(f"order must be 'asc' or 'desc', not {order!r}")
        limit = max(limit, 0)
        shape = {
            "agent": self._agent is not None,
            "end_user": self._end_user_id is not None,
            "after": after is not None,
            "order": order,
            "limit": limit,
        }
        found = query.rows(
            using=Thread.objects.db,
            shape=shape,
            tenant_id=self._tenant.pk,
            agent_id=None if self._agent is None else self._agent.pk,
            end_user_id=self._end_user_id,
            after=after,
            **values,
        )
        return found[:limit], len(found) > limit

    def _load_threads(self, limit: int, after: str | None, order: str) -> Page[ThreadMetadata]:
        found, has_more = self._page_rows(_THREAD_PAGE, after, limit, order)
        names = ("id", *_THREAD_COLUMNS[1:])
        threads = [
            ThreadMetadata.model_validate(dict(zip(names, row, strict=True))) for row in found
        ]
        return _page(threads, has_more)

    def _delete_thread(self, thread_id: str) -> None:
        # Cascades to the thread's items and feedback; its attachments (and their files)
        # go with it too, in the same transaction.
        with transaction.atomic():
            threads = self._threads().filter(public_id=thread_id)
            attachment_rows_delete(
                AttachmentRow.objects.for_tenant(self._tenant).filter(thread__in=threads)
            )
            threads.delete()

    # --- items ------------------------------------------------------------------------

    def _load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str
    ) -> Page[ThreadItem]:
        found, has_more = self._page_rows(_ITEM_PAGE, after, limit, order, thread_id=thread_id)
        if not found:
            # Only an empty page costs a second statement: a missing thread is NotFoundError.
            self._thread_pk(thread_id)
        return _page([_ITEM.validate_python(data) for (data,) in found], has_more)

    def _save_item(self, thread_id: str, item: ThreadItem) -> None:
        """Insert the item, or replace the one with its id: one statement either way.

        The thread is looked up inside the INSERT; outside this store it is NULL, and the
        NOT NULL column refuses the row. A replaced item keeps its row, hence its place,
        whatever its new created_at says: only `data` and `type` are updated on conflict.
        """
        row = ThreadItemRow(
            tenant=self._tenant,
            thread_id=self._thread_pk_subquery(thread_id),
            public_id=item.id,
            type=item.type,
            created_at=_aware(item.created_at),
            data=item.model_dump(mode="json"),
        )
        meta = ThreadItemRow._meta
        try:
            # `_insert` is how Model.save() inserts (not in django-stubs); bulk_create
            # would wrap this one statement in a transaction of its own.
            ThreadItemRow.objects.for_tenant(self._tenant)._insert(  # type: ignore[attr-defined]
                [row],
                fields=[field for field in meta.concrete_fields if not field.primary_key],
                on_conflict=OnConflict.UPDATE,
                update_fields=[meta.get_field("data"), meta.get_field("type")],
                unique_fields=[meta.get_field(name) for name in ("tenant", "thread", "public_id")],
            )
        except IntegrityError:
            raise NotFoundError(f"Thread {thread_id} not found") from None

    def _load_item(self, thread_id: str, item_id: str) -> ThreadItem:
        data = self._items(thread_id).filter(public_id=item_id).values_list("data", flat=True)
        found = _one(data)
        if found is None:
            raise NotFoundError(f"Item {item_id} not found in thread {thread_id}")
        return _ITEM.validate_python(found)

    def _delete_item(self, thread_id: str, item_id: str) -> None:
        self._items(thread_id).filter(public_id=item_id).delete()

    def _create_thread(self, thread: ThreadMetadata, first_item: ThreadItem) -> None:
        with transaction.atomic():
            self._save_thread(thread)
            self._save_item(thread.id, first_item)

    def _find_item_ids(self, thread_id: str, item_ids: list[str]) -> list[str]:
        found = set(
            self._items(thread_id)
            .filter(public_id__in=item_ids)
            .values_list("public_id", flat=True)
        )
        return [item_id for item_id in dict.fromkeys(item_ids) if item_id in found]

    # --- attachments ------------------------------------------------------------------

    def _save_attachment(self, attachment: Attachment) -> None:
        thread_pk = None
        if attachment.thread_id is not None:
            thread_pk = _one(
                self._threads().filter(public_id=attachment.thread_id).values_list("pk", flat=True)
            )
        fields = {
            "thread_id": thread_pk,
            "name": _fit_name(attachment.name),
            "mime_type": _fit(attachment.mime_type, MIME_TYPE_MAX_LENGTH),
            # Keeps the server-private `metadata`, which wire dumps leave out.
            "data": attachment.model_dump(mode="json"),
        }
        rows = self._attachments().filter(public_id=attachment.id)
        if rows.update(**fields, updated_at=timezone.now()):
            return
        try:
            with transaction.atomic():
                AttachmentRow(
                    tenant=self._tenant, public_id=attachment.id, **self._owner(), **fields
                ).save(force_insert=True)
        except IntegrityError:
            # Another writer inserted it just now, or another end user owns this id.
            if not rows.update(**fields, updated_at=timezone.now()):
                raise NotFoundError(f"Attachment {attachment.id} not found") from None

    def _load_attachment(self, attachment_id: str) -> Attachment:
        rows = self._attachments().filter(public_id=attachment_id)
        if self.uploaded_attachments_only:
            rows = rows.exclude(file="")
        found = _one(rows.values_list("data", flat=True))
        if found is None:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return _ATTACHMENT.validate_python(found)

    def _delete_attachment(self, attachment_id: str) -> None:
        attachment_rows_delete(self._attachments().filter(public_id=attachment_id))

    # --- feedback (not part of Store; the platform's server calls it) ----------------

    def _add_feedback(self, thread_id: str, item_ids: list[str], kind: str) -> None:
        try:
            feedback_create(
                tenant=self._tenant,
                thread_id=thread_id,
                item_ids=item_ids,
                kind=kind,
                end_user_id=self._end_user_id or "",
                threads=self._threads(),
            )
        except ObjectNotFound:
            raise NotFoundError(f"Thread {thread_id} not found") from None

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], kind: str, context: TContext
    ) -> None:
        """Record feedback on items of a thread, or raise `NotFoundError`."""
        await self._hop(self._add_feedback, thread_id, item_ids, kind)

    # --- turns: writes held for the next hop ------------------------------------------

    def turn_begin(self) -> Turn | None:
        """Start holding this store's writes; None if a turn is already held (sync, no I/O).

        The platform's server starts the turn before `process()` checks and writes what a
        streaming request needs, so `threads.create`'s thread and message are held with the
        rest of the turn's first hop.
        """
        if self._turn is not None:
            return None
        turn = self._turn = Turn(self)
        return turn

    async def turn_end(self, turn: Turn | None) -> None:
        """Stop holding writes and write what `turn` still holds (one hop, if any)."""
        if turn is None:
            return
        self._turn = None  # from here on, writes go straight to the database
        if turn.holds_writes():
            await orm_hop(self.write, turn)

    async def buffered(
        self, stream: AsyncGenerator[bytes, None], turn: Turn | None = None
    ) -> AsyncGenerator[bytes, None]:
        """Yield `stream`'s chunks while this store holds the writes made meanwhile.

        What is still held when the stream ends (however it ends) is written then. `turn`
        is one `turn_begin` started; without it, the stream starts its own. A store holds
        one turn at a time: a second stream iterated at the same time on the same store
        writes straight through (the platform builds one store per request).
        """
        if turn is None:
            turn = self.turn_begin()
        try:
            async for chunk in stream:
                yield chunk
        finally:
            try:
                await stream.aclose()
            finally:
                await self.turn_end(turn)

    def hold_thread(self, turn: Turn, thread: ThreadMetadata) -> None:
        """Hold a save of `thread` in `turn`, for its next write (sync, no I/O)."""
        turn.threads[thread.id] = _held_thread(thread)
        if thread.id in turn.new_thread_ids:
            turn.known.setdefault(thread.id, {})

    def turn(self) -> Turn | None:
        """Return the turn holding this store's writes, if a stream is running."""
        return self._turn

    def write(self, turn: Turn | None, *, origin: ItemOrigin | None = None) -> None:
        """Write what `turn` holds, stamping `origin`'s items (sync: run it in a hop).

        Threads first, then deletions, then every held item in one INSERT (those of known
        threads that the database does not hold yet carry their origin in it); items of
        `origin` written before get it in one UPDATE.
        """
        if turn is None or not turn.holds_writes():
            if origin is not None:
                self._mark_origin(origin, origin.item_ids)
            return
        # A save that changes nothing the database holds is not written.
        threads = [
            (thread, fields)
            for thread, fields in ((t, _thread_fields(t)) for t in turn.threads.values())
            if thread.id in turn.new_thread_ids or turn.written.get(thread.id) != fields
        ]
        # Each statement commits on its own, as when every write was a hop of its own: a
        # transaction would add BEGIN and COMMIT round trips to the hot path.
        try:
            stamped = self._write_turn(turn, threads, origin)
            if origin is not None:
                self._mark_origin(origin, set(origin.item_ids) - stamped)
        except BaseException:
            # What the turn knew of its threads may not be what the database holds now.
            turn.known.clear()
            turn.written.clear()
            raise
        finally:
            turn.threads.clear()
            turn.items.clear()
            turn.deletes.clear()

    def _mark_origin(self, origin: ItemOrigin, item_ids: Collection[str]) -> None:
        if item_ids:
            thread_items_mark_origin(
                tenant=self._tenant,
                thread_id=origin.thread_id,
                item_ids=item_ids,
                agent_version=origin.agent_version,
                model=origin.model,
            )

    def _write_turn(
        self,
        turn: Turn,
        threads: list[tuple[ThreadMetadata, dict[str, Any]]],
        origin: ItemOrigin | None,
    ) -> set[str]:
        for thread, fields in threads:
            self._write_thread(turn, thread, fields)
        for thread_id, item_ids in turn.deletes.items():
            self._items_of(turn, thread_id).filter(public_id__in=item_ids).delete()
        rows: list[ThreadItemRow] = []
        stamped: set[str] = set()
        for thread_id, pending in turn.items.items():
            pk = turn.thread_pks.get(thread_id)
            thread_ref: Any = pk if pk is not None else self._thread_pk_subquery(thread_id)
            known = turn.known.get(thread_id)
            for item_id, item in pending.items():
                row = ThreadItemRow(
                    tenant=self._tenant,
                    thread_id=thread_ref,
                    public_id=item_id,
                    type=item.type,
                    created_at=item.created_at,
                    data=item.data,
                )
                known_row = None if known is None else known.get(item_id)
                fresh = known_row is not None and not known_row.stored
                if fresh and origin is not None and origin.stamps(thread_id, item_id, item.type):
                    row.agent_version, row.model = origin.agent_version, origin.model
                    stamped.add(item_id)
                rows.append(row)
        if rows:
            self._insert_items(rows, turn.items)
        for thread_id in turn.items:
            for known_item in turn.known.get(thread_id, {}).values():
                known_item.stored = True
        return stamped

    def _write_thread(self, turn: Turn, thread: ThreadMetadata, fields: dict[str, Any]) -> None:
        if thread.id in turn.new_thread_ids:
            # An id this store generated in this turn: nothing to update, insert it.
            row = Thread(
                tenant=self._tenant,
                public_id=thread.id,
                created_at=_aware(thread.created_at),
                **self._owner(),
                **fields,
            )
            row.save(force_insert=True)
            turn.new_thread_ids.discard(thread.id)
            turn.thread_pks[thread.id] = row.pk
        else:
            self._save_thread(thread)
        turn.written[thread.id] = fields

    def _items_of(self, turn: Turn, thread_id: str) -> models.QuerySet[ThreadItemRow]:
        pk = turn.thread_pks.get(thread_id)
        if pk is None:
            return self._items(thread_id)
        return ThreadItemRow.objects.for_tenant(self._tenant).filter(thread_id=pk)

    def _insert_items(
        self, rows: list[ThreadItemRow], by_thread: dict[str, dict[str, _PendingItem]]
    ) -> None:
        """Insert the items, or replace those whose id exists: one statement either way.

        A thread not known by its primary key is looked up inside the INSERT; outside this
        store it is NULL, and the NOT NULL column refuses the row. A replaced item keeps its
        row, hence its place and its origin: only `data` and `type` are updated on conflict.
        """
        meta = ThreadItemRow._meta
        try:
            # `_insert` is how Model.save() inserts (not in django-stubs); bulk_create
            # would wrap this one statement in a transaction of its own.
            ThreadItemRow.objects.for_tenant(self._tenant)._insert(  # type: ignore[attr-defined]
                rows,
                fields=[field for field in meta.concrete_fields if not field.primary_key],
                on_conflict=OnConflict.UPDATE,
                update_fields=[meta.get_field("data"), meta.get_field("type")],
                unique_fields=[meta.get_field(name) for name in ("tenant", "thread", "public_id")],
            )
        except IntegrityError:
            names = ", ".join(by_thread)
            raise NotFoundError(f"Thread {names} not found") from None

    def _load_thread_whole(self, turn: Turn, thread_id: str) -> ThreadMetadata:
        """Load a thread and, if it has at most `KNOWN_HISTORY` items, all of them."""
        self.write(turn)
        row = _one(self._threads().filter(public_id=thread_id))
        if row is None:
            raise NotFoundError(f"Thread {thread_id} not found")
        thread = self._thread_of(row)
        turn.thread_pks[thread_id] = row.pk
        turn.written[thread_id] = _thread_fields(thread)
        # The history every turn sends to the model, read here rather than in a hop of its
        # own; a longer thread is paged from the table as usual.
        found = list(
            ThreadItemRow.objects.for_tenant(self._tenant)
            .filter(thread_id=row.pk)
            .order_by("created_at", "id")
            .values_list("public_id", "created_at", "data")[: KNOWN_HISTORY + 1]
        )
        if len(found) <= KNOWN_HISTORY:
            turn.known[thread_id] = {
                item_id: _KnownItem(created_at, turn.next_seq(), data, stored=True)
                for item_id, created_at, data in found
            }
        return thread

    def _hold_item(self, turn: Turn, thread_id: str, item: ThreadItem) -> None:
        data = item.model_dump(mode="json")
        pending = turn.items.setdefault(thread_id, {})
        held = pending.get(item.id)
        if held is None:
            pending[item.id] = _PendingItem(item.type, _aware(item.created_at), data)
        else:  # the first write decides the row's place, as ON CONFLICT does
            held.type, held.data = item.type, data
        known = turn.known.get(thread_id)
        if known is not None:
            row = known.get(item.id)
            if row is None:
                known[item.id] = _KnownItem(
                    _aware(item.created_at), turn.next_seq(), data, stored=False
                )
            else:
                row.data = data

    def _drop_item(self, turn: Turn, thread_id: str, item_id: str) -> None:
        pending = turn.items.get(thread_id)
        if pending is not None:
            pending.pop(item_id, None)
        known = turn.known.get(thread_id)
        row = None if known is None else known.pop(item_id, None)
        if known is None or (row is not None and row.stored):
            turn.deletes.setdefault(thread_id, set()).add(item_id)

    def _forget_thread(self, turn: Turn, thread_id: str) -> None:
        turn.threads.pop(thread_id, None)
        turn.items.pop(thread_id, None)
        turn.deletes.pop(thread_id, None)
        turn.known.pop(thread_id, None)
        turn.written.pop(thread_id, None)
        turn.thread_pks.pop(thread_id, None)

    async def _hop(self, function: Callable[..., _R], *args: Any) -> _R:
        """Run a store operation in one hop, after writing what the current turn holds."""
        turn = self.turn()
        if turn is None or not turn.holds_writes():
            return await orm_hop(function, *args)
        return await orm_hop(self._after_writes, turn, function, args)

    def _after_writes(self, turn: Turn, function: Callable[..., _R], args: tuple[Any, ...]) -> _R:
        self.write(turn)
        return function(*args)

    # --- the Store interface ----------------------------------------------------------

    async def load_thread(self, thread_id: str, context: TContext) -> ThreadMetadata:
        turn = self.turn()
        if turn is None:
            return await orm_hop(self._load_thread, thread_id)
        held = turn.threads.get(thread_id)
        if held is not None:
            return held.model_copy(deep=True)
        return await orm_hop(self._load_thread_whole, turn, thread_id)

    async def save_thread(self, thread: ThreadMetadata, context: TContext) -> None:
        turn = self.turn()
        if turn is None:
            await orm_hop(self._save_thread, thread)
            return
        self.hold_thread(turn, thread)

    # --- reads made ahead ----------------------------------------------------------------
    #
    # The endpoint authenticates a request in a hop of its own; for a list, that hop costs
    # more than the list's statement. So the endpoint may ask, in that same hop (sync),
    # for the read the request will make: the result (or the error) is kept, and the
    # matching call below takes it instead of hopping again. A call with other arguments
    # reads as usual; a kept result is used once.

    def prefetch_threads(self, limit: int, after: str | None, order: str) -> None:
        """Read a page of threads now (sync), for the next `load_threads` with these args."""
        self._read_ahead(("threads", limit, after, order), self._load_threads, limit, after, order)

    def prefetch_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str
    ) -> None:
        """Read a page of items now (sync), for the next `load_thread_items` with these args."""
        key = ("items", thread_id, after, limit, order)
        self._read_ahead(key, self._load_thread_items, thread_id, after, limit, order)

    def _read_ahead(self, key: tuple[Any, ...], read: Callable[..., Any], *args: Any) -> None:
        try:
            self._ahead[key] = (True, read(*args))
        except (NotFoundError, ValueError) as error:
            self._ahead[key] = (False, error)

    def _taken(self, key: tuple[Any, ...]) -> tuple[bool, Any] | None:
        return self._ahead.pop(key, None) if self._ahead else None

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: TContext
    ) -> Page[ThreadMetadata]:
        ahead = self._taken(("threads", limit, after, order))
        if ahead is not None:
            page: Page[ThreadMetadata] = _result(ahead)
            return page
        return await self._hop(self._load_threads, limit, after, order)

    async def delete_thread(self, thread_id: str, context: TContext) -> None:
        await self._hop(self._delete_thread, thread_id)
        turn = self.turn()
        if turn is not None:
            self._forget_thread(turn, thread_id)

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: TContext
    ) -> Page[ThreadItem]:
        turn = self.turn()
        known = None if turn is None else turn.known.get(thread_id)
        if known is not None:
            return _known_page(known, after, limit, order)
        ahead = self._taken(("items", thread_id, after, limit, order))
        if ahead is not None:
            items: Page[ThreadItem] = _result(ahead)
            return items
        return await self._hop(self._load_thread_items, thread_id, after, limit, order)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: TContext) -> None:
        await self.save_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: TContext) -> None:
        turn = self.turn()
        if turn is not None and _turn_knows_thread(turn, thread_id):
            self._hold_item(turn, thread_id, item)
        else:
            # A thread this turn has not read or made may not exist: write now, so that a
            # missing one raises NotFoundError here, as it does without a turn.
            await self._hop(self._save_item, thread_id, item)

    async def load_item(self, thread_id: str, item_id: str, context: TContext) -> ThreadItem:
        turn = self.turn()
        known = None if turn is None else turn.known.get(thread_id)
        if known is None:
            return await self._hop(self._load_item, thread_id, item_id)
        row = known.get(item_id)
        if row is None:
            raise NotFoundError(f"Item {item_id} not found in thread {thread_id}")
        return _item_of(row)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: TContext) -> None:
        turn = self.turn()
        if turn is None:
            await orm_hop(self._delete_item, thread_id, item_id)
        else:
            self._drop_item(turn, thread_id, item_id)

    async def create_thread(
        self, thread: ThreadMetadata, first_item: ThreadItem, context: TContext
    ) -> None:
        turn = self.turn()
        if turn is None:
            await _run(self._create_thread, thread, first_item)
            return
        # Held: the turn's first hop writes both, the thread first. An item that cannot be
        # held takes its thread with it, as a failed unit leaves neither.
        self.hold_thread(turn, thread)
        try:
            self._hold_item(turn, thread.id, first_item)
        except BaseException:
            self._forget_thread(turn, thread.id)
            raise

    async def find_item_ids(
        self, thread_id: str, item_ids: list[str], context: TContext
    ) -> list[str]:
        return await self._hop(self._find_item_ids, thread_id, item_ids)

    async def save_attachment(self, attachment: Attachment, context: TContext) -> None:
        await self._hop(self._save_attachment, attachment)

    async def load_attachment(self, attachment_id: str, context: TContext) -> Attachment:
        return await self._hop(self._load_attachment, attachment_id)

    async def delete_attachment(self, attachment_id: str, context: TContext) -> None:
        await self._hop(self._delete_attachment, attachment_id)


def _result(ahead: tuple[bool, Any]) -> Any:
    succeeded, value = ahead
    if not succeeded:
        raise value
    return value


def _turn_knows_thread(turn: Turn, thread_id: str) -> bool:
    """Whether `turn` read or made `thread_id`, so a held item of it can be written later."""
    return (
        thread_id in turn.threads
        or thread_id in turn.thread_pks
        or thread_id in turn.new_thread_ids
    )
