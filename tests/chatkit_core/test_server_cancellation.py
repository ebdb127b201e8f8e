"""Client disconnects mid-stream (protocol §1.7; checklist 54, persistence part)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from chatkit_core.server import StreamingResult
from chatkit_core.store import MemoryStore
from chatkit_core.types import (
    Annotation,
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartAnnotationAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    CustomTask,
    SDKHiddenContextItem,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    URLSource,
    UserMessageItem,
    Workflow,
    WorkflowItem,
    WorkflowTaskAdded,
)

from ._server_harness import CTX, Context, ScriptedServer, body, parse_sse, stored_items, user_input


def delta(item_id: str, text: str, index: int = 0) -> ThreadItemUpdatedEvent:
    return ThreadItemUpdatedEvent(
        item_id=item_id,
        update=AssistantMessageContentPartTextDelta(content_index=index, delta=text),
    )


def message(item_id: str, thread_id: str) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=item_id, thread_id=thread_id, created_at=datetime.now(UTC), content=[]
    )


class Stalling(ScriptedServer):
    """Respond yields `self.events(thread)` and then waits forever, like a slow model."""

    def __init__(self, store: MemoryStore[Context]) -> None:
        super().__init__(store)
        self.events: Any = lambda thread: []
        self.stalled = asyncio.Event()
        self.closed = False

        async def script(
            thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
        ) -> AsyncIterator[ThreadStreamEvent]:
            try:
                for event in self.events(thread):
                    yield event
                self.stalled.set()
                await asyncio.Event().wait()
            finally:
                self.closed = True

        self.script = script


async def start(server: ScriptedServer) -> tuple[asyncio.Task[None], list[bytes]]:
    """Consume a threads.create stream in a task, as a host would; return it and its chunks."""
    result = await server.process(body("threads.create", {"input": user_input()}), CTX)
    assert isinstance(result, StreamingResult)
    chunks: list[bytes] = []

    async def consume() -> None:
        async for chunk in result:
            chunks.append(chunk)

    return asyncio.create_task(consume()), chunks


async def cancel_when_stalled(server: Stalling) -> tuple[str, list[ThreadItem]]:
    task, chunks = await start(server)
    await asyncio.wait_for(server.stalled.wait(), 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    thread_id = parse_sse(chunks)[0]["thread"]["id"]
    return thread_id, await stored_items(server.store, thread_id)  # type: ignore[arg-type]


async def test_cancelling_keeps_the_text_streamed_so_far_and_adds_a_hidden_note() -> None:
    server = Stalling(MemoryStore())
    server.events = lambda thread: [
        ThreadItemAddedEvent(item=message("msg_a", thread.id)),
        delta("msg_a", "Hello, "),
        delta("msg_a", "wor"),
        delta("msg_a", "ld"),
    ]

    thread_id, stored = await cancel_when_stalled(server)

    assert [item.type for item in stored] == [
        "user_message",
        "assistant_message",
        "sdk_hidden_context",
    ]
    kept = stored[1]
    assert isinstance(kept, AssistantMessageItem)
    assert kept.id == "msg_a" and kept.thread_id == thread_id
    assert [part.text for part in kept.content] == ["Hello, world"]
    note = stored[2]
    assert isinstance(note, SDKHiddenContextItem)
    assert note.id.startswith("shcx_") and note.content
    assert server.closed


async def test_a_pending_message_without_text_is_not_kept_but_the_note_is() -> None:
    server = Stalling(MemoryStore())
    server.events = lambda thread: [
        ThreadItemAddedEvent(item=message("msg_a", thread.id)),
        delta("msg_a", "   "),
        ThreadItemAddedEvent(item=message("msg_b", thread.id)),
    ]

    _, stored = await cancel_when_stalled(server)

    assert [item.type for item in stored] == ["user_message", "sdk_hidden_context"]


async def test_pending_workflows_are_not_kept_on_cancel() -> None:
    server = Stalling(MemoryStore())
    server.events = lambda thread: [
        ThreadItemAddedEvent(
            item=WorkflowItem(
                id="wf_1",
                thread_id=thread.id,
                created_at=datetime.now(UTC),
                workflow=Workflow(type="custom", tasks=[]),
            )
        ),
        ThreadItemUpdatedEvent(
            item_id="wf_1", update=WorkflowTaskAdded(task_index=0, task=CustomTask(title="Step"))
        ),
    ]

    _, stored = await cancel_when_stalled(server)

    assert [item.type for item in stored] == ["user_message", "sdk_hidden_context"]


async def test_pending_items_given_to_the_hook_have_every_update_applied() -> None:
    seen: list[list[ThreadItem]] = []

    class Recording(Stalling):
        async def handle_stream_cancelled(
            self, thread: ThreadMetadata, pending_items: list[ThreadItem], context: Context
        ) -> None:
            seen.append(pending_items)

    server = Recording(MemoryStore())
    source = URLSource(title="Doc", url="https://example.com")
    original = message("msg_a", "thr")

    def events(thread: ThreadMetadata) -> list[ThreadStreamEvent]:
        return [
            ThreadItemAddedEvent(item=original),
            ThreadItemUpdatedEvent(
                item_id="msg_a",
                update=AssistantMessageContentPartAdded(
                    content_index=0, content=AssistantMessageContent(text="A", annotations=[])
                ),
            ),
            delta("msg_a", "b"),
            delta("msg_a", "c"),
            ThreadItemUpdatedEvent(
                item_id="msg_a",
                update=AssistantMessageContentPartDone(
                    content_index=0, content=AssistantMessageContent(text="Final", annotations=[])
                ),
            ),
            delta("msg_a", "x", index=2),
            ThreadItemUpdatedEvent(
                item_id="msg_a",
                update=AssistantMessageContentPartAnnotationAdded(
                    content_index=2, annotation_index=5, annotation=Annotation(source=source)
                ),
            ),
            ThreadItemAddedEvent(
                item=WorkflowItem(
                    id="wf_1",
                    thread_id=thread.id,
                    created_at=datetime.now(UTC),
                    workflow=Workflow(type="custom", tasks=[]),
                )
            ),
            ThreadItemUpdatedEvent(
                item_id="wf_1",
                update=WorkflowTaskAdded(task_index=0, task=CustomTask(title="Step")),
            ),
        ]

    server.events = events
    _, stored = await cancel_when_stalled(server)

    pending_message, pending_workflow = seen[0]
    assert isinstance(pending_message, AssistantMessageItem)
    assert [part.text for part in pending_message.content] == ["Final", "", "x"]
    assert pending_message.content[2].annotations[0].source == source
    assert isinstance(pending_workflow, WorkflowItem)
    assert [task.title for task in pending_workflow.workflow.tasks] == ["Step"]  # type: ignore[union-attr]
    assert original.content == []  # the producer's own item is never touched
    assert [item.type for item in stored] == ["user_message"]


async def test_persistence_finishes_even_if_the_host_cancels_again_meanwhile() -> None:
    entered = asyncio.Event()
    release = asyncio.Event()

    class SlowStore(MemoryStore[Context]):
        async def add_thread_item(self, thread_id: str, item: ThreadItem, context: Context) -> None:
            if item.type == "assistant_message":
                entered.set()
                await release.wait()
            await super().add_thread_item(thread_id, item, context)

    store = SlowStore()
    server = Stalling(store)
    server.events = lambda thread: [
        ThreadItemAddedEvent(item=message("msg_a", thread.id)),
        delta("msg_a", "Hi"),
    ]
    task, chunks = await start(server)
    await asyncio.wait_for(server.stalled.wait(), 5)

    task.cancel()
    await asyncio.wait_for(entered.wait(), 5)
    task.cancel()  # a second, impatient cancellation while the message is being saved
    await asyncio.gather(task, return_exceptions=True)
    release.set()

    thread_id = parse_sse(chunks)[0]["thread"]["id"]
    # The shielded clean-up finishes on its own, after the task ended (generous: a loaded
    # machine may take a while to schedule it).
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        stored = await stored_items(store, thread_id)
        if len(stored) == 3 or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.01)
    assert [item.type for item in stored] == [
        "user_message",
        "assistant_message",
        "sdk_hidden_context",
    ]


async def test_closing_the_stream_without_cancelling_also_persists() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = Stalling(store)
    server.events = lambda thread: [
        ThreadItemAddedEvent(item=message("msg_a", thread.id)),
        delta("msg_a", "Partial"),
        delta("msg_a", " answer"),
    ]
    result = await server.process(body("threads.create", {"input": user_input()}), CTX)
    assert isinstance(result, StreamingResult)
    iterator = aiter(result)
    chunks = [await anext(iterator) for _ in range(5)]  # up to the first delta

    await iterator.aclose()  # type: ignore[attr-defined]

    thread_id = parse_sse(chunks)[0]["thread"]["id"]
    stored = await stored_items(store, thread_id)
    assert [item.type for item in stored] == [
        "user_message",
        "assistant_message",
        "sdk_hidden_context",
    ]
    kept = stored[1]
    assert isinstance(kept, AssistantMessageItem) and kept.content[0].text == "Partial"
    assert server.closed


async def test_a_finished_stream_adds_no_cancellation_note() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    result = await server.process(body("threads.create", {"input": user_input()}), CTX)
    chunks = [chunk async for chunk in result]  # type: ignore[union-attr]

    thread_id = parse_sse(chunks)[0]["thread"]["id"]
    assert [item.type for item in await stored_items(store, thread_id)] == ["user_message"]
