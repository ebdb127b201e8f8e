"""What the seed API reference promises beyond the official SDK, and the request edges.

`ThreadMetadata.updated_at` and `UserMessageItem.metadata` are server-private: kept by
the store, never on the wire. A seed-style store answers `None` for a missing record; the
server reads that as `NotFoundError`. `limit` is bounded, `process()` takes only raw
bodies, and the request context does not outlive a stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chatkit_core import server as server_module
from chatkit_core._serialization import dump_json, sse_event
from chatkit_core.errors import InvalidRequestError
from chatkit_core.server import MAX_PAGE_SIZE, StreamingResult
from chatkit_core.store import MemoryStore, NotFoundError
from chatkit_core.types import (
    Page,
    Thread,
    ThreadItem,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    ThreadUpdatedEvent,
    UserMessageItem,
)

from ._server_harness import (
    CTX,
    Context,
    ScriptedServer,
    assistant,
    body,
    call,
    new_thread,
    stream,
    user_input,
)

AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


# --- ThreadMetadata.updated_at ----------------------------------------------------------------


def test_updated_at_is_optional_and_never_on_the_wire() -> None:
    plain = ThreadMetadata(id="thr_1", created_at=AT)
    stamped = ThreadMetadata(id="thr_1", created_at=AT, updated_at=AT + timedelta(hours=1))

    assert plain.updated_at is None
    assert dump_json(stamped) == dump_json(plain)
    event = ThreadUpdatedEvent(thread=Thread(**dict(stamped)))
    assert b"updated_at" not in sse_event(event)
    assert stamped.model_dump()["updated_at"] == AT + timedelta(hours=1)


async def test_the_server_stamps_updated_at_whenever_it_saves_the_thread() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    before = datetime.now(UTC)

    async def retitle(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        thread.title = "Renamed"
        yield ThreadItemDoneEvent(item=assistant("msg_a", thread.id, "ok"))

    thread_id = await new_thread(server)
    created = (await store.load_thread(thread_id, CTX)).updated_at
    assert created is not None and created >= before

    server.script = retitle
    events = await stream(
        server, "threads.add_user_message", {"thread_id": thread_id, "input": user_input()}
    )
    announced = (await store.load_thread(thread_id, CTX)).updated_at
    answer = await call(server, "threads.update", {"thread_id": thread_id, "title": "T"})
    updated = (await store.load_thread(thread_id, CTX)).updated_at

    assert announced is not None and updated is not None
    assert created <= announced <= updated
    assert "thread.updated" in [event["type"] for event in events]
    assert all("updated_at" not in json.dumps(event) for event in events)
    assert "updated_at" not in answer
    listed = await call(server, "threads.get_by_id", {"thread_id": thread_id})
    assert "updated_at" not in listed


# --- UserMessageItem.metadata ---------------------------------------------------------------


def test_user_message_metadata_defaults_to_empty_and_is_never_on_the_wire() -> None:
    fields: dict[str, Any] = {
        "id": "msg_1",
        "thread_id": "thr_1",
        "created_at": AT,
        "content": [{"type": "input_text", "text": "hi"}],
        "inference_options": {},
    }
    plain = UserMessageItem.model_validate(fields)
    tagged = UserMessageItem.model_validate({**fields, "metadata": {"source": "email"}})

    assert plain.metadata == {}
    assert dump_json(tagged) == dump_json(plain)
    assert sse_event(ThreadItemDoneEvent(item=tagged)) == sse_event(ThreadItemDoneEvent(item=plain))
    page = Page[ThreadItem](data=[tagged])
    assert b"source" not in dump_json(page)
    assert tagged.model_dump()["metadata"] == {"source": "email"}


async def test_user_message_metadata_set_in_respond_is_kept_by_the_store() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)

    async def tag(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        assert item is not None and item.metadata == {}
        item.metadata["language"] = "nl"
        await store.save_item(thread.id, item, ctx)
        return
        yield

    server.script = tag
    thread_id = await new_thread(server)
    items = await call(server, "items.list", {"thread_id": thread_id})

    stored = (await store.load_thread_items(thread_id, None, 10, "asc", CTX)).data[0]
    assert isinstance(stored, UserMessageItem) and stored.metadata == {"language": "nl"}
    assert "metadata" not in items["data"][0]


# --- a seed-style store returning None ------------------------------------------------------


class NoneStore(MemoryStore[Context]):
    """Answers None for missing threads and items, as the seed's signature allows."""

    async def load_thread(self, thread_id: str, context: Context) -> Any:
        try:
            return await super().load_thread(thread_id, context)
        except NotFoundError:
            return None

    async def load_item(self, thread_id: str, item_id: str, context: Context) -> Any:
        try:
            return await super().load_item(thread_id, item_id, context)
        except NotFoundError:
            return None

    async def load_attachment(self, attachment_id: str, context: Context) -> Any:
        try:
            return await super().load_attachment(attachment_id, context)
        except NotFoundError:
            return None


