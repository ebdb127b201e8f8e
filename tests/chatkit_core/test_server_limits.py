"""Limits at the protocol edge: sizes, NUL characters, feedback ids, threads.create as one unit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chatkit_core.errors import InvalidRequestError
from chatkit_core.server import RequestLimits
from chatkit_core.store import MemoryStore, Store
from chatkit_core.types import Attachment, FeedbackKind, FileAttachment, ThreadItem

from ._server_harness import (
    CTX,
    Context,
    ScriptedServer,
    body,
    call,
    new_thread,
    store_state,
    stream,
    user_input,
)


async def refused(server: ScriptedServer, op: str, params: dict[str, Any]) -> str:
    """Send a request that must be refused; return the message of its InvalidRequestError."""
    with pytest.raises(InvalidRequestError) as raised:
        await server.process(body(op, params), CTX)
    assert raised.value.code == "invalid_params"
    assert raised.value.status_code == 400
    return raised.value.message


# --- sizes --------------------------------------------------------------------------------


async def test_a_five_megabyte_message_is_refused_before_anything_is_stored() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    thread_id = await new_thread(server)
    before = await store_state(store)

    for op, params in [
        ("threads.create", {"input": user_input("x" * 5_000_000)}),
        (
            "threads.add_user_message",
            {"thread_id": thread_id, "input": user_input("x" * 5_000_000)},
        ),
        ("threads.create", {"input": user_input("hi", quoted_text="q" * 100_001)}),
    ]:
        message = await refused(server, op, params)
        assert "longer than 100000 characters" in message
    assert await store_state(store) == before
    assert len(server.calls) == 1


async def test_the_error_names_the_field_that_is_too_long() -> None:
    text = {"type": "input_text", "text": "x" * 100_001}
    message = await refused(
        ScriptedServer(), "threads.create", {"input": user_input(content=[text])}
    )
    assert message == "params.input.content.0.text: longer than 100000 characters"


async def test_a_message_at_the_limit_is_accepted() -> None:
    server = ScriptedServer()
    events = await stream(server, "threads.create", {"input": user_input("x" * 100_000)})
    assert events[1]["item"]["content"][0]["text"] == "x" * 100_000


async def test_a_one_megabyte_title_is_refused_and_the_thread_keeps_its_title() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    thread_id = await new_thread(server)

    message = await refused(
        server, "threads.update", {"thread_id": thread_id, "title": "t" * 1_000_000}
    )

    assert message == "params.title: longer than 1000 characters"
    assert (await store.load_thread(thread_id, CTX)).title is None


async def test_ids_lists_and_free_form_payloads_are_bounded() -> None:
    server = ScriptedServer()
    thread_id = await new_thread(server)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("threads.get_by_id", {"thread_id": "t" * 256}, "params.thread_id"),
        ("items.list", {"thread_id": thread_id, "after": "a" * 256}, "params.after"),
        (
            "threads.create",
            {"input": user_input(attachments=["atc_1"] * 1_001)},
            "params.input.attachments",
        ),
        (
            "threads.custom_action",
            {"thread_id": thread_id, "action": {"type": "a", "payload": {"rows": [0] * 1_001}}},
            "params.action.payload.rows",
        ),
        (
            "threads.custom_action",
            {"thread_id": thread_id, "action": {"type": "a", "payload": {"k": "v" * 100_001}}},
            "params.action.payload.k",
        ),
        (
            "threads.add_client_tool_output",
            {"thread_id": thread_id, "result": {str(n): n for n in range(1_001)}},
            "params.result",
        ),
    ]
    for op, params, path in cases:
        message = await refused(server, op, params)
        assert message.startswith(f"{path}: "), message


async def test_limits_are_configurable_per_server_and_per_class() -> None:
    narrow = RequestLimits(max_text_length=10, max_title_length=3)
    server = ScriptedServer(limits=narrow)
    await refused(server, "threads.create", {"input": user_input("x" * 11)})
    thread_id = await new_thread(server, "x" * 10)
    await refused(server, "threads.update", {"thread_id": thread_id, "title": "long"})

    class Roomy(ScriptedServer):
        limits = RequestLimits(max_text_length=6_000_000)

    events = await stream(Roomy(), "threads.create", {"input": user_input("x" * 5_000_000)})
    assert len(events[1]["item"]["content"][0]["text"]) == 5_000_000


# --- NUL characters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "params"),
    [
        ("threads.create", {"input": user_input("a\x00b")}),
        ("threads.add_user_message", {"thread_id": "T", "input": user_input("a\x00")}),
        ("threads.update", {"thread_id": "T", "title": "\x00"}),
        ("threads.get_by_id", {"thread_id": "thr\x00"}),
        (
            "threads.custom_action",
            {"thread_id": "T", "action": {"type": "a", "payload": {"k\x00": 1}}},
        ),
        ("threads.add_client_tool_output", {"thread_id": "T", "result": ["ok", "\x00"]}),
        ("items.feedback", {"thread_id": "T", "item_ids": ["m\x00"], "kind": "positive"}),
    ],
)
async def test_a_nul_character_anywhere_is_refused_before_anything_is_stored(
    op: str, params: dict[str, Any]
) -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    thread_id = await new_thread(server)
    params = {key: thread_id if value == "T" else value for key, value in params.items()}
    before = await store_state(store)

    message = await refused(server, op, params)

    assert "must not contain NUL characters" in message
    assert await store_state(store) == before


async def test_the_json_escape_of_nul_is_refused_too() -> None:
    raw = b'{"type":"threads.create","params":{"input":{"content":[{"type":"input_text",'
    raw += b'"text":"a\\u0000b"}],"attachments":[],"inference_options":{}}}}'
    with pytest.raises(InvalidRequestError):
        await ScriptedServer().process(raw, CTX)


# --- items.feedback -----------------------------------------------------------------------


class CountingStore(MemoryStore[Context]):
    def __init__(self) -> None:
        super().__init__()
        self.item_loads = 0
        self.id_lookups = 0

    async def load_item(self, thread_id: str, item_id: str, context: Context) -> ThreadItem:
        self.item_loads += 1
        return await super().load_item(thread_id, item_id, context)

    async def find_item_ids(
        self, thread_id: str, item_ids: list[str], context: Context
    ) -> list[str]:
        self.id_lookups += 1
        return await super().find_item_ids(thread_id, item_ids, context)


class FeedbackServer(ScriptedServer):
    received: list[list[str]]

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: Context
    ) -> None:
        self.received.append(item_ids)


async def test_feedback_checks_at_most_100_ids_with_one_store_call() -> None:
    store = CountingStore()
    server = FeedbackServer(store)
    server.received = []
    thread_id = await new_thread(server)
    [message] = (await store.load_thread_items(thread_id, None, 10, "asc", CTX)).data
    ids = [message.id] + [f"msg_missing{n}" for n in range(99)]

    await call(
        server, "items.feedback", {"thread_id": thread_id, "item_ids": ids, "kind": "positive"}
    )
    too_many = {"thread_id": thread_id, "item_ids": [*ids, "one_more"], "kind": "positive"}
    message_text = await refused(server, "items.feedback", too_many)

    assert server.received == [[message.id]]
    assert (store.id_lookups, store.item_loads) == (1, 0)
    assert message_text == "params.item_ids: more than 100 entries"


async def test_the_default_store_hook_answers_existing_ids_once_in_order() -> None:
    # What a store that does not override `find_item_ids` runs: the base class's loop.
    store: MemoryStore[Context] = MemoryStore()
    thread_id = await new_thread(ScriptedServer(store))
    [message] = (await store.load_thread_items(thread_id, None, 10, "asc", CTX)).data
    found = await Store.find_item_ids(store, thread_id, ["nope", message.id, message.id], CTX)
    assert found == [message.id]


# --- threads.create as one unit -------------------------------------------------------------


class FailingItemStore(MemoryStore[Context]):
    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: Context) -> None:
        raise RuntimeError("the database went away")


class FailingAttachmentStore(MemoryStore[Context]):
    fail = False

    async def save_attachment(self, attachment: Attachment, context: Context) -> None:
        if self.fail:
            raise RuntimeError("the database went away")
        await super().save_attachment(attachment, context)


async def test_a_new_thread_whose_first_message_fails_is_not_kept() -> None:
    store = FailingItemStore()
    server = ScriptedServer(store)

    with pytest.raises(RuntimeError):
        await server.process(body("threads.create", {"input": user_input()}), CTX)

    assert (await store.load_threads(10, None, "asc", CTX)).data == []
    assert server.calls == []


async def test_a_new_thread_whose_attachment_fails_is_not_kept() -> None:
    store = FailingAttachmentStore()
    await store.save_attachment(
        FileAttachment(id="atc_1", name="a.txt", mime_type="text/plain"), CTX
    )
    store.fail = True
    server = ScriptedServer(store)

    with pytest.raises(RuntimeError):
        await server.process(
            body("threads.create", {"input": user_input(attachments=["atc_1"])}), CTX
        )

    assert (await store.load_threads(10, None, "asc", CTX)).data == []
    assert (
        json.loads((await store.load_attachment("atc_1", CTX)).model_dump_json())["thread_id"]
        is None
    )
