"""Timestamps are always timezone-aware, even when integrator code uses `datetime.now()`.

The official SDK (and code written for it) stamps naive local time. Every protocol
`created_at` (and `ThreadMetadata.updated_at`) reads a naive value as local time and
converts it to UTC, so stores only ever see aware values. These tests run on a machine
clock far from UTC (Asia/Tokyo, +09:00, no daylight saving), where reading naive values as
UTC would put them nine hours in the future.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from chatkit_core._agents_stream import elapsed_seconds
from chatkit_core._serialization import dump_json
from chatkit_core._time import aware_utc
from chatkit_core.server import ChatKitServer
from chatkit_core.store import MemoryStore, NotFoundError, Store
from chatkit_core.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    Attachment,
    Page,
    Thread,
    ThreadItem,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
)

from ._server_harness import CTX, Context, call, stream, user_input

TOKYO = timezone(timedelta(hours=9))


@pytest.fixture(autouse=True)
def tokyo_clock() -> Iterator[None]:
    """Run the test with the process's local time zone set to Asia/Tokyo."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    try:
        assert datetime(2025, 1, 1).astimezone().utcoffset() == timedelta(hours=9)
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


def assistant_at(item_id: str, thread_id: str, created_at: datetime) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=created_at,
        content=[AssistantMessageContent(text=item_id)],
    )


# --- the types -----------------------------------------------------------------------------


def test_a_naive_created_at_is_read_as_local_time_and_stored_as_utc() -> None:
    naive = datetime(2025, 1, 1, 9, 0, 0, 250000)

    item = assistant_at("msg_1", "thr_1", naive)
    thread = ThreadMetadata(id="thr_1", created_at=naive, updated_at=naive)

    expected = datetime(2025, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)
    assert (item.created_at, thread.created_at, thread.updated_at) == (expected,) * 3
    assert item.created_at.tzinfo is UTC
    assert b'"created_at":"2025-01-01T00:00:00.250000Z"' in dump_json(item)


def test_every_thread_item_type_and_thread_class_normalises_created_at() -> None:
    naive = datetime(2025, 1, 1, 9)
    for model in (ThreadMetadata, Thread):
        assert model(id="thr_1", created_at=naive).created_at.tzinfo is UTC
    user = UserMessageItem.model_validate(
        {
            "id": "msg_u",
            "thread_id": "thr_1",
            "created_at": naive,
            "content": [],
            "inference_options": {},
        }
    )
    assert user.created_at == datetime(2025, 1, 1, 0, tzinfo=UTC)


def test_a_naive_timestamp_assigned_after_construction_is_converted_too() -> None:
    item = assistant_at("msg_1", "thr_1", datetime(2025, 1, 1, tzinfo=UTC))
    thread = ThreadMetadata(id="thr_1", created_at=datetime(2025, 1, 1, tzinfo=UTC))

    item.created_at = datetime(2025, 1, 1, 18)
    thread.created_at = datetime(2025, 1, 1, 18)
    thread.updated_at = datetime(2025, 1, 1, 19)

    assert item.created_at == datetime(2025, 1, 1, 9, tzinfo=UTC)
    assert thread.created_at == datetime(2025, 1, 1, 9, tzinfo=UTC)
    assert thread.updated_at == datetime(2025, 1, 1, 10, tzinfo=UTC)


def test_aware_timestamps_are_kept_exactly_as_given() -> None:
    offset = datetime(2025, 1, 1, 9, tzinfo=timezone(timedelta(hours=2)))
    item = assistant_at("msg_1", "thr_1", offset)

    assert item.created_at is offset
    assert b'"created_at":"2025-01-01T09:00:00+02:00"' in dump_json(item)


def test_datetime_now_minus_created_at_needs_an_aware_now() -> None:
    # The documented difference: code written for the official SDK must use now(UTC).
    item = assistant_at("msg_1", "thr_1", datetime.now())
    with pytest.raises(TypeError):
        _ = datetime.now() - item.created_at
    assert abs((datetime.now(UTC) - item.created_at).total_seconds()) < 5


def test_memory_store_orders_naive_values_as_local_time() -> None:
    # Naive values only arrive through model_construct; the store sorts them by aware_utc,
    # so they land where they were meant.
    naive_tokyo_noon = datetime(2025, 1, 1, 12)
    assert aware_utc(naive_tokyo_noon) == datetime(2025, 1, 1, 3, tzinfo=UTC)
    aware = datetime(2025, 1, 1, 4, tzinfo=UTC)
    assert aware_utc(aware) is aware


def test_elapsed_seconds_reads_a_naive_start_as_local_time() -> None:
    assert elapsed_seconds(datetime.now() - timedelta(seconds=30)) in range(29, 33)


