"""Reusable pytest suites for checking a `Store` implementation against the contract.

Subclass `StoreConformance` in a test module (its name must start with `Test`) and provide
two fixtures: `store`, a fresh empty store, and `context`, the context object passed to
every store call. A store that scopes its data by context sets `scopes_by_context = True`
and overrides the `other_context` fixture with a context of a different scope (another
tenant); the isolation tests then check that neither scope can see or change the other's
data. Without scoping, the same tests check that all contexts share one namespace.

    import pytest

    from chatkit_core.store import MemoryStore
    from chatkit_core.testing import StoreConformance

    class TestMemoryStore(StoreConformance):
        @pytest.fixture
        def store(self) -> MemoryStore:
            return MemoryStore()

        @pytest.fixture
        def context(self) -> dict[str, str]:
            return {"user": "alice"}

The fixtures may also be async, or request others (a database, a tenant). Because the
class defines `other_context`, a module-level fixture of that name is shadowed: override
it on the subclass. Marks set on the subclass (for example `pytest.mark.django_db`) add
to the class's own `asyncio` mark; the tests are coroutines and need pytest-asyncio.
Each test expects an empty store. This module imports pytest: import it only from tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, get_args

import pytest

from chatkit_core.store import NotFoundError, Store, StoreItemType
from chatkit_core.types import (
    AssistantMessageItem,
    Attachment,
    ClientToolCallItem,
    EndOfTurnItem,
    FileAttachment,
    GeneratedImageItem,
    HiddenContextItem,
    ImageAttachment,
    Page,
    SDKHiddenContextItem,
    StructuredInputItem,
    TaskItem,
    Thread,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
    WidgetItem,
    WorkflowItem,
)

__all__ = ["StoreConformance"]

_START = datetime(2025, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
_PREFIXES: dict[str, str] = {
    "thread": "thr_",
    "message": "msg_",
    "tool_call": "tc_",
    "task": "tsk_",
    "workflow": "wf_",
    "attachment": "atc_",
    "sdk_hidden_context": "shcx_",
}


def _at(seconds: float) -> datetime:
    return _START + timedelta(seconds=seconds)


def _thread(thread_id: str, created_at: datetime, **fields: Any) -> ThreadMetadata:
    return ThreadMetadata(id=thread_id, created_at=created_at, **fields)


def _message(item_id: str, thread_id: str, created_at: datetime, text: str) -> ThreadItem:
    return UserMessageItem.model_validate(
        {
            "id": item_id,
            "thread_id": thread_id,
            "created_at": created_at,
            "content": [{"type": "input_text", "text": text}],
            "inference_options": {},
        }
    )


def _text_of(item: ThreadItem) -> str:
    assert isinstance(item, UserMessageItem), f"expected a user message, got {item.type}"
    return item.content[0].text


def _file_attachment(attachment_id: str) -> Attachment:
    return FileAttachment.model_validate(
        {
            "id": attachment_id,
            "name": "report.pdf",
            "mime_type": "application/pdf",
            "upload_descriptor": {
                "url": "https://uploads.example.com/put/1",
                "method": "PUT",
                "headers": {"x-upload-token": "t0k3n"},
            },
            "metadata": {"storage_key": "tenant-1/report.pdf", "sizes": [1, 2, {"deep": True}]},
        }
    )


def _image_attachment(attachment_id: str, thread_id: str | None = None) -> Attachment:
    return ImageAttachment.model_validate(
        {
            "id": attachment_id,
            "name": "cat.png",
            "mime_type": "image/png",
            "preview_url": "https://files.example.com/cat.png",
            "thread_id": thread_id,
            "metadata": {"bucket": "images", "bytes": 2048},
        }
    )


def _every_item_type(thread_id: str, ids: Callable[[StoreItemType], str]) -> list[ThreadItem]:
    """Return one item of each thread item type, with most optional fields filled in."""
    base: list[dict[str, Any]] = [
        {"id": ids(kind), "thread_id": thread_id} for kind in _ITEM_ID_KINDS
    ]
    for index, fields in enumerate(base):
        fields["created_at"] = _at(index)
    return [
        model.model_validate({**fields, **payload})
        for (model, payload), fields in zip(_ITEM_PAYLOADS, base, strict=True)
    ]


_ITEM_ID_KINDS: list[StoreItemType] = [
    "message",
    "message",
    "tool_call",
    "message",
    "message",
    "message",
    "workflow",
    "task",
    "message",
    "sdk_hidden_context",
    "message",
]

_ITEM_PAYLOADS: list[tuple[Any, dict[str, Any]]] = [
    (
        UserMessageItem,
        {
            "content": [
                {"type": "input_text", "text": "Book a table for two"},
                {
                    "type": "input_tag",
                    "id": "tag_1",
                    "text": "@venue",
                    "data": {"venue_id": 42},
                    "group": "places",
                    "interactive": True,
                },
            ],
            "attachments": [_image_attachment("atc_img00001", "thr_any").model_dump()],
            "quoted_text": "a quiet place",
            "inference_options": {"tool_choice": {"id": "search"}, "model": "gpt-test"},
            "metadata": {"channel": "web", "nested": {"ids": [1, 2], "flag": None}},
        },
    ),
    (
        AssistantMessageItem,
        {
            "content": [
                {
                    "type": "output_text",
                    "text": "Here are three options.",
                    "annotations": [
                        {
                            "source": {"type": "url", "title": "Guide", "url": "https://e.com"},
                            "index": 4,
                        },
                        {"source": {"type": "file", "title": "Menu", "filename": "menu.pdf"}},
                        {
                            "source": {
                                "type": "entity",
                                "title": "Chez Nous",
                                "id": "ent_1",
                                "data": {"stars": 4},
                            }
                        },
                    ],
                }
            ]
        },
    ),
    (
        ClientToolCallItem,
        {
            "status": "completed",
            "call_id": "call_123",
            "name": "switch_theme",
            "arguments": {"theme": "dark", "nested": {"a": [1, 2]}},
            "output": {"ok": True},
        },
    ),
    (
        WidgetItem,
        {
            "widget": {"type": "Card", "children": [{"type": "Text", "id": "t1", "value": "Hi"}]},
            "copy_text": "Hi",
        },
    ),
    (GeneratedImageItem, {"image": {"id": "img_1", "url": "https://files.example.com/a.png"}}),
    (
        StructuredInputItem,
        {
            "status": "answered",
            "inputs": [
                {
                    "type": "multiple_choice",
                    "id": "q1",
                    "question": "Which day?",
                    "options": [{"value": "Friday"}, {"value": "Saturday"}],
                    "multiple": True,
                    "answer": {"values": ["Friday"]},
                },
                {"type": "freeform", "id": "q2", "question": "Notes?", "description": "Any"},
            ],
        },
    ),
    (
        WorkflowItem,
        {
            "workflow": {
                "type": "custom",
                "tasks": [
                    {"type": "custom", "title": "Plan", "content": "Steps", "icon": "search"},
                    {"type": "thought", "content": "Thinking...", "status_indicator": "loading"},
                    {"type": "web_search", "queries": ["tables"], "title_query": "tables"},
                    {"type": "file", "sources": [{"title": "Menu", "filename": "menu.pdf"}]},
                    {"type": "image", "title": "Sketch"},
                ],
                "summary": {"title": "Planned", "icon": "check"},
                "expanded": True,
            }
        },
    ),
    (TaskItem, {"task": {"type": "custom", "title": "Checking availability"}}),
    (HiddenContextItem, {"content": {"remember": ["likes jazz"], "score": 0.5}}),
    (SDKHiddenContextItem, {"content": "The user cancelled the previous response."}),
    (EndOfTurnItem, {}),
]

Fetch = Callable[[str | None], Awaitable[Page[Any]]]


async def _walk(fetch: Fetch, limit: int) -> list[str]:
    """Follow `after` cursors to the end, checking each page's cursor fields."""
    seen: list[str] = []
    after: str | None = None
    for _ in range(1000):
        page = await fetch(after)
        ids = [record.id for record in page.data]
        assert len(ids) <= limit, f"page of {len(ids)} records exceeds limit {limit}"
        seen += ids
        if not page.has_more:
            assert page.after is None, "after must be None when has_more is false"
            return seen
        assert len(ids) == limit, "a page with has_more must be full"
        assert page.after == ids[-1], "after must be the id of the last record on the page"
        after = page.after
    pytest.fail("paging did not finish after 1000 pages")


