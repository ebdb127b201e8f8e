"""Transport and serialization of ChatKitServer answers (protocol §1.4, §1.5; checklist 1-7)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from chatkit_core.server import NonStreamingResult, StreamingResult, agents_sdk_user_agent_override
from chatkit_core.store import MemoryStore
from chatkit_core.types import (
    ClientEffectEvent,
    ErrorEvent,
    FileAttachment,
    ProgressUpdateEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
)

from ._server_harness import (
    CTX,
    Context,
    ScriptedServer,
    body,
    call,
    new_thread,
    parse_sse,
    stream,
    user_input,
)


async def test_every_stream_chunk_is_one_data_line_with_one_json_object() -> None:
    server = ScriptedServer()

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        yield ProgressUpdateEvent(text="Searching\nwith a newline and ünïcode")
        yield ClientEffectEvent(name="confetti")

    server.script = script
    result = await server.process(body("threads.create", {"input": user_input("héllo")}), CTX)
    assert isinstance(result, StreamingResult)
    chunks = [chunk async for chunk in result]

    assert len(chunks) == 5
    for chunk in chunks:
        assert chunk.startswith(b"data: ") and chunk.endswith(b"\n\n")
        assert chunk.count(b"\n") == 2
        for forbidden in (b"event:", b"id:", b"retry:", b"[DONE]"):
            assert not chunk.startswith(forbidden)
    assert "ünïcode".encode() in chunks[3]  # raw UTF-8, not \u-escaped
    assert parse_sse(chunks)[-1] == {"type": "client_effect", "name": "confetti", "data": {}}


async def test_streaming_operations_answer_a_stream_and_the_others_a_json_body() -> None:
    server = ScriptedServer()
    thread_id = await new_thread(server)

    streamed = await server.process(
        body("threads.add_user_message", {"thread_id": thread_id, "input": user_input()}), CTX
    )
    listed = await server.process(body("threads.list"), CTX)

    assert isinstance(streamed, StreamingResult)
    chunks = [chunk async for chunk in streamed]
    assert len(chunks) == 2 and all(isinstance(chunk, bytes) for chunk in chunks)
    assert isinstance(listed, NonStreamingResult)
    assert isinstance(listed.json, bytes)
    assert json.loads(listed.json)["data"][0]["id"] == thread_id


async def test_unknown_keys_in_envelope_and_params_are_ignored() -> None:
    server = ScriptedServer()
    thread_id = await new_thread(server)

    envelope = {
        "type": "threads.get_by_id",
        "params": {"thread_id": thread_id, "surprise": [1, 2]},
        "metadata": {"anything": None},
        "extra": True,
    }
    result = await server.process(json.dumps(envelope), CTX)

    assert isinstance(result, NonStreamingResult)
    assert json.loads(result.json)["id"] == thread_id


async def test_request_body_may_be_str_bytes_or_bytearray() -> None:
    server = ScriptedServer()
    text = '{"type":"threads.list","params":{}}'

    for payload in (text, text.encode(), bytearray(text.encode())):
        result = await server.process(payload, CTX)
        assert isinstance(result, NonStreamingResult)
        assert json.loads(result.json) == {"data": [], "has_more": False}


async def test_null_fields_are_left_out_of_threads_pages_and_error_events() -> None:
    server = ScriptedServer()

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        yield ErrorEvent(code="stream.error", allow_retry=True)  # type: ignore[arg-type]

    server.script = script
    events = await stream(server, "threads.create", {"input": user_input()})
    listed = await call(server, "threads.list", {})

    assert "title" not in events[0]["thread"]
    assert "quoted_text" not in events[1]["item"]
    assert events[-1] == {"type": "error", "code": "stream.error", "allow_retry": True}
    assert "after" not in listed
    assert "null" not in json.dumps(events) + json.dumps(listed)


async def test_a_new_thread_carries_the_non_null_defaults() -> None:
    server = ScriptedServer()

    events = await stream(server, "threads.create", {"input": user_input()})

    thread = events[0]["thread"]
    assert thread["status"] == {"type": "active"}
    assert thread["metadata"] == {}
    assert thread["items"] == {"data": [], "has_more": False}
    assert thread["created_at"].endswith("Z")


async def test_private_thread_and_attachment_metadata_never_reach_the_client() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    await store.save_attachment(
        FileAttachment(id="atc_1", name="a.txt", mime_type="text/plain", metadata={"key": "s3"}),
        CTX,
    )
    events = await stream(server, "threads.create", {"input": user_input(attachments=["atc_1"])})
    thread_id = events[0]["thread"]["id"]
    stored = await store.load_thread(thread_id, CTX)
    stored.metadata = {"secret": "x"}
    await store.save_thread(stored, CTX)

    answers: list[Any] = [
        events,
        await call(server, "threads.get_by_id", {"thread_id": thread_id}),
        await call(server, "threads.list", {}),
        await call(server, "threads.update", {"thread_id": thread_id, "title": "T"}),
        await call(server, "items.list", {"thread_id": thread_id}),
    ]

    text = json.dumps(answers)
    assert "s3" not in text and "secret" not in text
    assert events[1]["item"]["attachments"][0]["id"] == "atc_1"
    assert "metadata" not in events[1]["item"]["attachments"][0]
    assert answers[1]["metadata"] == {} and answers[3]["metadata"] == {}
    assert answers[2]["data"][0]["metadata"] == {}


async def test_timestamps_created_by_the_server_are_utc() -> None:
    server = ScriptedServer()
    before = datetime.now(UTC)

    events = await stream(server, "threads.create", {"input": user_input()})

    created = datetime.fromisoformat(events[1]["item"]["created_at"])
    assert created.tzinfo is not None
    assert created >= before


def test_the_agents_user_agent_override_applies_only_inside_its_block() -> None:
    from agents.models.openai_responses import _HEADERS_OVERRIDE

    before = _HEADERS_OVERRIDE.get()
    with agents_sdk_user_agent_override():
        inside = _HEADERS_OVERRIDE.get()

    assert inside is not None and "ChatKitCore/Python" in inside["User-Agent"]
    assert _HEADERS_OVERRIDE.get() == before


async def test_serialize_writes_wire_json_for_integrators() -> None:
    server = ScriptedServer()
    attachment = FileAttachment(id="atc_1", name="a", mime_type="a/b", metadata={"k": "v"})

    assert json.loads(server._serialize(attachment)) == {
        "type": "file",
        "id": "atc_1",
        "name": "a",
        "mime_type": "a/b",
    }