@pytest.mark.parametrize(
    ("op", "params"),
    [
        ("threads.get_by_id", {"thread_id": "thr_gone"}),
        ("threads.update", {"thread_id": "thr_gone", "title": "t"}),
        ("items.feedback", {"thread_id": "thr_gone", "item_ids": [], "kind": "positive"}),
        ("threads.sync_custom_action", {"thread_id": "thr_gone", "action": {"type": "a"}}),
    ],
)
async def test_a_store_answering_none_means_not_found(op: str, params: dict[str, Any]) -> None:
    with pytest.raises(NotFoundError):
        await call(ScriptedServer(NoneStore()), op, params)


async def test_a_store_answering_none_for_an_item_means_not_found() -> None:
    server = ScriptedServer(NoneStore())
    thread_id = await new_thread(server)
    params = {"thread_id": thread_id, "item_id": "msg_gone", "action": {"type": "a"}}

    with pytest.raises(NotFoundError):
        await call(server, "threads.sync_custom_action", params)


@pytest.mark.parametrize(
    ("op", "params"),
    [
        ("threads.add_user_message", {"thread_id": "thr_gone", "input": user_input()}),
        ("threads.create", {"input": {**user_input(), "attachments": ["atc_gone"]}}),
        ("threads.add_structured_input", {"thread_id": "T", "item_id": "x", "input": {}}),
        ("threads.custom_action", {"thread_id": "T", "item_id": "x", "action": {"type": "a"}}),
    ],
)
async def test_a_streaming_request_on_a_none_record_raises_not_found_not_a_crash(
    op: str, params: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    server = ScriptedServer(NoneStore())
    thread_id = await new_thread(server)
    params = {key: thread_id if value == "T" else value for key, value in params.items()}

    with pytest.raises(NotFoundError):
        await server.process(body(op, params), CTX)

    assert "AttributeError" not in caplog.text


# --- limit bounds ---------------------------------------------------------------------------


async def _filled_server(count: int) -> tuple[ScriptedServer, str]:
    store: MemoryStore[Context] = MemoryStore()
    start = datetime(2025, 6, 1, tzinfo=UTC)
    for number in range(count):
        thread = ThreadMetadata(
            id=f"thr_{number:03d}", created_at=start + timedelta(seconds=number)
        )
        await store.save_thread(thread, CTX)
    for number in range(count):
        await store.add_thread_item(
            "thr_000", assistant(f"msg_{number:03d}", "thr_000", "x", number), CTX
        )
    return ScriptedServer(store), "thr_000"


@pytest.mark.parametrize("limit", [-1, -(10**9)])
async def test_a_negative_limit_is_an_invalid_request(limit: int) -> None:
    server, thread_id = await _filled_server(2)

    for op, params in [
        ("threads.list", {"limit": limit}),
        ("items.list", {"thread_id": thread_id, "limit": limit}),
    ]:
        with pytest.raises(InvalidRequestError) as raised:
            await call(server, op, params)
        assert raised.value.code == "invalid_params"
        assert "params.limit" in raised.value.message


@pytest.mark.parametrize("limit", [MAX_PAGE_SIZE + 1, 10**9, 10**30])
async def test_a_limit_above_the_maximum_returns_a_full_page_that_can_be_continued(
    limit: int,
) -> None:
    assert MAX_PAGE_SIZE == 100
    server, thread_id = await _filled_server(130)

    threads = await call(server, "threads.list", {"limit": limit, "order": "asc"})
    items = await call(server, "items.list", {"thread_id": thread_id, "limit": limit})
    rest = await call(server, "threads.list", {"order": "asc", "after": threads["after"]})

    assert len(threads["data"]) == 100 and threads["has_more"] is True
    assert len(items["data"]) == 100 and items["has_more"] is True
    assert [t["id"] for t in rest["data"]] == [f"thr_{n:03d}" for n in range(100, 120)]


async def test_a_limit_of_exactly_the_maximum_is_honoured() -> None:
    server, _ = await _filled_server(101)

    page = await call(server, "threads.list", {"limit": MAX_PAGE_SIZE})

    assert len(page["data"]) == 100 and page["has_more"] is True


# --- process() input, request context, public names -----------------------------------------


@pytest.mark.parametrize("payload", [{"type": "threads.list", "params": {}}, None, 42, ["x"]])
async def test_process_rejects_a_parsed_payload_with_a_clear_type_error(payload: Any) -> None:
    with pytest.raises(TypeError, match=r"raw request body as bytes or str"):
        await ScriptedServer().process(payload, CTX)


async def test_process_accepts_str_bytes_bytearray_and_memoryview() -> None:
    raw = body("threads.list", {})
    server = ScriptedServer()
    for payload in (raw, raw.decode(), bytearray(raw), memoryview(raw)):
        result = await server.process(payload, CTX)  # type: ignore[arg-type]
        assert json.loads(result.json) == {"data": [], "has_more": False}  # type: ignore[union-attr]


async def test_the_request_context_is_unbound_once_a_stream_ends_in_its_task() -> None:
    server = ScriptedServer()
    thread = ThreadMetadata(id="thr_1", created_at=AT)
    seen: list[Any] = []

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        seen.append(await server._to_agent_input(thread, item))
        return
        yield

    server.script = script
    result = await server.process(body("threads.create", {"input": user_input()}), CTX)
    assert isinstance(result, StreamingResult)
    chunks = [chunk async for chunk in result]

    assert chunks and seen and seen[0] is not None
    with pytest.raises(RuntimeError, match=r"process\(\)"):
        await server._to_agent_input(thread, None)


async def test_a_stream_abandoned_midway_also_unbinds_the_request_context() -> None:
    server = ScriptedServer()
    thread = ThreadMetadata(id="thr_1", created_at=AT)

    async def chatty(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        for number in range(5):
            yield ThreadItemDoneEvent(item=assistant(f"msg_{number}", thread.id, "x"))

    server.script = chatty
    result = await server.process(body("threads.create", {"input": user_input()}), CTX)
    assert isinstance(result, StreamingResult)
    stream_iter = aiter(result)
    await anext(stream_iter)
    await result.json_events.aclose()

    with pytest.raises(RuntimeError, match=r"process\(\)"):
        await server._to_agent_input(thread, None)


def test_every_public_server_constant_is_exported() -> None:
    constants = [
        name
        for name, value in vars(server_module).items()
        if name.isupper() and not name.startswith("_") and isinstance(value, int | str)
    ]
    assert sorted(constants) == ["DEFAULT_ERROR_MESSAGE", "DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE"]
    assert set(constants) <= set(server_module.__all__)
