"""Persistence contract of a ChatKit server, and an in-memory implementation.

`Store` is what `ChatKitServer` reads and writes threads, items and attachment metadata
through; `AttachmentStore` handles the bytes of uploaded files. Every method receives the
per-request context, which an implementation uses to scope and authorise its data.

Ordering and paging rules shared by all implementations (the conformance suite in
`chatkit_core.testing` checks them):

* threads and items are ordered by `created_at`; equal timestamps keep insertion order;
* `after` is exclusive: a page starts just past the record with that id; an unknown
  `after` (a deleted record, a record of another thread or scope) gives an empty page
  with `has_more` false, so a stale cursor never silently restarts from the first page;
* `has_more` tells whether records remain past the page, and `Page.after` is the id of
  the page's last record only when `has_more` is true.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from bisect import bisect_left
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from typing import Any, Generic, Literal

from typing_extensions import TypeVar

from chatkit_core._copying import copy_record
from chatkit_core._time import aware_utc
from chatkit_core.types import (
    Attachment,
    AttachmentCreateParams,
    Page,
    ThreadItem,
    ThreadMetadata,
)

__all__ = [
    "Attachment",
    "AttachmentCreateParams",
    "AttachmentStore",
    "MemoryStore",
    "NotFoundError",
    "Page",
    "Store",
    "StoreItemType",
    "TContext",
    "ThreadItem",
    "ThreadMetadata",
    "default_generate_id",
]

TContext = TypeVar("TContext", default=Any)

StoreItemType = Literal[
    "thread",
    "message",
    "tool_call",
    "task",
    "workflow",
    "attachment",
    "sdk_hidden_context",
]

_PREFIXES: dict[StoreItemType, str] = {
    "thread": "thr",
    "message": "msg",
    "tool_call": "tc",
    "task": "tsk",
    "workflow": "wf",
    "attachment": "atc",
    "sdk_hidden_context": "shcx",
}


def default_generate_id(item_type: StoreItemType) -> str:
    """Return a fresh id: the type's prefix, an underscore and 8 random hex digits."""
    # 4 random bytes give the same 8 lowercase hex digits as a truncated uuid4, faster.
    return f"{_PREFIXES[item_type]}_{os.urandom(4).hex()}"


class NotFoundError(Exception):
    """Raised by a store when the requested thread, item or attachment does not exist.

    A record that exists but belongs to another context (tenant) raises it too, so callers
    cannot tell the two apart.
    """


class AttachmentStore(ABC, Generic[TContext]):
    """Storage for the bytes of uploaded files (the metadata lives in `Store`)."""

    @abstractmethod
    async def delete_attachment(self, attachment_id: str, context: TContext) -> None:
        """Delete the stored file of an attachment."""

    async def create_attachment(
        self, input: AttachmentCreateParams, context: TContext
    ) -> Attachment:
        """Return a new attachment carrying an upload descriptor for two-phase upload.

        The base class has no upload target, so it refuses; subclasses that accept
        `attachments.create` requests override this method.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not support two-phase upload: "
            "override create_attachment() to return an Attachment with an upload_descriptor"
        )

    def generate_attachment_id(self, mime_type: str, context: TContext) -> str:
        """Return a new attachment id (`atc_` + 8 hex digits); override to change the scheme."""
        return default_generate_id("attachment")


class Store(ABC, Generic[TContext]):
    """Persistence for threads, thread items and attachment metadata."""

    def generate_thread_id(self, context: TContext) -> str:
        """Return a new thread id (`thr_` + 8 hex digits); override to change the scheme."""
        return default_generate_id("thread")

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: TContext
    ) -> str:
        """Return a new item id prefixed by its type (`msg_`, `wf_`, ...); override freely."""
        return default_generate_id(item_type)

    @abstractmethod
    async def load_thread(self, thread_id: str, context: TContext) -> ThreadMetadata:
        """Return a thread's metadata, or raise `NotFoundError`.

        `ChatKitServer` also reads a `None` result (allowed by the seed reference) as not
        found, but raising is the contract `chatkit_core.testing` checks.
        """

    @abstractmethod
    async def save_thread(self, thread: ThreadMetadata, context: TContext) -> None:
        """Insert or update a thread's metadata; a full `Thread` keeps only its metadata."""

    @abstractmethod
    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: TContext,
    ) -> Page[ThreadItem]:
        """Return one page of a thread's items, hidden items included.

        Raise `NotFoundError` when the thread does not exist (or is another scope's).
        """

    @abstractmethod
    async def save_attachment(self, attachment: Attachment, context: TContext) -> None:
        """Insert or update attachment metadata, including its private `metadata`."""

    @abstractmethod
    async def load_attachment(self, attachment_id: str, context: TContext) -> Attachment:
        """Return attachment metadata, or raise `NotFoundError`."""

    @abstractmethod
    async def delete_attachment(self, attachment_id: str, context: TContext) -> None:
        """Delete attachment metadata."""

    @abstractmethod
    async def load_threads(
        self,
        limit: int,
        after: str | None,
        order: str,
        context: TContext,
    ) -> Page[ThreadMetadata]:
        """Return one page of threads ordered by `created_at`."""

    @abstractmethod
    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: TContext) -> None:
        """Store a new item; an item whose id is already stored is replaced in place."""

    @abstractmethod
    async def save_item(self, thread_id: str, item: ThreadItem, context: TContext) -> None:
        """Insert or replace an item by id, keeping the position of a replaced item."""

    @abstractmethod
    async def load_item(self, thread_id: str, item_id: str, context: TContext) -> ThreadItem:
        """Return one item of a thread, or raise `NotFoundError`.

        `ChatKitServer` reads a `None` result as not found too.
        """

    @abstractmethod
    async def delete_thread(self, thread_id: str, context: TContext) -> None:
        """Delete a thread together with all of its items."""

    async def create_thread(
        self, thread: ThreadMetadata, first_item: ThreadItem, context: TContext
    ) -> None:
        """Save a new thread together with its first item, as one unit.

        `threads.create` calls this. When it raises, neither record may remain. The default
        saves the thread, then the item, and deletes the thread again if the item fails;
        a store with transactions should override it to write both in one.
        """
        await self.save_thread(thread, context=context)
        try:
            await self.add_thread_item(thread.id, first_item, context=context)
        except BaseException:
            await self.delete_thread(thread.id, context=context)
            raise

    async def find_item_ids(
        self, thread_id: str, item_ids: list[str], context: TContext
    ) -> list[str]:
        """Return those of `item_ids` that name items of the thread, each once, in order.

        `items.feedback` calls this once per request. The default loads each item; a store
        that can answer in one query should override it.
        """
        found: list[str] = []
        for item_id in dict.fromkeys(item_ids):
            try:
                item = await self.load_item(thread_id, item_id, context=context)
            except NotFoundError:
                continue
            if item is not None:  # a seed-style store answers None for a missing item
                found.append(item_id)
        return found

    @abstractmethod
    async def delete_thread_item(self, thread_id: str, item_id: str, context: TContext) -> None:
        """Delete one item; an unknown id is not an error."""