def _ids(records: Sequence[Any]) -> list[str]:
    return [record.id for record in records]


def _dumps(records: Sequence[Any]) -> list[dict[str, Any]]:
    return [record.model_dump() for record in records]


@pytest.mark.asyncio
class StoreConformance:
    """Contract tests for a `Store`; subclasses provide the `store` and `context` fixtures."""

    scopes_by_context: ClassVar[bool] = False
    """Set to True when the store keeps each context's data apart (override `other_context`)."""

    @pytest.fixture
    def other_context(self, context: Any) -> Any:
        """Return a context of another scope; by default the same context."""
        return context

    # --- helpers ---------------------------------------------------------------------

    @staticmethod
    async def _new_thread(
        store: Store[Any], context: Any, created_at: datetime = _START, **fields: Any
    ) -> ThreadMetadata:
        thread = _thread(store.generate_thread_id(context), created_at, **fields)
        await store.save_thread(thread, context=context)
        return thread

    @staticmethod
    async def _add_messages(
        store: Store[Any], context: Any, thread: ThreadMetadata, times: Sequence[datetime]
    ) -> list[ThreadItem]:
        items = []
        for index, created_at in enumerate(times):
            item_id = store.generate_item_id("message", thread, context)
            item = _message(item_id, thread.id, created_at, f"message {index}")
            await store.add_thread_item(thread.id, item, context=context)
            items.append(item)
        return items

    @staticmethod
    def _thread_pages(store: Store[Any], context: Any, limit: int, order: str) -> Fetch:
        async def fetch(after: str | None) -> Page[Any]:
            return await store.load_threads(limit=limit, after=after, order=order, context=context)

        return fetch

    @staticmethod
    def _item_pages(
        store: Store[Any], context: Any, thread_id: str, limit: int, order: str
    ) -> Fetch:
        async def fetch(after: str | None) -> Page[Any]:
            return await store.load_thread_items(
                thread_id, after=after, limit=limit, order=order, context=context
            )

        return fetch

    async def _all_items(self, store: Store[Any], context: Any, thread_id: str) -> list[ThreadItem]:
        page = await store.load_thread_items(
            thread_id, after=None, limit=10_000, order="asc", context=context
        )
        return list(page.data)

    # --- ids -------------------------------------------------------------------------

    async def test_generated_thread_ids_have_the_thread_prefix_and_are_unique(
        self, store: Store[Any], context: Any
    ) -> None:
        ids = {store.generate_thread_id(context) for _ in range(500)}
        assert len(ids) == 500
        assert all(thread_id.startswith("thr_") for thread_id in ids)

    @pytest.mark.parametrize("item_type", get_args(StoreItemType))
    async def test_generated_item_ids_have_their_type_prefix_and_are_unique(
        self, store: Store[Any], context: Any, item_type: StoreItemType
    ) -> None:
        thread = _thread("thr_ids", _START)
        ids = {store.generate_item_id(item_type, thread, context) for _ in range(500)}
        assert len(ids) == 500
        assert all(item_id.startswith(_PREFIXES[item_type]) for item_id in ids)

    # --- threads ---------------------------------------------------------------------

    async def test_saved_thread_loads_back_equal(self, store: Store[Any], context: Any) -> None:
        thread = await self._new_thread(
            store,
            context,
            title="Trip planning",
            status={"type": "locked", "reason": "Escalated"},
            allowed_image_domains=["images.example.com"],
            metadata={"owner": "u_1", "nested": {"tags": ["a", "b"], "count": 2}},
        )
        loaded = await store.load_thread(thread.id, context=context)
        assert isinstance(loaded, ThreadMetadata)
        assert loaded.model_dump() == thread.model_dump()

    async def test_loading_an_unknown_thread_raises_not_found(
        self, store: Store[Any], context: Any
    ) -> None:
        await self._new_thread(store, context)
        with pytest.raises(NotFoundError):
            await store.load_thread("thr_missing", context=context)

    async def test_saving_a_thread_again_updates_it_without_duplicating(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context, title="Draft")
        for status in ({"type": "closed", "reason": "Done"}, {"type": "active"}):
            changed = ThreadMetadata.model_validate(
                {**thread.model_dump(), "title": status["type"], "status": status, "metadata": {}}
            )
            await store.save_thread(changed, context=context)
            loaded = await store.load_thread(thread.id, context=context)
            assert loaded.model_dump() == changed.model_dump()
        page = await store.load_threads(limit=10, after=None, order="desc", context=context)
        assert _ids(page.data) == [thread.id]

    async def test_saving_a_full_thread_stores_only_its_metadata(
        self, store: Store[Any], context: Any
    ) -> None:
        thread_id = store.generate_thread_id(context)
        embedded = _message("msg_embedded", thread_id, _START, "not stored")
        full = Thread(
            id=thread_id,
            created_at=_START,
            title="Full",
            items=Page[ThreadItem](data=[embedded], has_more=True, after="msg_embedded"),
        )
        await store.save_thread(full, context=context)
        loaded = await store.load_thread(thread_id, context=context)
        assert "items" not in loaded.model_dump()
        assert (
            loaded.model_dump()
            == ThreadMetadata.model_validate(full.model_dump(exclude={"items"})).model_dump()
        )
        assert await self._all_items(store, context, thread_id) == []

    async def test_thread_list_of_an_empty_store_is_an_empty_page(
        self, store: Store[Any], context: Any
    ) -> None:
        for order in ("asc", "desc"):
            page = await store.load_threads(limit=20, after=None, order=order, context=context)
            assert (page.data, page.has_more, page.after) == ([], False, None)

    @pytest.mark.parametrize("order", ["asc", "desc"])
    @pytest.mark.parametrize("limit", [1, 7, 15, 44, 45, 100])
    async def test_thread_list_pages_through_many_threads_without_gaps_or_duplicates(
        self, store: Store[Any], context: Any, order: str, limit: int
    ) -> None:
        times = [_at(index * 60) for index in range(45)]
        random.Random(45).shuffle(times)
        threads = [await self._new_thread(store, context, created_at) for created_at in times]
        expected = _ids(sorted(threads, key=lambda thread: thread.created_at))
        if order == "desc":
            expected.reverse()
        walked = await _walk(self._thread_pages(store, context, limit, order), limit)
        assert walked == expected

    @pytest.mark.parametrize("order", ["asc", "desc"])
    async def test_thread_list_cursor_is_exclusive(
        self, store: Store[Any], context: Any, order: str
    ) -> None:
        threads = [await self._new_thread(store, context, _at(index)) for index in range(6)]
        ordered = _ids(threads if order == "asc" else threads[::-1])
        page = await store.load_threads(limit=2, after=ordered[1], order=order, context=context)
        assert _ids(page.data) == ordered[2:4]
        assert (page.has_more, page.after) == (True, ordered[3])
        last = await store.load_threads(limit=2, after=ordered[3], order=order, context=context)
        assert _ids(last.data) == ordered[4:]
        assert (last.has_more, last.after) == (False, None)

    @pytest.mark.parametrize("order", ["asc", "desc"])
    async def test_thread_list_after_an_unknown_cursor_is_an_empty_last_page(
        self, store: Store[Any], context: Any, order: str
    ) -> None:
        # A stale cursor must not restart from the first page: the client would show
        # threads twice. Unknown ids and deleted threads both end the listing.
        for index in range(3):
            await self._new_thread(store, context, _at(index))
        deleted = await self._new_thread(store, context, _at(10))
        await store.delete_thread(deleted.id, context=context)
        for after in ("thr_missing", deleted.id):
            page = await store.load_threads(limit=2, after=after, order=order, context=context)
            assert (page.data, page.has_more, page.after) == ([], False, None), after

    @pytest.mark.parametrize("order", ["asc", "desc"])
    async def test_thread_list_stays_stable_while_threads_are_added_between_pages(
        self, store: Store[Any], context: Any, order: str
    ) -> None:
        originals = [await self._new_thread(store, context, _at(index)) for index in range(20)]
        added: list[ThreadMetadata] = []
        walked: list[str] = []
        after: str | None = None
        while True:
            page = await store.load_threads(limit=6, after=after, order=order, context=context)
            walked += _ids(page.data)
            if not page.has_more:
                break
            after = page.after
            added.append(await self._new_thread(store, context, _at(1000 + len(added))))
        # New threads are newer: asc reaches them at the end, desc has already passed them.
        expected = _ids(originals) + _ids(added) if order == "asc" else _ids(originals[::-1])
        assert walked == expected

    async def test_threads_with_equal_created_at_keep_insertion_order(
        self, store: Store[Any], context: Any
    ) -> None:
        first = await self._new_thread(store, context, _at(-10))
        tied = [await self._new_thread(store, context, _START) for _ in range(5)]
        last = await self._new_thread(store, context, _at(10))
        ascending = _ids([first, *tied, last])
        for limit in (1, 2, 3, 10):
            pages = self._thread_pages(store, context, limit, "asc")
            assert await _walk(pages, limit) == ascending
            pages = self._thread_pages(store, context, limit, "desc")
            assert await _walk(pages, limit) == ascending[::-1]

    async def test_updating_a_thread_keeps_its_place_in_the_list(
        self, store: Store[Any], context: Any
    ) -> None:
        threads = [await self._new_thread(store, context, _at(index)) for index in range(4)]
        await store.save_thread(threads[1].model_copy(update={"title": "Renamed"}), context=context)
        page = await store.load_threads(limit=10, after=None, order="asc", context=context)
        assert _ids(page.data) == _ids(threads)
        assert page.data[1].title == "Renamed"

    async def test_deleting_a_thread_removes_it_and_its_items(
        self, store: Store[Any], context: Any
    ) -> None:
        doomed = await self._new_thread(store, context, _at(0))
        kept = await self._new_thread(store, context, _at(1))
        doomed_items = await self._add_messages(store, context, doomed, [_at(2), _at(3)])
        kept_items = await self._add_messages(store, context, kept, [_at(4)])
        await store.delete_thread(doomed.id, context=context)
        with pytest.raises(NotFoundError):
            await store.load_thread(doomed.id, context=context)
        with pytest.raises(NotFoundError):
            await store.load_item(doomed.id, doomed_items[0].id, context=context)
        with contextlib.suppress(NotFoundError):
            assert await self._all_items(store, context, doomed.id) == []
        listed = await store.load_threads(limit=10, after=None, order="asc", context=context)
        assert _ids(listed.data) == [kept.id]
        assert _dumps(await self._all_items(store, context, kept.id)) == _dumps(kept_items)

    # --- items -----------------------------------------------------------------------

    async def test_every_item_type_round_trips_exactly(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context)
        items = _every_item_type(
            thread.id, lambda kind: store.generate_item_id(kind, thread, context)
        )
        for item in items:
            await store.add_thread_item(thread.id, item, context=context)
        for item in items:
            loaded = await store.load_item(thread.id, item.id, context=context)
            assert type(loaded) is type(item)
            assert loaded.model_dump() == item.model_dump()
        listed = await self._all_items(store, context, thread.id)
        assert [type(item) for item in listed] == [type(item) for item in items]
        assert _dumps(listed) == _dumps(items)

    async def test_loading_an_unknown_item_raises_not_found(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context)
        await self._add_messages(store, context, thread, [_START])
        with pytest.raises(NotFoundError):
            await store.load_item(thread.id, "msg_missing", context=context)
        with pytest.raises(NotFoundError):
            await store.load_item("thr_missing", "msg_missing", context=context)

    async def test_an_item_is_reachable_only_through_its_own_thread(
        self, store: Store[Any], context: Any
    ) -> None:
        home = await self._new_thread(store, context, _at(0))
        elsewhere = await self._new_thread(store, context, _at(1))
        [item] = await self._add_messages(store, context, home, [_at(2)])
        with pytest.raises(NotFoundError):
            await store.load_item(elsewhere.id, item.id, context=context)
        assert await self._all_items(store, context, elsewhere.id) == []
        await store.delete_thread_item(elsewhere.id, item.id, context=context)
        loaded = await store.load_item(home.id, item.id, context=context)
        assert loaded.model_dump() == item.model_dump()

    @pytest.mark.parametrize("order", ["asc", "desc"])
    @pytest.mark.parametrize("limit", [1, 5, 23, 50])
    async def test_item_pages_cover_a_thread_without_gaps_or_duplicates(
        self, store: Store[Any], context: Any, order: str, limit: int
    ) -> None:
        thread = await self._new_thread(store, context)
        items = await self._add_messages(store, context, thread, [_at(i) for i in range(23)])
        expected = _ids(items) if order == "asc" else _ids(items[::-1])
        pages = self._item_pages(store, context, thread.id, limit, order)
        assert await _walk(pages, limit) == expected

    @pytest.mark.parametrize("order", ["asc", "desc"])
    async def test_item_cursor_is_exclusive_and_has_more_is_exact(
        self, store: Store[Any], context: Any, order: str
    ) -> None:
        thread = await self._new_thread(store, context)
        items = await self._add_messages(store, context, thread, [_at(i) for i in range(5)])
        ordered = _ids(items if order == "asc" else items[::-1])
        fetch = self._item_pages(store, context, thread.id, 2, order)
        page = await fetch(ordered[0])
        assert (_ids(page.data), page.has_more, page.after) == (ordered[1:3], True, ordered[2])
        page = await fetch(ordered[2])
        assert (_ids(page.data), page.has_more, page.after) == (ordered[3:5], False, None)
        page = await fetch(ordered[4])
        assert (page.data, page.has_more, page.after) == ([], False, None)

    @pytest.mark.parametrize("order", ["asc", "desc"])
    async def test_item_list_after_an_unknown_cursor_is_an_empty_last_page(
        self, store: Store[Any], context: Any, order: str
    ) -> None:
        # Unknown ids, deleted items and items of another thread all end the listing.
        thread = await self._new_thread(store, context, _at(0))
        other = await self._new_thread(store, context, _at(1))
        items = await self._add_messages(store, context, thread, [_at(i) for i in range(4)])
        [foreign] = await self._add_messages(store, context, other, [_at(2)])
        await store.delete_thread_item(thread.id, items[1].id, context=context)
        for after in ("msg_missing", items[1].id, foreign.id):
            page = await store.load_thread_items(
                thread.id, after=after, limit=2, order=order, context=context
            )
            assert (page.data, page.has_more, page.after) == ([], False, None), after

    async def test_items_are_listed_by_created_at_not_by_insertion(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context)
        times = [_at(i) for i in range(12)]
        random.Random(12).shuffle(times)
        items = await self._add_messages(store, context, thread, times)
        expected = _ids(sorted(items, key=lambda item: item.created_at))
        assert _ids(await self._all_items(store, context, thread.id)) == expected
        desc = await _walk(self._item_pages(store, context, thread.id, 5, "desc"), 5)
        assert desc == expected[::-1]

    async def test_items_with_equal_created_at_keep_insertion_order(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context)
        times = [_at(-1), _START, _START, _START, _START, _at(1)]
        ascending = _ids(await self._add_messages(store, context, thread, times))
        for limit in (1, 2, 4, 10):
            pages = self._item_pages(store, context, thread.id, limit, "asc")
            assert await _walk(pages, limit) == ascending
            pages = self._item_pages(store, context, thread.id, limit, "desc")
            assert await _walk(pages, limit) == ascending[::-1]

    async def test_hidden_items_are_listed_and_count_towards_the_limit(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context)
        [first] = await self._add_messages(store, context, thread, [_at(0)])
        hidden = HiddenContextItem(
            id="msg_hidden", thread_id=thread.id, created_at=_at(1), content=1
        )
        marker = SDKHiddenContextItem(
            id=store.generate_item_id("sdk_hidden_context", thread, context),
            thread_id=thread.id,
            created_at=_at(2),
            content="cancelled",
        )
        for item in (hidden, marker):
            await store.add_thread_item(thread.id, item, context=context)
        [last] = await self._add_messages(store, context, thread, [_at(3)])
        page = await store.load_thread_items(
            thread.id, after=first.id, limit=2, order="asc", context=context
        )
        assert (_ids(page.data), page.has_more, page.after) == (
            [hidden.id, marker.id],
            True,
            marker.id,
        )
        rest = await store.load_thread_items(
            thread.id, after=marker.id, limit=2, order="asc", context=context
        )
        assert _ids(rest.data) == [last.id]

    async def test_adding_an_item_twice_keeps_one_copy_with_the_latest_content_in_place(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context)
        items = await self._add_messages(store, context, thread, [_at(0), _at(1), _at(2)])
        again = _message(items[1].id, thread.id, items[1].created_at, "edited")
        await store.add_thread_item(thread.id, again, context=context)
        listed = await self._all_items(store, context, thread.id)
        assert _ids(listed) == _ids(items)
        assert [_text_of(item) for item in listed] == ["message 0", "edited", "message 2"]
        loaded = await store.load_item(thread.id, again.id, context=context)
        assert loaded.model_dump() == again.model_dump()

    async def test_saving_an_existing_item_replaces_it_in_place(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context)
        items = await self._add_messages(store, context, thread, [_at(0), _at(1), _at(2)])
        replacement = ClientToolCallItem(
            id=items[0].id,
            thread_id=thread.id,
            created_at=items[0].created_at,
            status="completed",
            call_id="call_1",
            name="lookup",
            arguments={"q": "x"},
            output=[1, 2, 3],
        )
        await store.save_item(thread.id, replacement, context=context)
        listed = await self._all_items(store, context, thread.id)
        assert _ids(listed) == _ids(items)
        assert listed[0].model_dump() == replacement.model_dump()
        assert _dumps(listed[1:]) == _dumps(items[1:])

    async def test_saving_a_new_item_inserts_it(self, store: Store[Any], context: Any) -> None:
        thread = await self._new_thread(store, context)
        items = await self._add_messages(store, context, thread, [_at(0), _at(2)])
        middle = _message(
            store.generate_item_id("message", thread, context), thread.id, _at(1), "m"
        )
        await store.save_item(thread.id, middle, context=context)
        listed = await self._all_items(store, context, thread.id)
        assert _ids(listed) == [items[0].id, middle.id, items[1].id]

    async def test_deleting_an_item_removes_only_that_item(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context)
        items = await self._add_messages(store, context, thread, [_at(i) for i in range(4)])
        await store.delete_thread_item(thread.id, items[2].id, context=context)
        with pytest.raises(NotFoundError):
            await store.load_item(thread.id, items[2].id, context=context)
        remaining = [items[0], items[1], items[3]]
        assert _ids(await self._all_items(store, context, thread.id)) == _ids(remaining)
        desc = await _walk(self._item_pages(store, context, thread.id, 1, "desc"), 1)
        assert desc == _ids(remaining[::-1])

    async def test_deleting_an_unknown_item_is_a_no_op(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context)
        items = await self._add_messages(store, context, thread, [_at(0), _at(1)])
        await store.delete_thread_item(thread.id, "msg_never_stored", context=context)
        await store.delete_thread_item(thread.id, items[0].id, context=context)
        await store.delete_thread_item(thread.id, items[0].id, context=context)
        assert _ids(await self._all_items(store, context, thread.id)) == [items[1].id]

    @pytest.mark.parametrize("after", [None, "msg_missing"])
    async def test_items_of_an_unknown_thread_raise_not_found(
        self, store: Store[Any], context: Any, after: str | None
    ) -> None:
        # items.list answers 404 for a missing thread, as on the official SDK's stores.
        thread = await self._new_thread(store, context)
        await self._add_messages(store, context, thread, [_START])
        deleted = await self._new_thread(store, context)
        await self._add_messages(store, context, deleted, [_START])
        await store.delete_thread(deleted.id, context=context)
        for thread_id in ("thr_missing", deleted.id):
            with pytest.raises(NotFoundError):
                await store.load_thread_items(
                    thread_id, after=after, limit=20, order="desc", context=context
                )

    async def test_items_of_a_thread_without_items_are_an_empty_page(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context)
        for order in ("asc", "desc"):
            page = await store.load_thread_items(
                thread.id, after=None, limit=20, order=order, context=context
            )
            assert (page.data, page.has_more, page.after) == ([], False, None)

    async def test_writing_an_item_to_an_unknown_thread_raises_not_found(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context)
        item = _message("msg_orphan01", "thr_missing", _START, "orphan")
        with pytest.raises(NotFoundError):
            await store.add_thread_item("thr_missing", item, context=context)
        with pytest.raises(NotFoundError):
            await store.save_item("thr_missing", item, context=context)
        with pytest.raises(NotFoundError):
            await store.load_item("thr_missing", item.id, context=context)
        assert await self._all_items(store, context, thread.id) == []

    async def test_deleting_unknown_records_is_a_no_op(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context)
        [item] = await self._add_messages(store, context, thread, [_START])
        await store.delete_thread("thr_missing", context=context)
        await store.delete_thread_item("thr_missing", item.id, context=context)
        await store.delete_attachment("atc_missing", context=context)
        assert _ids(await self._all_items(store, context, thread.id)) == [item.id]

    async def test_finding_item_ids_answers_the_existing_ones_once_in_order(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context)
        other = await self._new_thread(store, context)
        first, second = await self._add_messages(store, context, thread, [_at(0), _at(1)])
        [elsewhere] = await self._add_messages(store, context, other, [_at(2)])
        asked = [second.id, "msg_missing", first.id, second.id, elsewhere.id]
        found = await store.find_item_ids(thread.id, asked, context=context)
        assert found == [second.id, first.id]
        assert await store.find_item_ids("thr_missing", asked, context=context) == []

    async def test_a_new_thread_is_created_with_its_first_item(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = _thread(store.generate_thread_id(context), _START, title="New")
        item = _message(store.generate_item_id("message", thread, context), thread.id, _START, "1")
        await store.create_thread(thread, item, context=context)
        loaded = await store.load_thread(thread.id, context=context)
        assert loaded.model_dump() == thread.model_dump()
        assert _dumps(await self._all_items(store, context, thread.id)) == _dumps([item])

    async def test_a_new_thread_whose_first_item_fails_is_not_kept(
        self, store: Store[Any], context: Any
    ) -> None:
        # Stores may refuse the item differently; none may keep the thread without it.
        thread = _thread(store.generate_thread_id(context), _START)
        # Built without validation: an item no store can hold (it has no timestamp).
        fields: dict[str, Any] = {"id": "msg_first001", "thread_id": thread.id, "created_at": None}
        item = UserMessageItem.model_construct(**fields)
        with contextlib.suppress(Exception):
            await store.create_thread(thread, item, context=context)
        with contextlib.suppress(NotFoundError):
            await store.load_thread(thread.id, context=context)
            items = await self._all_items(store, context, thread.id)
            assert items != [], "a new thread was kept without its first item"

    @pytest.mark.parametrize("order", ["asc", "desc"])
    async def test_item_pages_stay_stable_while_items_are_added_between_pages(
        self, store: Store[Any], context: Any, order: str
    ) -> None:
        thread = await self._new_thread(store, context)
        originals = await self._add_messages(store, context, thread, [_at(i) for i in range(10)])
        added: list[ThreadItem] = []
        walked: list[str] = []
        after: str | None = None
        while True:
            page = await store.load_thread_items(
                thread.id, after=after, limit=3, order=order, context=context
            )
            walked += _ids(page.data)
            if not page.has_more:
                break
            after = page.after
            added += await self._add_messages(store, context, thread, [_at(100 + len(added))])
        expected = _ids(originals) + _ids(added) if order == "asc" else _ids(originals[::-1])
        assert walked == expected

    # --- attachments -----------------------------------------------------------------

    async def test_attachments_round_trip_with_private_metadata(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context)
        attachments = [
            _file_attachment("atc_file0001"),
            _image_attachment("atc_image001", thread.id),
        ]
        for attachment in attachments:
            await store.save_attachment(attachment, context=context)
        for attachment in attachments:
            loaded = await store.load_attachment(attachment.id, context=context)
            assert type(loaded) is type(attachment)
            assert loaded.model_dump() == attachment.model_dump()
            assert loaded.metadata == attachment.metadata

    async def test_saving_an_attachment_again_updates_it(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context)
        attachment = _file_attachment("atc_file0001")
        await store.save_attachment(attachment, context=context)
        uploaded = attachment.model_copy(
            update={"upload_descriptor": None, "thread_id": thread.id, "metadata": {"done": 1}}
        )
        await store.save_attachment(uploaded, context=context)
        loaded = await store.load_attachment(attachment.id, context=context)
        assert loaded.model_dump() == uploaded.model_dump()

    async def test_loading_an_unknown_attachment_raises_not_found(
        self, store: Store[Any], context: Any
    ) -> None:
        await store.save_attachment(_file_attachment("atc_file0001"), context=context)
        with pytest.raises(NotFoundError):
            await store.load_attachment("atc_missing", context=context)

    async def test_deleted_attachment_is_gone_and_others_remain(
        self, store: Store[Any], context: Any
    ) -> None:
        doomed, kept = _file_attachment("atc_file0001"), _image_attachment("atc_image001")
        for attachment in (doomed, kept):
            await store.save_attachment(attachment, context=context)
        await store.delete_attachment(doomed.id, context=context)
        with pytest.raises(NotFoundError):
            await store.load_attachment(doomed.id, context=context)
        loaded = await store.load_attachment(kept.id, context=context)
        assert loaded.model_dump() == kept.model_dump()

    # --- copies ----------------------------------------------------------------------

    async def test_mutating_a_saved_or_loaded_thread_leaves_the_stored_one_unchanged(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context, title="Kept", metadata={"tags": ["a"]})
        snapshot = thread.model_dump()
        thread.title = "Mutated after save"
        thread.metadata["tags"].append("b")
        loaded = await store.load_thread(thread.id, context=context)
        assert loaded.model_dump() == snapshot
        loaded.metadata["tags"].append("c")
        page = await store.load_threads(limit=5, after=None, order="asc", context=context)
        page.data[0].title = "Mutated page"
        assert (await store.load_thread(thread.id, context=context)).model_dump() == snapshot

    async def test_mutating_a_saved_or_loaded_item_leaves_the_stored_one_unchanged(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context)
        item = ClientToolCallItem(
            id="tc_copy0001",
            thread_id=thread.id,
            created_at=_START,
            call_id="call_1",
            name="f",
            arguments={"list": [1]},
        )
        await store.add_thread_item(thread.id, item, context=context)
        snapshot = item.model_dump()
        item.arguments["list"].append(2)
        item.status = "completed"
        loaded = await store.load_item(thread.id, item.id, context=context)
        assert loaded.model_dump() == snapshot
        assert isinstance(loaded, ClientToolCallItem)
        loaded.arguments["list"].append(3)
        [listed] = await self._all_items(store, context, thread.id)
        assert isinstance(listed, ClientToolCallItem)
        listed.arguments["list"].append(4)
        assert (await store.load_item(thread.id, item.id, context=context)).model_dump() == snapshot

    async def test_mutating_a_saved_or_loaded_attachment_leaves_the_stored_one_unchanged(
        self, store: Store[Any], context: Any
    ) -> None:
        attachment = _file_attachment("atc_file0001")
        await store.save_attachment(attachment, context=context)
        snapshot = attachment.model_dump()
        assert attachment.metadata is not None
        attachment.metadata["storage_key"] = "changed"
        loaded = await store.load_attachment(attachment.id, context=context)
        assert loaded.model_dump() == snapshot
        assert loaded.metadata is not None
        loaded.metadata["sizes"].append(99)
        assert (
            await store.load_attachment(attachment.id, context=context)
        ).model_dump() == snapshot

    # --- concurrency -----------------------------------------------------------------

    async def test_concurrent_adds_to_one_thread_lose_nothing_and_keep_order(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context)
        items = [
            _message(store.generate_item_id("message", thread, context), thread.id, _at(i), str(i))
            for i in range(50)
        ]
        shuffled = random.Random(50).sample(items, len(items))
        await asyncio.gather(
            *(store.add_thread_item(thread.id, item, context=context) for item in shuffled)
        )
        assert _dumps(await self._all_items(store, context, thread.id)) == _dumps(items)

    async def test_concurrent_adds_to_many_threads_lose_nothing(
        self, store: Store[Any], context: Any
    ) -> None:
        threads = [await self._new_thread(store, context, _at(i)) for i in range(5)]
        items = {
            thread.id: [
                _message(f"msg_{t:02d}{i:03d}", thread.id, _at(i), f"{t}/{i}") for i in range(20)
            ]
            for t, thread in enumerate(threads)
        }
        writes = [
            store.add_thread_item(thread_id, item, context=context)
            for thread_id, thread_items in items.items()
            for item in thread_items
        ]
        random.Random(5).shuffle(writes)
        await asyncio.gather(*writes)
        for thread_id, thread_items in items.items():
            assert _ids(await self._all_items(store, context, thread_id)) == _ids(thread_items)

    async def test_concurrent_upserts_of_one_item_leave_a_single_item(
        self, store: Store[Any], context: Any
    ) -> None:
        thread = await self._new_thread(store, context)
        versions = [_message("msg_upsert01", thread.id, _START, f"v{i}") for i in range(20)]
        await asyncio.gather(
            *(store.add_thread_item(thread.id, v, context=context) for v in versions[:10]),
            *(store.save_item(thread.id, v, context=context) for v in versions[10:]),
        )
        [stored] = await self._all_items(store, context, thread.id)
        assert _text_of(stored) in {f"v{i}" for i in range(20)}

    async def test_concurrent_thread_creation_loses_nothing(
        self, store: Store[Any], context: Any
    ) -> None:
        threads = [_thread(store.generate_thread_id(context), _at(i)) for i in range(30)]
        await asyncio.gather(*(store.save_thread(thread, context=context) for thread in threads))
        walked = await _walk(self._thread_pages(store, context, 8, "asc"), 8)
        assert walked == _ids(threads)

    # --- context scoping -------------------------------------------------------------

    async def _owned_records(
        self, store: Store[Any], context: Any
    ) -> tuple[ThreadMetadata, ThreadItem, Attachment]:
        thread = await self._new_thread(store, context, title="Private")
        [item] = await self._add_messages(store, context, thread, [_at(1)])
        attachment = _image_attachment("atc_private1", thread.id)
        await store.save_attachment(attachment, context=context)
        return thread, item, attachment

    async def test_other_context_reads_follow_the_scoping_rule(
        self, store: Store[Any], context: Any, other_context: Any
    ) -> None:
        thread, item, attachment = await self._owned_records(store, context)
        if not self.scopes_by_context:
            assert (await store.load_thread(thread.id, context=other_context)).id == thread.id
            assert (await store.load_item(thread.id, item.id, context=other_context)).id == item.id
            loaded = await store.load_attachment(attachment.id, context=other_context)
            assert loaded.id == attachment.id
            return
        assert other_context is not context, "scoped stores must override the other_context fixture"
        with pytest.raises(NotFoundError):
            await store.load_thread(thread.id, context=other_context)
        with pytest.raises(NotFoundError):
            await store.load_item(thread.id, item.id, context=other_context)
        with pytest.raises(NotFoundError):
            await store.load_attachment(attachment.id, context=other_context)
        page = await store.load_threads(limit=20, after=None, order="desc", context=other_context)
        assert page.data == []
        with pytest.raises(NotFoundError):
            await store.load_thread_items(
                thread.id, after=None, limit=20, order="asc", context=other_context
            )

    async def test_other_context_cannot_change_or_delete_records_when_scoped(
        self, store: Store[Any], context: Any, other_context: Any
    ) -> None:
        thread, item, attachment = await self._owned_records(store, context)
        mine = await self._new_thread(store, other_context, _at(5))
        if not self.scopes_by_context:
            page = await store.load_threads(limit=20, after=None, order="asc", context=context)
            assert _ids(page.data) == [thread.id, mine.id]
            return
        intruder = _message("msg_intruder", thread.id, _at(2), "intruder")
        for attempt in (
            store.add_thread_item(thread.id, intruder, context=other_context),
            store.save_item(thread.id, intruder, context=other_context),
            store.delete_thread_item(thread.id, item.id, context=other_context),
            store.delete_thread(thread.id, context=other_context),
            store.delete_attachment(attachment.id, context=other_context),
        ):
            with contextlib.suppress(NotFoundError):
                await attempt
        assert (await store.load_thread(thread.id, context=context)).model_dump() == (
            thread.model_dump()
        )
        assert _dumps(await self._all_items(store, context, thread.id)) == _dumps([item])
        loaded = await store.load_attachment(attachment.id, context=context)
        assert loaded.model_dump() == attachment.model_dump()
        page = await store.load_threads(limit=20, after=None, order="asc", context=context)
        assert _ids(page.data) == [thread.id]
        theirs = await store.load_threads(limit=20, after=None, order="asc", context=other_context)
        assert _ids(theirs.data) == [mine.id]
