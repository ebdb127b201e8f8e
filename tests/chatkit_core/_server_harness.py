"""Shared setup for the ChatKitServer tests: a scripted server and a client-side SSE reader."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from chatkit_core.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit_core.store import MemoryStore
from chatkit_core.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    InferenceOptions,
    ThreadItem,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTextContent,
)

Context = dict[str, Any]
Script = Callable[
    [ThreadMetadata, UserMessageItem | None, Context], AsyncIterator[ThreadStreamEvent]
]
CTX: Context = {"user": "u1"}


async def _nothing(
    thread: ThreadMetadata, item: UserMessageItem | None, context: Context
) -> AsyncIterator[ThreadStreamEvent]:
    return
    yield


class ScriptedServer(ChatKitServer[Context]):
    """A server whose `respond` runs `self.script` and records every call it gets."""

    def __init__(self, store: MemoryStore[Context] | None = None, **kwargs: Any) -> None:
        super().__init__(store or MemoryStore(), **kwargs)
        self.script: Script = _nothing
        self.calls: list[tuple[ThreadMetadata, UserMessageItem | None, Context]] = []

    def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        self.calls.append((thread, input_user_message, context))
        return self.script(thread, input_user_message, context)


def parse_sse(chunks: list[bytes]) -> list[dict[str, Any]]:
    """Read SSE chunks as a client would, checking the exact framing of every chunk."""
    events = []
    for chunk in chunks:
        assert chunk.startswith(b"data: "), chunk
        assert chunk.endswith(b"\n\n"), chunk
        body = chunk[len(b"data: ") : -2]
        assert b"\n" not in body, chunk
        event = json.loads(body.decode("utf-8"))
        assert isinstance(event, dict) and isinstance(event.get("type"), str)
        events.append(event)
    return events


def body(op: str, params: dict[str, Any] | None = None, **extra: Any) -> bytes:
    return json.dumps({"type": op, "params": params or {}, **extra}).encode()


async def stream(
    server: ChatKitServer[Context], op: str, params: dict[str, Any], ctx: Context = CTX
) -> list[dict[str, Any]]:
    result = await server.process(body(op, params), ctx)
    assert isinstance(result, StreamingResult)
    return parse_sse([chunk async for chunk in result])


async def call(
    server: ChatKitServer[Context], op: str, params: dict[str, Any], ctx: Context = CTX
) -> Any:
    result = await server.process(body(op, params), ctx)
    assert isinstance(result, NonStreamingResult)
    return json.loads(result.json)


def user_input(text: str = "Hi", **extra: Any) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
        **extra,
    }


async def new_thread(server: ScriptedServer, text: str = "Hi") -> str:
    events = await stream(server, "threads.create", {"input": user_input(text)})
    thread_id: str = events[0]["thread"]["id"]
    return thread_id


_clock = datetime(2025, 1, 1, tzinfo=UTC)


def stamp(seconds: int) -> datetime:
    return _clock + timedelta(seconds=seconds)


def assistant(item_id: str, thread_id: str, text: str, seconds: int = 0) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=datetime.now(UTC) + timedelta(seconds=seconds),
        content=[AssistantMessageContent(text=text, annotations=[])],
    )


def user_message(item_id: str, thread_id: str, text: str) -> UserMessageItem:
    return UserMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=datetime.now(UTC),
        content=[UserMessageTextContent(text=text)],
        inference_options=InferenceOptions(),
    )


async def store_state(store: MemoryStore[Context], ctx: Context = CTX) -> list[Any]:
    """Return everything the store holds for `ctx` (threads and their items) as JSON data."""
    threads = await store.load_threads(10_000, None, "asc", ctx)
    state: list[Any] = []
    for thread in threads.data:
        items = await store.load_thread_items(thread.id, None, 10_000, "asc", ctx)
        state.append(
            (thread.model_dump(mode="json"), [item.model_dump(mode="json") for item in items.data])
        )
    return state


async def stored_items(store: MemoryStore[Context], thread_id: str) -> list[ThreadItem]:
    page = await store.load_thread_items(thread_id, None, 10_000, "asc", CTX)
    return list(page.data)