# --- MemoryStore ------------------------------------------------------------------------

_V = TypeVar("_V")
_SortKey = tuple[datetime, int]


class _OrderedIndex(Generic[_V]):
    """Records kept sorted by (created_at, insertion number), also reachable by id.

    `_keys` and `_ids` are parallel sorted lists, so a cursor is found by bisection and a
    page is a slice: O(log n + limit) per page, never a copy of the whole collection.
    """

    def __init__(self) -> None:
        self._keys: list[_SortKey] = []
        self._ids: list[str] = []
        self._records: dict[str, tuple[_SortKey, _V]] = {}

    def get(self, record_id: str) -> _V | None:
        record = self._records.get(record_id)
        return None if record is None else record[1]

    def upsert(self, record_id: str, created_at: datetime, value: _V, number: int) -> None:
        existing = self._records.get(record_id)
        if existing is not None:
            # A replaced record keeps its place, even if its created_at changed.
            self._records[record_id] = (existing[0], value)
            return
        key = (aware_utc(created_at), number)
        if not self._keys or key > self._keys[-1]:
            self._keys.append(key)
            self._ids.append(record_id)
        else:
            position = bisect_left(self._keys, key)
            self._keys.insert(position, key)
            self._ids.insert(position, record_id)
        self._records[record_id] = (key, value)

    def remove(self, record_id: str) -> None:
        record = self._records.pop(record_id, None)
        if record is None:
            return
        position = bisect_left(self._keys, record[0])
        del self._keys[position]
        del self._ids[position]

    def page(self, after: str | None, limit: int, order: str) -> tuple[list[_V], bool]:
        """Return up to `limit` records past the cursor, and whether more remain."""
        if order not in ("asc", "desc"):
            raise ValueError(f"order must be 'asc' or 'desc', not {order!r}")
        limit = max(limit, 0)
        cursor = self._records.get(after) if after is not None else None
        if after is not None and cursor is None:
            # An unknown cursor (a deleted record, say) ends the listing: restarting from
            # the first page would make a client show records twice.
            return [], False
        if order == "asc":
            start = 0 if cursor is None else bisect_left(self._keys, cursor[0]) + 1
            ids = self._ids[start : start + limit]
            has_more = start + limit < len(self._ids)
        elif order == "desc":
            end = len(self._ids) if cursor is None else bisect_left(self._keys, cursor[0])
            start = max(end - limit, 0)
            ids = self._ids[start:end][::-1]
            has_more = start > 0
        return [self._records[record_id][1] for record_id in ids], has_more


@dataclass
class _Namespace:
    threads: _OrderedIndex[ThreadMetadata] = field(default_factory=_OrderedIndex)
    items: dict[str, _OrderedIndex[ThreadItem]] = field(default_factory=dict)
    attachments: dict[str, Attachment] = field(default_factory=dict)


