import asyncio
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chatkit_core import store as store_module
from chatkit_core.store import (
    AttachmentStore,
    MemoryStore,
    NotFoundError,
    Store,
    default_generate_id,
)
from chatkit_core.testing import StoreConformance
from chatkit_core.types import (
    AttachmentCreateParams,
    Page,
    Thread,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
)

START = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TenantContext:
    tenant_id: str
    user: str


class TestMemoryStoreSharedNamespace(StoreConformance):
    @pytest.fixture
    def store(self) -> MemoryStore[Any]:
        return MemoryStore()

    @pytest.fixture
    def context(self) -> dict[str, str]:
        return {"user": "alice"}

    @pytest.fixture
    def other_context(self) -> dict[str, str]:
        return {"user": "bob"}


class TestMemoryStoreScopedByTenant(StoreConformance):
    scopes_by_context = True

    @pytest.fixture
    def store(self) -> MemoryStore[TenantContext]:
        return MemoryStore(scope=lambda context: context.tenant_id)

    @pytest.fixture
    def context(self) -> TenantContext:
        return TenantContext(tenant_id="acme", user="alice")

    @pytest.fixture
    def other_context(self) -> TenantContext:
        return TenantContext(tenant_id="globex", user="alice")


def message(item_id: str, thread_id: str, created_at: datetime, text: str) -> UserMessageItem:
    return UserMessageItem.model_validate(
        {
            "id": item_id,
            "thread_id": thread_id,
            "created_at": created_at,
            "content": [{"type": "input_text", "text": text}],
            "inference_options": {},
        }
    )


async def new_thread(store: MemoryStore[Any], thread_id: str = "thr_1") -> ThreadMetadata:
    thread = ThreadMetadata(id=thread_id, created_at=START)
    await store.save_thread(thread, context=None)
    return thread


def test_public_surface_of_the_store_module_is_stable() -> None:
    assert store_module.__all__ == sorted(store_module.__all__)
    assert set(store_module.__all__) == {
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
    }


def test_default_ids_are_a_prefix_and_eight_lowercase_hex_digits() -> None:
    expected = {
        "thread": "thr",
        "message": "msg",
        "tool_call": "tc",
        "task": "tsk",
        "workflow": "wf",
        "attachment": "atc",
        "sdk_hidden_context": "shcx",
    }
    for item_type, prefix in expected.items():
        assert re.fullmatch(rf"{prefix}_[0-9a-f]{{8}}", default_generate_id(item_type))  # type: ignore[arg-type]


def test_store_without_every_method_cannot_be_instantiated() -> None:
    class Partial(Store[None]):
        async def load_thread(self, thread_id: str, context: None) -> ThreadMetadata:
            raise NotFoundError(thread_id)

    with pytest.raises(TypeError, match="abstract"):
        Partial()  # type: ignore[abstract]


class Files(AttachmentStore[None]):
    async def delete_attachment(self, attachment_id: str, context: None) -> None:
        return None


async def test_attachment_store_refuses_two_phase_upload_unless_overridden() -> None:
    params = AttachmentCreateParams(name="a.txt", size=3, mime_type="text/plain")
    with pytest.raises(NotImplementedError, match=r"Files does not support two-phase upload"):
        await Files().create_attachment(params, None)


def test_attachment_store_generates_attachment_ids() -> None:
    ids = {Files().generate_attachment_id("image/png", None) for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"atc_[0-9a-f]{8}", attachment_id) for attachment_id in ids)


async def test_memory_store_keeps_one_namespace_for_any_context_by_default() -> None:
    store: MemoryStore[Any] = MemoryStore()
    await store.save_thread(ThreadMetadata(id="thr_1", created_at=START), context=object())
    loaded = await store.load_thread("thr_1", context={"anything": True})
    assert loaded.id == "thr_1"


async def test_memory_store_stores_a_plain_thread_metadata_copy_of_a_full_thread() -> None:
    store: MemoryStore[Any] = MemoryStore()
    thread = Thread(id="thr_1", created_at=START, title="T", items=Page[ThreadItem]())
    await store.save_thread(thread, context=None)
    loaded = await store.load_thread("thr_1", context=None)
    assert type(loaded) is ThreadMetadata
    assert loaded.title == "T"