# --- through the server ---------------------------------------------------------------------


class LocalClockServer(ChatKitServer[Context]):
    """Answers like code written for the official SDK: items stamped `datetime.now()`."""

    async def respond(
        self, thread: ThreadMetadata, item: UserMessageItem | None, context: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        assert item is not None
        reply = assistant_at(
            self.store.generate_item_id("message", thread, context), thread.id, datetime.now()
        )
        reply.content[0].text = f"reply to {item.text}"
        yield ThreadItemDoneEvent(item=reply)


def texts(items: list[dict[str, Any]]) -> list[str]:
    return [item["content"][0]["text"] for item in items]


async def test_items_stamped_with_local_now_are_listed_in_the_order_they_happened() -> None:
    server = LocalClockServer(MemoryStore())
    events = await stream(server, "threads.create", {"input": user_input("one")})
    thread_id = events[0]["thread"]["id"]
    await stream(
        server, "threads.add_user_message", {"thread_id": thread_id, "input": user_input("two")}
    )

    thread = await call(server, "threads.get_by_id", {"thread_id": thread_id})

    assert texts(thread["items"]["data"]) == ["one", "reply to one", "two", "reply to two"]
    stored = await server.store.load_thread_items(thread_id, None, 10, "asc", CTX)
    assert all(item.created_at.tzinfo is not None for item in stored.data)


async def test_retry_after_item_deletes_only_the_items_after_it_on_a_non_utc_clock() -> None:
    server = LocalClockServer(MemoryStore())
    events = await stream(server, "threads.create", {"input": user_input("one")})
    thread_id = events[0]["thread"]["id"]
    await stream(
        server, "threads.add_user_message", {"thread_id": thread_id, "input": user_input("two")}
    )
    before = await call(server, "items.list", {"thread_id": thread_id, "order": "asc"})
    two = next(item for item in before["data"] if texts([item]) == ["two"])

    await stream(server, "threads.retry_after_item", {"thread_id": thread_id, "item_id": two["id"]})

    after = await call(server, "items.list", {"thread_id": thread_id, "order": "asc"})
    assert texts(after["data"]) == ["one", "reply to one", "two", "reply to two"]
    assert [item["id"] for item in after["data"]][:3] == [item["id"] for item in before["data"]][:3]


class SortingDictStore(Store[Context]):
    """A store in the style of the official examples: dicts, sorted by created_at on read."""

    def __init__(self) -> None:
        self.threads: dict[str, ThreadMetadata] = {}
        self.items: dict[str, dict[str, ThreadItem]] = {}

    async def load_thread(self, thread_id: str, context: Context) -> ThreadMetadata:
        if thread_id not in self.threads:
            raise NotFoundError(thread_id)
        return self.threads[thread_id]

    async def save_thread(self, thread: ThreadMetadata, context: Context) -> None:
        self.threads[thread.id] = thread
        self.items.setdefault(thread.id, {})

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: Context
    ) -> Page[ThreadItem]:
        ordered = sorted(
            self.items.get(thread_id, {}).values(),
            key=lambda item: item.created_at,
            reverse=order == "desc",
        )
        return Page(data=ordered[:limit], has_more=len(ordered) > limit)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: Context) -> None:
        self.items[thread_id][item.id] = item

    async def save_item(self, thread_id: str, item: ThreadItem, context: Context) -> None:
        self.items[thread_id][item.id] = item

    async def load_item(self, thread_id: str, item_id: str, context: Context) -> ThreadItem:
        return self.items[thread_id][item_id]

    async def delete_thread(self, thread_id: str, context: Context) -> None:
        self.threads.pop(thread_id, None)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: Context) -> None:
        self.items[thread_id].pop(item_id, None)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: Context
    ) -> Page[ThreadMetadata]:
        ordered = sorted(self.threads.values(), key=lambda thread: thread.created_at)
        return Page(data=ordered[:limit])

    async def save_attachment(self, attachment: Attachment, context: Context) -> None:
        raise NotImplementedError

    async def load_attachment(self, attachment_id: str, context: Context) -> Attachment:
        raise NotFoundError(attachment_id)

    async def delete_attachment(self, attachment_id: str, context: Context) -> None:
        raise NotImplementedError


async def test_a_store_sorting_by_created_at_never_compares_naive_with_aware() -> None:
    store = SortingDictStore()
    server = LocalClockServer(store)
    events = await stream(server, "threads.create", {"input": user_input("one")})
    thread_id = events[0]["thread"]["id"]

    page = await call(server, "items.list", {"thread_id": thread_id, "order": "asc"})

    assert texts(page["data"]) == ["one", "reply to one"]
    stamps = [item.created_at for item in store.items[thread_id].values()]
    assert all(stamp.tzinfo is not None for stamp in stamps)