def _metadata_only(thread: ThreadMetadata) -> ThreadMetadata:
    # save_thread may receive a full Thread; its `items` page must not be stored.
    if type(thread) is ThreadMetadata:
        return copy_record(thread)
    fields = {name: getattr(thread, name) for name in ThreadMetadata.model_fields}
    return copy_record(ThreadMetadata.model_validate(fields))


def _page(records: list[Any], has_more: bool) -> tuple[list[Any], str | None]:
    copies = [copy_record(record) for record in records]
    return copies, (records[-1].id if has_more and records else None)


class MemoryStore(Store[TContext]):
    """A complete `Store` that keeps everything in process memory (development and tests).

    Scoping: by default all contexts share one namespace, like the official examples, so
    any context object works. Pass `scope`, a function from the context to a hashable key
    (for example `lambda ctx: ctx.tenant_id`), to give each key its own threads, items and
    attachments; a record of another scope then behaves exactly like a missing one.

    Records are copied on the way in and on the way out, so callers may mutate what they
    saved or loaded. Every operation runs under one lock without awaiting, so concurrent
    tasks (and threads) never lose, duplicate or reorder records.
    """

    def __init__(self, *, scope: Callable[[TContext], Hashable] | None = None) -> None:
        self._scope = scope
        self._namespaces: dict[Hashable, _Namespace] = {}
        self._lock = threading.Lock()
        self._numbers = count()

    def _space(self, context: TContext) -> _Namespace:
        # Callers hold self._lock.
        key = None if self._scope is None else self._scope(context)
        space = self._namespaces.get(key)
        if space is None:
            space = self._namespaces[key] = _Namespace()
        return space

    async def load_thread(self, thread_id: str, context: TContext) -> ThreadMetadata:
        with self._lock:
            thread = self._space(context).threads.get(thread_id)
        if thread is None:
            raise NotFoundError(f"Thread {thread_id} not found")
        return copy_record(thread)

    async def save_thread(self, thread: ThreadMetadata, context: TContext) -> None:
        stored = _metadata_only(thread)
        with self._lock:
            space = self._space(context)
            space.threads.upsert(stored.id, stored.created_at, stored, next(self._numbers))
            space.items.setdefault(stored.id, _OrderedIndex())

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: TContext
    ) -> Page[ThreadMetadata]:
        with self._lock:
            records, has_more = self._space(context).threads.page(after, limit, order)
        data, cursor = _page(records, has_more)
        return Page[ThreadMetadata](data=data, has_more=has_more, after=cursor)

    async def delete_thread(self, thread_id: str, context: TContext) -> None:
        with self._lock:
            space = self._space(context)
            space.threads.remove(thread_id)
            space.items.pop(thread_id, None)

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: TContext
    ) -> Page[ThreadItem]:
        with self._lock:
            items = self._space(context).items.get(thread_id)
            records, has_more = ([], False) if items is None else items.page(after, limit, order)
        if items is None:
            raise NotFoundError(f"Thread {thread_id} not found")
        data, cursor = _page(records, has_more)
        return Page[ThreadItem](data=data, has_more=has_more, after=cursor)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: TContext) -> None:
        # An upsert: the agents helper may add the same workflow item twice.
        await self.save_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: TContext) -> None:
        stored = copy_record(item)
        with self._lock:
            items = self._space(context).items.get(thread_id)
            if items is None:
                raise NotFoundError(f"Thread {thread_id} not found")
            items.upsert(stored.id, stored.created_at, stored, next(self._numbers))

    async def load_item(self, thread_id: str, item_id: str, context: TContext) -> ThreadItem:
        with self._lock:
            items = self._space(context).items.get(thread_id)
            item = None if items is None else items.get(item_id)
        if item is None:
            raise NotFoundError(f"Item {item_id} not found in thread {thread_id}")
        return copy_record(item)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: TContext) -> None:
        with self._lock:
            items = self._space(context).items.get(thread_id)
            if items is not None:
                items.remove(item_id)

    async def find_item_ids(
        self, thread_id: str, item_ids: list[str], context: TContext
    ) -> list[str]:
        with self._lock:
            items = self._space(context).items.get(thread_id)
            if items is None:
                return []
            return [item_id for item_id in dict.fromkeys(item_ids) if items.get(item_id)]

    async def save_attachment(self, attachment: Attachment, context: TContext) -> None:
        stored = copy_record(attachment)
        with self._lock:
            self._space(context).attachments[stored.id] = stored

    async def load_attachment(self, attachment_id: str, context: TContext) -> Attachment:
        with self._lock:
            attachment = self._space(context).attachments.get(attachment_id)
        if attachment is None:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return copy_record(attachment)

    async def delete_attachment(self, attachment_id: str, context: TContext) -> None:
        with self._lock:
            self._space(context).attachments.pop(attachment_id, None)