async def test_memory_store_rejects_items_for_an_unknown_thread() -> None:
    store: MemoryStore[Any] = MemoryStore()
    with pytest.raises(NotFoundError):
        await store.add_thread_item(
            "thr_missing", message("msg_1", "thr_missing", START, "x"), None
        )


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_memory_store_ends_the_listing_at_an_unknown_cursor(order: str) -> None:
    store: MemoryStore[Any] = MemoryStore()
    await new_thread(store)
    for index in range(3):
        await store.add_thread_item("thr_1", message(f"msg_{index}", "thr_1", START, "x"), None)
    page = await store.load_thread_items("thr_1", "msg_gone", 2, order, None)
    assert (page.data, page.has_more, page.after) == ([], False, None)
    threads = await store.load_threads(2, "thr_gone", order, None)
    assert (threads.data, threads.has_more, threads.after) == ([], False, None)


async def test_memory_store_rejects_an_unknown_order() -> None:
    store: MemoryStore[Any] = MemoryStore()
    with pytest.raises(ValueError, match="order must be"):
        await store.load_threads(10, None, "newest", None)


async def test_memory_store_orders_naive_and_aware_timestamps_together() -> None:
    store: MemoryStore[Any] = MemoryStore()
    await new_thread(store)
    naive = message("msg_naive", "thr_1", datetime(2025, 1, 1, 12), "naive")
    aware = message("msg_aware", "thr_1", datetime(2025, 1, 1, 11, tzinfo=UTC), "aware")
    for item in (naive, aware):
        await store.add_thread_item("thr_1", item, None)
    page = await store.load_thread_items("thr_1", None, 10, "asc", None)
    assert [item.id for item in page.data] == ["msg_aware", "msg_naive"]


async def test_memory_store_keeps_the_position_of_an_upsert_that_changes_created_at() -> None:
    store: MemoryStore[Any] = MemoryStore()
    await new_thread(store)
    for index in range(3):
        item = message(f"msg_{index}", "thr_1", START + timedelta(seconds=index), "x")
        await store.add_thread_item("thr_1", item, None)
    moved = message("msg_0", "thr_1", START + timedelta(hours=1), "moved")
    await store.save_item("thr_1", moved, None)
    page = await store.load_thread_items("thr_1", None, 10, "asc", None)
    assert [item.id for item in page.data] == ["msg_0", "msg_1", "msg_2"]
    assert page.data[0].created_at == moved.created_at


async def test_memory_store_returns_fresh_objects_on_every_load() -> None:
    store: MemoryStore[Any] = MemoryStore()
    thread = await new_thread(store)
    first = await store.load_thread(thread.id, None)
    second = await store.load_thread(thread.id, None)
    assert first == second
    assert first is not second
    assert first.metadata is not second.metadata


async def test_memory_store_survives_writers_on_several_os_threads() -> None:
    store: MemoryStore[Any] = MemoryStore()
    await new_thread(store)

    def writer(worker: int) -> None:
        for index in range(100):
            created_at = START + timedelta(microseconds=index * 10 + worker)
            item = message(f"msg_{worker}_{index:03d}", "thr_1", created_at, "x")
            asyncio.run(store.add_thread_item("thr_1", item, None))

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    page = await store.load_thread_items("thr_1", None, 1000, "asc", None)
    assert len(page.data) == 400
    assert [item.created_at for item in page.data] == sorted(item.created_at for item in page.data)


async def test_memory_store_page_cost_does_not_grow_with_the_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store: MemoryStore[Any] = MemoryStore()
    await new_thread(store)
    for index in range(2000):
        created_at = START + timedelta(milliseconds=index)
        await store.add_thread_item(
            "thr_1", message(f"msg_{index:04d}", "thr_1", created_at, "x"), None
        )
    copies = 0
    original = UserMessageItem.model_copy

    def counting_copy(self: UserMessageItem, **kwargs: Any) -> UserMessageItem:
        nonlocal copies
        copies += 1
        return original(self, **kwargs)

    monkeypatch.setattr(UserMessageItem, "model_copy", counting_copy)
    page = await store.load_thread_items("thr_1", "msg_1500", 10, "desc", None)
    assert [item.id for item in page.data] == [f"msg_{n}" for n in range(1499, 1489, -1)]
    assert copies == 10
