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

Attachment names and MIME types are kept whole in the protocol attachment (`data`); the
`name` and `mime_type` columns are listing copies, shortened to fit their columns (a
name keeps its extension) rather than refused: a long file name is not the end user's
error, and the attachment they get back is the one they sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from channels.db import database_sync_to_async
from django.db import IntegrityError, models, transaction
from django.db.models import Subquery
from django.db.models.constants import OnConflict
from django.utils import timezone
from pydantic import TypeAdapter

from chatkit_core.store import NotFoundError, Store, StoreItemType, TContext, default_generate_id
from chatkit_core.types import Attachment, Page, ThreadItem, ThreadMetadata
from tenants.models import Attachment as AttachmentRow
from tenants.models import Tenant, Thread
from tenants.models import ThreadItem as ThreadItemRow
from tenants.models.conversations import MIME_TYPE_MAX_LENGTH, NAME_MAX_LENGTH
from tenants.services.feedback import feedback_create

if TYPE_CHECKING:
    from hosted_agents.models import Agent

__all__ = ["DjangoStore"]

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


async def _run(function: Callable[..., _R], *args: Any) -> _R:
    # Channels has no type hints: the bridge's result is typed here, once.
    result: _R = await _bridge(function, *args)
    return result


def _aware(value: datetime) -> datetime:
    # The official server makes some naive timestamps; they are UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


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


def _keyset_page(
    rows: models.QuerySet[Any], columns: tuple[str, ...], after: str | None, limit: int, order: str
) -> tuple[list[tuple[Any, ...]], bool]:
    """Return up to `limit` rows (as `columns`) past the `after` row, and whether more remain.

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
    found = list(rows.order_by(*ordering).values_list(*columns)[: limit + 1])
    return found[:limit], len(found) > limit


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

    @property
    def tenant(self) -> Tenant:
        return self._tenant

    # Ids are unique per tenant, and a large tenant holds far more than the 8 hex digits of
    # the default ids keep apart; these keep the default prefix and add 16 more digits.
    def generate_thread_id(self, context: TContext) -> str:
        return default_generate_id("thread") + uuid.uuid4().hex[:16]

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

    def _load_threads(self, limit: int, after: str | None, order: str) -> Page[ThreadMetadata]:
        columns = (
            "public_id",
            "created_at",
            "title",
            "status",
            "allowed_image_domains",
            "metadata",
        )
        found, has_more = _keyset_page(self._threads(), columns, after, limit, order)
        threads = [
            ThreadMetadata.model_validate(dict(zip(("id", *columns[1:]), row, strict=True)))
            for row in found
        ]
        return _page(threads, has_more)

    def _delete_thread(self, thread_id: str) -> None:
        # Cascades to the thread's items and feedback; attachments lose their thread link.
        self._threads().filter(public_id=thread_id).delete()

    # --- items ------------------------------------------------------------------------

    def _load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str
    ) -> Page[ThreadItem]:
        found, has_more = _keyset_page(self._items(thread_id), ("data",), after, limit, order)
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
        found = _one(
            self._attachments().filter(public_id=attachment_id).values_list("data", flat=True)
        )
        if found is None:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return _ATTACHMENT.validate_python(found)

    def _delete_attachment(self, attachment_id: str) -> None:
        self._attachments().filter(public_id=attachment_id).delete()

    # --- feedback (not part of Store; ChatKitServer.add_feedback calls it) ------------

    def _add_feedback(self, thread_id: str, item_ids: list[str], kind: str) -> None:
        self._thread_pk(thread_id)  # raises NotFoundError outside this store's narrowing
        feedback_create(
            tenant=self._tenant,
            thread_id=thread_id,
            item_ids=item_ids,
            kind=kind,
            end_user_id=self._end_user_id or "",
        )

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], kind: str, context: TContext
    ) -> None:
        """Record feedback on items of a thread, or raise `NotFoundError`."""
        await _run(self._add_feedback, thread_id, item_ids, kind)

    # --- the Store interface ----------------------------------------------------------

    async def load_thread(self, thread_id: str, context: TContext) -> ThreadMetadata:
        return await _run(self._load_thread, thread_id)

    async def save_thread(self, thread: ThreadMetadata, context: TContext) -> None:
        await _run(self._save_thread, thread)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: TContext
    ) -> Page[ThreadMetadata]:
        return await _run(self._load_threads, limit, after, order)

    async def delete_thread(self, thread_id: str, context: TContext) -> None:
        await _run(self._delete_thread, thread_id)

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: TContext
    ) -> Page[ThreadItem]:
        return await _run(self._load_thread_items, thread_id, after, limit, order)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: TContext) -> None:
        await _run(self._save_item, thread_id, item)

    async def save_item(self, thread_id: str, item: ThreadItem, context: TContext) -> None:
        await _run(self._save_item, thread_id, item)

    async def load_item(self, thread_id: str, item_id: str, context: TContext) -> ThreadItem:
        return await _run(self._load_item, thread_id, item_id)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: TContext) -> None:
        await _run(self._delete_item, thread_id, item_id)

    async def create_thread(
        self, thread: ThreadMetadata, first_item: ThreadItem, context: TContext
    ) -> None:
        await _run(self._create_thread, thread, first_item)

    async def find_item_ids(
        self, thread_id: str, item_ids: list[str], context: TContext
    ) -> list[str]:
        return await _run(self._find_item_ids, thread_id, item_ids)

    async def save_attachment(self, attachment: Attachment, context: TContext) -> None:
        await _run(self._save_attachment, attachment)

    async def load_attachment(self, attachment_id: str, context: TContext) -> Attachment:
        return await _run(self._load_attachment, attachment_id)

    async def delete_attachment(self, attachment_id: str, context: TContext) -> None:
        await _run(self._delete_attachment, attachment_id)
