"""Streaming operations and the respond pipeline (protocol §5.0-§5.6; checklist 8-22, 39-48)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chatkit_core.actions import Action
from chatkit_core.errors import InvalidRequestError
from chatkit_core.server import ChatKitServer
from chatkit_core.store import MemoryStore
from chatkit_core.types import (
    AssistantMessageContentPartTextDelta,
    ClientEffectEvent,
    ClientToolCallItem,
    ErrorEvent,
    FileAttachment,
    HiddenContextItem,
    LockedStatus,
    NoticeEvent,
    ProgressUpdateEvent,
    SDKHiddenContextItem,
    StreamOptions,
    StructuredInputFreeform,
    StructuredInputItem,
    StructuredInputMultipleChoice,
    StructuredInputMultipleChoiceOption,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemReplacedEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    WidgetItem,
)
from chatkit_core.widgets import Card, Text

from ._server_harness import (
    CTX,
    Context,
    ScriptedServer,
    assistant,
    body,
    call,
    new_thread,
    store_state,
    stored_items,
    stream,
    user_input,
)

STREAM_ERROR = {"type": "error", "code": "stream.error", "allow_retry": False}
OPTIONS = {"type": "stream_options", "stream_options": {"allow_cancel": True}}


def types_of(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


def later(thread_id: str, seconds: int) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def test_threads_create_announces_thread_then_user_message_then_stream_options() -> None:
    server = ScriptedServer()

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        yield ThreadItemDoneEvent(item=assistant("msg_a", thread.id, "Hello"))

    server.script = script
    events = await stream(server, "threads.create", {"input": user_input("Hi")})

    assert types_of(events) == [
        "thread.created",
        "thread.item.done",
        "stream_options",
        "thread.item.done",
    ]
    assert events[1]["item"]["type"] == "user_message"
    assert events[2] == OPTIONS
    assert events[3]["item"]["content"][0]["text"] == "Hello"
    thread, message, context = server.calls[0]
    assert message is not None and message.id == events[1]["item"]["id"]
    assert thread.id == events[0]["thread"]["id"] and context == CTX


async def test_threads_create_with_a_silent_respond_has_exactly_three_events() -> None:
    server = ScriptedServer()

    events = await stream(server, "threads.create", {"input": user_input()})

    assert types_of(events) == ["thread.created", "thread.item.done", "stream_options"]
    assert "thread.item.added" not in types_of(events)


async def test_the_user_message_echoes_its_input() -> None:
    server = ScriptedServer()
    message_input = {
        "content": [
            {"type": "input_text", "text": "Hi "},
            {"type": "input_tag", "id": "u_7", "text": "Bob", "data": {"k": 1}},
        ],
        "attachments": [],
        "quoted_text": "earlier text",
        "inference_options": {"tool_choice": {"id": "search"}, "model": "fast"},
    }

    events = await stream(server, "threads.create", {"input": message_input})

    item = events[1]["item"]
    assert item["content"] == [
        {"type": "input_text", "text": "Hi "},
        {"type": "input_tag", "id": "u_7", "text": "Bob", "data": {"k": 1}, "interactive": False},
    ]
    assert item["quoted_text"] == "earlier text"
    assert item["inference_options"] == {"tool_choice": {"id": "search"}, "model": "fast"}
    assert item["attachments"] == []
    assert item["thread_id"] == events[0]["thread"]["id"]
    assert item["id"].startswith("msg_") and events[0]["thread"]["id"].startswith("thr_")


async def test_a_referenced_attachment_is_embedded_and_bound_to_the_thread() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    await store.save_attachment(
        FileAttachment(id="atc_1", name="a.txt", mime_type="text/plain"), CTX
    )

    events = await stream(server, "threads.create", {"input": user_input(attachments=["atc_1"])})

    thread_id = events[0]["thread"]["id"]
    assert events[1]["item"]["attachments"] == [
        {
            "type": "file",
            "id": "atc_1",
            "name": "a.txt",
            "mime_type": "text/plain",
            "thread_id": thread_id,
        }
    ]
    assert (await store.load_attachment("atc_1", CTX)).thread_id == thread_id
    stored = await stored_items(store, thread_id)
    assert isinstance(stored[0], UserMessageItem) and stored[0].attachments[0].id == "atc_1"


async def test_add_user_message_sends_the_message_then_stream_options_and_no_thread_created() -> (
    None
):
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    thread_id = await new_thread(server)

    events = await stream(
        server, "threads.add_user_message", {"thread_id": thread_id, "input": user_input("More")}
    )

    assert types_of(events) == ["thread.item.done", "stream_options"]
    assert events[0]["item"]["content"] == [{"type": "input_text", "text": "More"}]
    assert len(await stored_items(store, thread_id)) == 2
    assert server.calls[-1][1] is not None and server.calls[-1][1].id == events[0]["item"]["id"]


async def test_a_title_set_at_the_end_of_respond_is_saved_and_announced_last() -> None:
    server = ScriptedServer()

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        yield ThreadItemDoneEvent(item=assistant("msg_a", thread.id, "Hello"))
        thread.title = "T"

    server.script = script
    events = await stream(server, "threads.create", {"input": user_input()})

    assert events[-1]["type"] == "thread.updated"
    assert events[-1]["thread"]["title"] == "T"
    assert events[-1]["thread"]["items"] == {"data": [], "has_more": False}
    fetched = await call(server, "threads.get_by_id", {"thread_id": events[0]["thread"]["id"]})
    assert fetched["title"] == "T"


async def test_a_thread_change_between_two_events_follows_the_next_event() -> None:
    server = ScriptedServer()

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        yield ThreadItemDoneEvent(item=assistant("msg_a", thread.id, "A"))
        thread.title = "New"
        yield ThreadItemDoneEvent(item=assistant("msg_b", thread.id, "B"))
        yield ThreadItemDoneEvent(item=assistant("msg_c", thread.id, "C"))

    server.script = script
    events = await stream(server, "threads.create", {"input": user_input()})

    tail = events[3:]
    assert types_of(tail) == [
        "thread.item.done",
        "thread.item.done",
        "thread.updated",
        "thread.item.done",
    ]
    assert [tail[0]["item"]["id"], tail[1]["item"]["id"], tail[3]["item"]["id"]] == [
        "msg_a",
        "msg_b",
        "msg_c",
    ]
    assert tail[2]["thread"]["title"] == "New"


async def test_status_and_private_metadata_changes_are_saved_with_one_update_each() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        thread.status = LockedStatus(reason="Escalated")
        yield ProgressUpdateEvent(text="one")
        thread.metadata["nested"] = {"k": 1}
        yield ProgressUpdateEvent(text="two")
        yield ProgressUpdateEvent(text="three")

    server.script = script
    events = await stream(server, "threads.create", {"input": user_input()})

    assert types_of(events[3:]) == [
        "progress_update",
        "thread.updated",
        "progress_update",
        "thread.updated",
        "progress_update",
    ]
    assert events[4]["thread"]["status"] == {"type": "locked", "reason": "Escalated"}
    assert events[6]["thread"]["metadata"] == {}
    saved = await store.load_thread(events[0]["thread"]["id"], CTX)
    assert saved.metadata == {"nested": {"k": 1}}
    assert saved.status == LockedStatus(reason="Escalated")


async def test_only_done_removed_and_replaced_change_the_store() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    thread_id = await new_thread(server)

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        yield ThreadItemAddedEvent(item=assistant("msg_pending", thread.id, ""))
        yield ThreadItemUpdatedEvent(
            item_id="msg_pending",
            update=AssistantMessageContentPartTextDelta(content_index=0, delta="never done"),
        )
        yield ThreadItemDoneEvent(item=assistant("msg_kept", thread.id, "old", 1))
        yield ThreadItemDoneEvent(item=assistant("msg_gone", thread.id, "bye", 2))
        yield ThreadItemRemovedEvent(item_id="msg_gone")
        yield ThreadItemReplacedEvent(item=assistant("msg_kept", thread.id, "new", 1))

    server.script = script
    await stream(
        server, "threads.add_user_message", {"thread_id": thread_id, "input": user_input()}
    )
    listed = await call(server, "items.list", {"thread_id": thread_id, "order": "asc"})

    ids = [item["id"] for item in listed["data"]]
    assert "msg_pending" not in ids and "msg_gone" not in ids
    kept = [item for item in listed["data"] if item["id"] == "msg_kept"]
    assert len(kept) == 1 and kept[0]["content"][0]["text"] == "new"


async def test_hidden_items_are_stored_but_never_sent() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        now = datetime.now(UTC)
        yield ThreadItemDoneEvent(
            item=HiddenContextItem(
                id="hc_1", thread_id=thread.id, created_at=now, content={"a": None}
            )
        )
        yield ThreadItemDoneEvent(
            item=SDKHiddenContextItem(id="shcx_1", thread_id=thread.id, created_at=now, content="n")
        )
        yield ThreadItemDoneEvent(item=assistant("msg_a", thread.id, "visible"))

    server.script = script
    events = await stream(server, "threads.create", {"input": user_input()})
    thread_id = events[0]["thread"]["id"]

    assert types_of(events[3:]) == ["thread.item.done"]
    stored = [item.id for item in await stored_items(store, thread_id)]
    assert {"hc_1", "shcx_1"} <= set(stored)
    listed = await call(server, "items.list", {"thread_id": thread_id})
    fetched = await call(server, "threads.get_by_id", {"thread_id": thread_id})
    for page in (listed, fetched["items"]):
        assert {item["type"] for item in page["data"]} == {"user_message", "assistant_message"}


async def test_a_yielded_error_event_does_not_end_the_stream() -> None:
    server = ScriptedServer()

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        yield ErrorEvent(message="careful")
        yield ThreadItemDoneEvent(item=assistant("msg_a", thread.id, "still here"))

    server.script = script
    events = await stream(server, "threads.create", {"input": user_input()})

    assert events[3] == {
        "type": "error",
        "code": "custom",
        "message": "careful",
        "allow_retry": False,
    }
    assert events[4]["item"]["id"] == "msg_a"


async def test_transient_events_are_forwarded_unchanged_and_not_stored() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        yield ProgressUpdateEvent(text="Working", icon="search")
        yield ClientEffectEvent(name="highlight")
        yield ClientEffectEvent(name="scroll", data={"to": None})
        yield NoticeEvent(level="warning", message="**Heads up**", title="Note")

    server.script = script
    events = await stream(server, "threads.create", {"input": user_input()})

    assert events[3:] == [
        {"type": "progress_update", "text": "Working", "icon": "search"},
        {"type": "client_effect", "name": "highlight", "data": {}},
        {"type": "client_effect", "name": "scroll", "data": {"to": None}},
        {"type": "notice", "level": "warning", "message": "**Heads up**", "title": "Note"},
    ]
    assert len(await stored_items(store, events[0]["thread"]["id"])) == 1


async def test_get_stream_options_decides_the_first_pipeline_event() -> None:
    class NoCancel(ScriptedServer):
        def get_stream_options(self, thread: ThreadMetadata, context: Context) -> StreamOptions:
            return StreamOptions(allow_cancel=False)

    events = await stream(NoCancel(), "threads.create", {"input": user_input()})

    assert events[2] == {"type": "stream_options", "stream_options": {"allow_cancel": False}}


# --- client tool output ---------------------------------------------------------------


async def _thread_ending_with_tool_call(
    store: MemoryStore[Context], server: ScriptedServer, status: str = "pending"
) -> str:
    thread_id = await new_thread(server)
    call_item = ClientToolCallItem(
        id="fc_1",
        thread_id=thread_id,
        created_at=later(thread_id, 5),
        status=status,  # type: ignore[arg-type]
        call_id="call_1",
        name="get_selection",
        arguments={"doc": "a"},
    )
    await store.add_thread_item(thread_id, call_item, CTX)
    return thread_id


async def test_client_tool_output_completes_the_call_and_runs_respond_without_a_message() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    thread_id = await _thread_ending_with_tool_call(store, server)

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        yield ThreadItemDoneEvent(item=assistant("msg_after", thread.id, "Thanks", 10))

    server.script = script
    result = {"nodes": [None, 1]}
    events = await stream(
        server, "threads.add_client_tool_output", {"thread_id": thread_id, "result": result}
    )

    assert events[0] == OPTIONS
    assert types_of(events) == ["stream_options", "thread.item.done"]
    assert all(event.get("item", {}).get("id") != "fc_1" for event in events)
    assert server.calls[-1][1] is None
    stored = await store.load_item(thread_id, "fc_1", CTX)
    assert isinstance(stored, ClientToolCallItem)
    assert stored.status == "completed" and stored.output == result


async def test_client_tool_output_without_a_pending_newest_call_fails_with_no_writes() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    completed = await _thread_ending_with_tool_call(store, server, status="completed")
    plain = await new_thread(server)
    before = await store_state(store)

    for thread_id in (completed, plain):
        request = body("threads.add_client_tool_output", {"thread_id": thread_id, "result": 1})
        with pytest.raises(ValueError) as raised:  # as the official server: 400 in a handler
            await server.process(request, CTX)
        assert isinstance(raised.value, InvalidRequestError)
    assert await store_state(store) == before
    assert len(server.calls) == 2  # the two setup turns only


async def test_client_tool_output_deletes_other_dangling_pending_calls() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    thread_id = await new_thread(server)
    for number in (1, 2):
        await store.add_thread_item(
            thread_id,
            ClientToolCallItem(
                id=f"fc_{number}",
                thread_id=thread_id,
                created_at=later(thread_id, number),
                call_id=f"call_{number}",
                name="t",
                arguments={},
            ),
            CTX,
        )

    await stream(server, "threads.add_client_tool_output", {"thread_id": thread_id, "result": 1})

    ids = [item.id for item in await stored_items(store, thread_id)]
    assert "fc_1" not in ids and "fc_2" in ids


# --- structured input -----------------------------------------------------------------


def _questions(thread_id: str, status: str = "pending") -> StructuredInputItem:
    return StructuredInputItem(
        id="si_1",
        thread_id=thread_id,
        created_at=later(thread_id, 5),
        status=status,  # type: ignore[arg-type]
        inputs=[
            StructuredInputMultipleChoice(
                id="single",
                question="Pick one",
                options=[StructuredInputMultipleChoiceOption(value="A")],
            ),
            StructuredInputMultipleChoice(
                id="multi",
                question="Pick many",
                options=[StructuredInputMultipleChoiceOption(value="A")],
                multiple=True,
            ),
            StructuredInputFreeform(id="free", question="Why?"),
            StructuredInputFreeform(id="empty", question="Anything?"),
            StructuredInputFreeform(id="skip", question="Skip me"),
            StructuredInputFreeform(id="absent", question="Not answered"),
        ],
    )


async def test_structured_input_replaces_the_item_with_its_answers_then_responds() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    thread_id = await new_thread(server)
    await store.add_thread_item(thread_id, _questions(thread_id), CTX)
    submission = {
        "status": "answered",
        "answers": {
            "single": {"values": ["A", "B"]},
            "multi": {"values": ["A", "other"]},
            "free": {"values": ["Because"]},
            "empty": {"values": []},
            "skip": {"values": ["x"], "skipped": True},
            "unknown": {"values": ["ignored"]},
        },
    }

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        yield ProgressUpdateEvent(text="got it")

    server.script = script
    events = await stream(
        server,
        "threads.add_structured_input",
        {"thread_id": thread_id, "item_id": "si_1", "input": submission},
    )

    assert types_of(events) == ["stream_options", "thread.item.replaced", "progress_update"]
    replaced = events[1]["item"]
    answers = {question["id"]: question["answer"] for question in replaced["inputs"]}
    skipped = {"values": [], "skipped": True}
    assert answers == {
        "single": {"values": ["A"], "skipped": False},
        "multi": {"values": ["A", "other"], "skipped": False},
        "free": {"values": ["Because"], "skipped": False},
        "empty": skipped,
        "skip": skipped,
        "absent": skipped,
    }
    assert replaced["status"] == "answered"
    stored = await store.load_item(thread_id, "si_1", CTX)
    assert isinstance(stored, StructuredInputItem) and stored.status == "answered"
    assert server.calls[-1][1] is None


async def test_a_skipped_submission_skips_every_question() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    thread_id = await new_thread(server)
    await store.add_thread_item(thread_id, _questions(thread_id), CTX)

    events = await stream(
        server,
        "threads.add_structured_input",
        {
            "thread_id": thread_id,
            "item_id": "si_1",
            "input": {"status": "skipped", "answers": {"free": {"values": ["x"]}}},
        },
    )

    replaced = events[1]["item"]
    assert replaced["status"] == "skipped"
    assert all(q["answer"] == {"values": [], "skipped": True} for q in replaced["inputs"])


async def test_structured_input_on_an_answered_or_other_item_fails_with_no_events() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    thread_id = await new_thread(server)
    await store.add_thread_item(thread_id, _questions(thread_id, status="answered"), CTX)
    await store.add_thread_item(thread_id, assistant("msg_a", thread_id, "hi", 6), CTX)
    before = await store_state(store)

    for item_id in ("si_1", "msg_a"):
        params = {"thread_id": thread_id, "item_id": item_id, "input": {}}
        with pytest.raises(InvalidRequestError):  # a ValueError, as the official server's
            await server.process(body("threads.add_structured_input", params), CTX)
    assert await store_state(store) == before


# --- retry ----------------------------------------------------------------------------


async def _conversation(store: MemoryStore[Context], server: ScriptedServer) -> str:
    """Build [U1, A1, U2, A2, hidden] (oldest first) and return the thread id."""

    turn = 0

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        nonlocal turn
        turn += 1
        yield ThreadItemDoneEvent(item=assistant(f"msg_a{turn}", thread.id, f"answer {turn}"))
        if turn == 2:
            yield ThreadItemDoneEvent(
                item=HiddenContextItem(
                    id="hc_1", thread_id=thread.id, created_at=datetime.now(UTC), content="x"
                )
            )

    server.script = script
    thread_id = await new_thread(server, "first")
    await stream(
        server, "threads.add_user_message", {"thread_id": thread_id, "input": user_input("second")}
    )
    server.script = ScriptedServer().script
    return thread_id


async def test_retry_after_a_user_message_deletes_what_followed_and_responds_again() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    thread_id = await _conversation(store, server)
    u2 = server.calls[-1][1]
    assert u2 is not None

    events = await stream(
        server, "threads.retry_after_item", {"thread_id": thread_id, "item_id": u2.id}
    )

    assert events == [OPTIONS]
    remaining = await stored_items(store, thread_id)
    assert [item.type for item in remaining] == [
        "user_message",
        "assistant_message",
        "user_message",
    ]
    assert remaining[-1].id == u2.id
    retried = server.calls[-1][1]
    assert retried is not None and retried.id == u2.id


async def test_retry_after_an_assistant_message_raises_and_after_an_unknown_id_does_nothing() -> (
    None
):
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    thread_id = await _conversation(store, server)
    before = await store_state(store)
    calls = len(server.calls)

    retry = body("threads.retry_after_item", {"thread_id": thread_id, "item_id": "msg_a1"})
    with pytest.raises(ValueError) as raised:  # as the official server: 400 in a handler
        await server.process(retry, CTX)
    empty = await stream(
        server, "threads.retry_after_item", {"thread_id": thread_id, "item_id": "nope"}
    )

    assert isinstance(raised.value, InvalidRequestError)
    assert raised.value.code == "invalid_params"
    assert empty == []
    assert await store_state(store) == before
    assert len(server.calls) == calls


async def test_retry_walks_back_across_several_pages() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    thread_id = await new_thread(server)
    first = (await stored_items(store, thread_id))[0]
    for number in range(45):
        await store.add_thread_item(
            thread_id, assistant(f"msg_{number}", thread_id, "x", number + 1), CTX
        )

    events = await stream(
        server, "threads.retry_after_item", {"thread_id": thread_id, "item_id": first.id}
    )

    assert events == [OPTIONS]
    assert [item.id for item in await stored_items(store, thread_id)] == [first.id]


# --- custom actions -------------------------------------------------------------------


class ActionServer(ScriptedServer):
    def __init__(self, store: MemoryStore[Context]) -> None:
        super().__init__(store)
        self.actions: list[tuple[ThreadMetadata, Action[str, Any], WidgetItem | None]] = []

    async def action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: Context,
    ) -> AsyncIterator[ThreadStreamEvent]:
        self.actions.append((thread, action, sender))
        yield ClientEffectEvent(name=action.type, data={"payload": action.payload})


async def _widget_thread(store: MemoryStore[Context], server: ChatKitServer[Context]) -> str:
    thread_id = await new_thread(server)  # type: ignore[arg-type]
    widget = WidgetItem(
        id="wdg_1",
        thread_id=thread_id,
        created_at=later(thread_id, 5),
        widget=Card(children=[Text(value="Draft")]),
    )
    await store.add_thread_item(thread_id, widget, CTX)
    await store.add_thread_item(thread_id, assistant("msg_a", thread_id, "hi", 6), CTX)
    return thread_id


async def test_custom_action_from_a_widget_calls_action_with_that_widget() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ActionServer(store)
    thread_id = await _widget_thread(store, server)

    events = await stream(
        server,
        "threads.custom_action",
        {
            "thread_id": thread_id,
            "item_id": "wdg_1",
            "action": {"type": "send", "payload": {"id": 7}},
        },
    )

    assert events == [
        OPTIONS,
        {"type": "client_effect", "name": "send", "data": {"payload": {"id": 7}}},
    ]
    thread, action, sender = server.actions[0]
    assert thread.id == thread_id and action.type == "send" and action.payload == {"id": 7}
    assert sender is not None and sender.id == "wdg_1"


async def test_custom_action_from_a_non_widget_item_yields_exactly_one_error() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ActionServer(store)
    thread_id = await _widget_thread(store, server)

    events = await stream(
        server,
        "threads.custom_action",
        {"thread_id": thread_id, "item_id": "msg_a", "action": {"type": "send"}},
    )

    assert events == [STREAM_ERROR]
    assert server.actions == []


async def test_custom_action_without_an_item_has_no_sender() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ActionServer(store)
    thread_id = await _widget_thread(store, server)

    events = await stream(
        server, "threads.custom_action", {"thread_id": thread_id, "action": {"type": "refresh"}}
    )

    assert events[0] == OPTIONS
    assert server.actions[0][2] is None
    assert server.actions[0][1].payload is None


# --- agent input seed -----------------------------------------------------------------


async def test_to_agent_input_converts_the_whole_history_with_the_request_context() -> None:
    seen_contexts: list[Any] = []

    class Recording(MemoryStore[Context]):
        async def load_thread_items(
            self, thread_id: str, after: str | None, limit: int, order: str, context: Context
        ) -> Any:
            seen_contexts.append(context)
            return await super().load_thread_items(thread_id, after, limit, order, context)

    store = Recording()
    server = ScriptedServer(store)
    inputs: list[Any] = []

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        inputs.append(await server._to_agent_input(thread, item))
        yield ThreadItemDoneEvent(item=assistant(f"msg_{len(inputs)}", thread.id, "Answer one"))

    server.script = script
    other = {"user": "u2"}
    events = await stream(server, "threads.create", {"input": user_input("Question one")}, other)
    thread_id = events[0]["thread"]["id"]
    await stream(
        server,
        "threads.add_user_message",
        {"thread_id": thread_id, "input": user_input("Question two")},
        other,
    )

    first, second = inputs
    assert [entry["role"] for entry in first] == ["user"]
    assert "Question one" in str(first[0]["content"])
    assert [entry["role"] for entry in second] == ["user", "assistant", "user"]
    assert "Answer one" in str(second[1]["content"])
    assert "Question two" in str(second[2]["content"])
    assert seen_contexts and all(context is other for context in seen_contexts)


async def test_to_agent_input_outside_a_request_is_an_error() -> None:
    server = ScriptedServer()
    thread = ThreadMetadata(id="thr_1", created_at=datetime.now(UTC))

    with pytest.raises(RuntimeError, match=r"process\(\)"):
        await server._to_agent_input(thread, None)
