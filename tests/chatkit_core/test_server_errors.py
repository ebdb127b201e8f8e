"""Bad input and failures: what the client gets and that nothing is half-written (§1.2, §1.6)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from chatkit_core.actions import Action
from chatkit_core.errors import (
    CustomStreamError,
    ErrorCode,
    InvalidRequestError,
    ProtocolError,
    StreamError,
    UnsupportedOperationError,
)
from chatkit_core.store import MemoryStore, NotFoundError
from chatkit_core.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    AudioInput,
    SyncCustomActionResponse,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    TranscriptionResult,
    UserMessageItem,
    WidgetItem,
)

from ._server_harness import (
    CTX,
    Context,
    ScriptedServer,
    assistant,
    body,
    call,
    new_thread,
    store_state,
    stream,
    user_input,
)

STREAM_ERROR = {"type": "error", "code": "stream.error", "allow_retry": False}

BAD_BODIES: list[tuple[str | bytes, str]] = [
    (b"{not json", "invalid_json"),
    (b"\xff\xfe\x00", "invalid_json"),
    (b"", "invalid_json"),
    (b"[1, 2]", "invalid_envelope"),
    (b'"threads.list"', "invalid_envelope"),
    (b"null", "invalid_envelope"),
    (b'{"params": {}}', "invalid_envelope"),
    (b'{"type": "threads.cancel", "params": {}}', "unknown_type"),
    (b'{"type": "threads.list"}', "invalid_params"),
    (b'{"type": "threads.list", "params": null}', "invalid_params"),
    (b'{"type": "threads.list", "params": {"limit": "many"}}', "invalid_params"),
    (b'{"type": "threads.list", "params": {"order": "sideways"}}', "invalid_params"),
    (b'{"type": "threads.get_by_id", "params": {}}', "invalid_params"),
    (b'{"type": "threads.update", "params": {"thread_id": "thr_1", "title": 5}}', "invalid_params"),
    (b'{"type": "threads.create", "params": {"input": {"content": []}}}', "invalid_params"),
    (
        b'{"type": "items.feedback", "params": {"thread_id": "t", "item_ids": [], "kind": "meh"}}',
        "invalid_params",
    ),
    (b'{"type": "threads.list", "params": {}, "metadata": []}', "invalid_envelope"),
]


@pytest.mark.parametrize(("payload", "code"), BAD_BODIES)
async def test_bad_request_bodies_raise_invalid_request_error_and_write_nothing(
    payload: bytes, code: str
) -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    await new_thread(server)
    before = await store_state(store)

    with pytest.raises(InvalidRequestError) as raised:
        await server.process(payload, CTX)

    assert raised.value.code == code
    assert raised.value.status_code == 400
    assert raised.value.message
    assert await store_state(store) == before
    assert len(server.calls) == 1  # only the setup's respond ran


async def test_a_streaming_request_with_bad_params_is_rejected_before_any_stream() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    thread_id = await new_thread(server)
    before = await store_state(store)
    payload = body("threads.add_user_message", {"thread_id": thread_id, "input": {"content": 3}})

    with pytest.raises(InvalidRequestError) as raised:
        await server.process(payload, CTX)

    assert raised.value.code == "invalid_params"
    assert "params.input" in raised.value.message
    assert await store_state(store) == before


async def test_transcribe_with_invalid_base64_is_a_bad_request() -> None:
    server = ScriptedServer()
    with pytest.raises(InvalidRequestError) as raised:
        await call(server, "input.transcribe", {"audio_base64": "abc", "mime_type": "audio/ogg"})
    assert raised.value.code == "invalid_params"


async def test_non_streaming_operations_on_an_unknown_thread_raise_not_found() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    await new_thread(server)
    before = await store_state(store)

    for op, params in [
        ("threads.get_by_id", {"thread_id": "thr_missing"}),
        ("threads.update", {"thread_id": "thr_missing", "title": "x"}),
        ("threads.sync_custom_action", {"thread_id": "thr_missing", "action": {"type": "a"}}),
    ]:
        with pytest.raises(NotFoundError):
            await call(server, op, params)
    assert await store_state(store) == before


STREAMING_OPS_NAMING_A_THREAD = [
    ("threads.add_user_message", {"input": user_input()}),
    ("threads.add_client_tool_output", {"result": 1}),
    ("threads.retry_after_item", {"item_id": "x"}),
    ("threads.custom_action", {"action": {"type": "a"}}),
    ("threads.add_structured_input", {"item_id": "x", "input": {}}),
]


@pytest.mark.parametrize(("op", "params"), STREAMING_OPS_NAMING_A_THREAD)
async def test_a_streaming_operation_on_an_unknown_thread_raises_not_found_from_process(
    op: str, params: dict[str, Any]
) -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    await new_thread(server)
    before = await store_state(store)

    with pytest.raises(NotFoundError):
        await server.process(body(op, {"thread_id": "thr_missing", **params}), CTX)

    assert await store_state(store) == before
    assert len(server.calls) == 1


@pytest.mark.parametrize(("op", "params"), STREAMING_OPS_NAMING_A_THREAD)
async def test_a_streaming_operation_on_another_users_thread_raises_not_found_from_process(
    op: str, params: dict[str, Any]
) -> None:
    store: MemoryStore[Context] = MemoryStore(scope=lambda context: context["user"])
    server = ScriptedServer(store)
    thread_id = await new_thread(server)
    before = await store_state(store)

    with pytest.raises(NotFoundError):
        await server.process(body(op, {"thread_id": thread_id, **params}), {"user": "mallory"})

    assert await store_state(store) == before
    assert len(server.calls) == 1


async def test_an_unknown_attachment_in_threads_create_raises_not_found_and_saves_nothing() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    await new_thread(server)
    before = await store_state(store)

    with pytest.raises(NotFoundError):
        await server.process(
            body("threads.create", {"input": user_input(attachments=["atc_missing"])}), CTX
        )

    assert await store_state(store) == before  # no thread without its message
    assert len(server.calls) == 1


async def test_an_unknown_attachment_in_a_new_message_leaves_the_thread_untouched() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    thread_id = await new_thread(server)
    before = await store_state(store)

    with pytest.raises(NotFoundError):
        await server.process(
            body(
                "threads.add_user_message",
                {"thread_id": thread_id, "input": user_input(attachments=["atc_nope"])},
            ),
            CTX,
        )

    assert await store_state(store) == before


async def test_a_generic_exception_in_respond_becomes_a_retryable_stream_error() -> None:
    server = ScriptedServer()

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        yield ThreadItemDoneEvent(item=assistant("msg_a", thread.id, "partial"))
        raise RuntimeError("boom")

    server.script = script
    events = await stream(server, "threads.create", {"input": user_input()})

    assert events[-1] == {"type": "error", "code": "stream.error", "allow_retry": True}
    assert [e["type"] for e in events] == [
        "thread.created",
        "thread.item.done",
        "stream_options",
        "thread.item.done",
        "error",
    ]


async def test_a_custom_stream_error_carries_its_message_and_retry_flag() -> None:
    server = ScriptedServer()

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        raise CustomStreamError("X", allow_retry=False)
        yield

    server.script = script
    events = await stream(server, "threads.create", {"input": user_input()})

    assert events[-1] == {"type": "error", "code": "custom", "message": "X", "allow_retry": False}


async def test_a_coded_stream_error_carries_its_code_without_a_message() -> None:
    server = ScriptedServer()

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        raise StreamError(ErrorCode.STREAM_ERROR, allow_retry=False)
        yield

    server.script = script
    events = await stream(server, "threads.create", {"input": user_input()})

    assert events[-1] == {"type": "error", "code": "stream.error", "allow_retry": False}


async def test_thread_changes_made_before_a_failure_still_surface_after_the_error() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        thread.title = "Before the crash"
        raise RuntimeError("boom")
        yield

    server.script = script
    events = await stream(server, "threads.create", {"input": user_input()})

    assert [e["type"] for e in events[-2:]] == ["error", "thread.updated"]
    assert events[-1]["thread"]["title"] == "Before the crash"
    thread = await store.load_thread(events[0]["thread"]["id"], CTX)
    assert thread.title == "Before the crash"


async def test_a_store_failure_while_persisting_becomes_an_error_event() -> None:
    class BrokenStore(MemoryStore[Context]):
        async def save_item(self, thread_id: str, item: Any, context: Context) -> None:
            if item.id == "msg_a":
                raise OSError("disk full")
            await super().save_item(thread_id, item, context)

    server = ScriptedServer(BrokenStore())

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        from chatkit_core.types import ThreadItemReplacedEvent

        yield ThreadItemReplacedEvent(item=assistant("msg_a", thread.id, "x"))

    server.script = script
    events = await stream(server, "threads.create", {"input": user_input()})

    assert events[-1] == {"type": "error", "code": "stream.error", "allow_retry": True}
    assert "thread.item.replaced" not in [e["type"] for e in events]


async def test_the_default_action_hook_answers_with_a_retryable_error_after_stream_options() -> (
    None
):
    server = ScriptedServer()
    thread_id = await new_thread(server)

    events = await stream(
        server, "threads.custom_action", {"thread_id": thread_id, "action": {"type": "go"}}
    )

    assert events == [
        {"type": "stream_options", "stream_options": {"allow_cancel": True}},
        {"type": "error", "code": "stream.error", "allow_retry": True},
    ]


async def test_operations_without_an_attachment_store_or_hooks_are_unsupported() -> None:
    server = ScriptedServer()
    thread_id = await new_thread(server)
    requests: list[tuple[str, dict[str, Any]]] = [
        ("attachments.create", {"name": "a", "size": 1, "mime_type": "a/b"}),
        ("attachments.delete", {"attachment_id": "atc_1"}),
        ("input.transcribe", {"audio_base64": "", "mime_type": "audio/ogg"}),
        ("threads.sync_custom_action", {"thread_id": thread_id, "action": {"type": "a"}}),
    ]

    for op, params in requests:
        with pytest.raises(UnsupportedOperationError) as raised:
            await call(server, op, params)
        error = raised.value
        assert isinstance(error, ProtocolError), op
        assert (error.code, error.status_code) == ("unsupported_operation", 501), op
        # Handlers written for the reference's RuntimeError / NotImplementedError still work.
        assert isinstance(error, NotImplementedError) and isinstance(error, RuntimeError), op


async def test_overridden_hooks_serve_the_operations_the_defaults_refuse() -> None:
    class Hooks(ScriptedServer):
        async def transcribe(
            self, audio_input: AudioInput, context: Context
        ) -> TranscriptionResult:
            return TranscriptionResult(text=f"{len(audio_input.data)} bytes")

        async def sync_action(
            self,
            thread: ThreadMetadata,
            action: Action[str, Any],
            sender: WidgetItem | None,
            context: Context,
        ) -> SyncCustomActionResponse:
            return SyncCustomActionResponse()

    server = Hooks()
    thread_id = await new_thread(server)

    spoken = await call(server, "input.transcribe", {"audio_base64": "AAAA", "mime_type": "a/b"})
    answer = await call(
        server, "threads.sync_custom_action", {"thread_id": thread_id, "action": {"type": "a"}}
    )

    assert spoken == {"text": "3 bytes"}
    assert answer == {}


async def test_an_official_style_hook_calling_super_still_sees_not_implemented() -> None:
    class Delegating(ScriptedServer):
        async def transcribe(
            self, audio_input: AudioInput, context: Context
        ) -> TranscriptionResult:
            try:
                return await super().transcribe(audio_input, context)
            except NotImplementedError:
                return TranscriptionResult(text="fallback")

    spoken = await call(Delegating(), "input.transcribe", {"audio_base64": "", "mime_type": "a/b"})

    assert spoken == {"text": "fallback"}


async def test_sync_custom_action_naming_a_non_widget_item_is_a_bad_request() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    thread_id = await new_thread(server)
    message = AssistantMessageItem(
        id="msg_plain",
        thread_id=thread_id,
        created_at=assistant("x", thread_id, "").created_at,
        content=[AssistantMessageContent(text="hi", annotations=[])],
    )
    await store.add_thread_item(thread_id, message, CTX)

    with pytest.raises(InvalidRequestError) as raised:
        await call(
            server,
            "threads.sync_custom_action",
            {"thread_id": thread_id, "item_id": "msg_plain", "action": {"type": "a"}},
        )
    assert raised.value.code == "invalid_params"


def test_invalid_request_error_carries_what_a_host_needs_for_a_json_400() -> None:
    error = InvalidRequestError("unknown_type", "Unknown request type.")
    answer = json.dumps({"code": error.code, "message": error.message})
    assert error.status_code == 400
    assert json.loads(answer)["code"] == "unknown_type"
