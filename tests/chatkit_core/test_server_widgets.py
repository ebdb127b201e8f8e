"""Widget streaming and diffing (protocol §8.6, §8.7; checklist 49-53)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from chatkit_core.actions import ActionConfig
from chatkit_core.server import diff_widget, stream_widget
from chatkit_core.store import MemoryStore
from chatkit_core.types import (
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    WidgetItem,
    WidgetRootUpdated,
    WidgetStreamingTextValueDelta,
)
from chatkit_core.widgets import (
    Button,
    Card,
    DynamicWidgetRoot,
    Markdown,
    Text,
    Transition,
    WidgetRoot,
)

from ._server_harness import Context, ScriptedServer, stored_items, stream, user_input


def card(*values: str, streaming: bool | None = None, node_id: str | None = "t") -> Card:
    return Card(children=[Text(id=node_id, value=value, streaming=streaming) for value in values])


async def states(*roots: WidgetRoot) -> AsyncIterator[WidgetRoot]:
    for root in roots:
        yield root


async def widget_turn(
    widget: WidgetRoot | AsyncIterator[WidgetRoot], copy_text: str | None = None
) -> tuple[list[dict[str, Any]], MemoryStore[Context]]:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)

    async def script(
        thread: ThreadMetadata, item: UserMessageItem | None, ctx: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        async for event in stream_widget(thread, widget, copy_text=copy_text):
            yield event

    server.script = script
    events = await stream(server, "threads.create", {"input": user_input()})
    return events[3:], store


async def test_a_static_widget_is_one_done_event_and_is_stored() -> None:
    events, store = await widget_turn(card("Draft ready"), copy_text="Draft")

    assert [event["type"] for event in events] == ["thread.item.done"]
    item = events[0]["item"]
    assert item["type"] == "widget" and item["id"].startswith("msg_")
    assert item["copy_text"] == "Draft"
    assert item["widget"] == {
        "type": "Card",
        "children": [{"type": "Text", "id": "t", "value": "Draft ready"}],
    }
    stored = await stored_items(store, item["thread_id"])
    assert isinstance(stored[-1], WidgetItem) and stored[-1].id == item["id"]


async def test_appends_to_a_text_node_with_an_id_stream_as_value_deltas() -> None:
    events, store = await widget_turn(states(card(""), card("Hel"), card("Hello")))

    assert [event["type"] for event in events] == [
        "thread.item.added",
        "thread.item.updated",
        "thread.item.updated",
        "thread.item.done",
    ]
    item_id = events[0]["item"]["id"]
    assert [event["update"] for event in events[1:3]] == [
        {
            "type": "widget.streaming_text.value_delta",
            "component_id": "t",
            "delta": "Hel",
            "done": True,
        },
        {
            "type": "widget.streaming_text.value_delta",
            "component_id": "t",
            "delta": "lo",
            "done": True,
        },
    ]
    assert all(event["item_id"] == item_id for event in events[1:3])
    done = events[3]["item"]
    assert done["id"] == item_id and done["created_at"] == events[0]["item"]["created_at"]
    assert done["widget"]["children"][0]["value"] == "Hello"
    stored = await stored_items(store, done["thread_id"])
    assert isinstance(stored[-1], WidgetItem)
    assert stored[-1].widget.model_dump()["children"][0]["value"] == "Hello"


async def test_deltas_of_a_node_marked_streaming_are_not_done() -> None:
    events, _ = await widget_turn(
        states(card("", streaming=True), card("Hel", streaming=True), card("Hello", streaming=True))
    )

    updates = [event["update"] for event in events if event["type"] == "thread.item.updated"]
    assert [(u["delta"], u["done"]) for u in updates] == [("Hel", False), ("lo", False)]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (card("Hello"), card("World")),
        (card("Hello"), card("Hello", "Extra")),
        (card("Hello", streaming=True), card("Hello!", streaming=False)),
        (card("Hello"), card("Hello", node_id="other")),
        (card("Hello"), Card(children=[Markdown(id="t", value="Hello")])),
        (card("Hello"), Card(children=[Text(id="t", value="Hello")], size="lg")),
        (
            Card(children=[Button(label="Go", onClickAction=ActionConfig(type="a"))]),
            Card(children=[Button(label="Go", onClickAction=ActionConfig(type="b"))]),
        ),
    ],
)
def test_any_change_other_than_an_append_replaces_the_whole_root(before: Card, after: Card) -> None:
    updates = diff_widget(before, after)

    assert len(updates) == 1
    assert isinstance(updates[0], WidgetRootUpdated)
    assert updates[0].widget is after


async def test_a_non_append_change_reaches_the_client_as_one_root_update() -> None:
    events, _ = await widget_turn(states(card("Hello"), card("World")))

    update = events[1]["update"]
    assert update["type"] == "widget.root.updated"
    assert update["widget"]["children"][0]["value"] == "World"


def test_appends_without_an_id_or_without_a_change_produce_no_update() -> None:
    assert diff_widget(card("Hel", node_id=None), card("Hello", node_id=None)) == []
    assert diff_widget(card("Same"), card("Same")) == []


def test_appends_to_several_and_nested_nodes_give_one_delta_each() -> None:
    before = Card(
        children=[Text(id="a", value="x"), Transition(children=Markdown(id="b", value="1"))]
    )
    after = Card(
        children=[Text(id="a", value="xy"), Transition(children=Markdown(id="b", value="12"))]
    )

    updates = diff_widget(before, after)

    assert sorted(
        (u.component_id, u.delta) for u in updates if isinstance(u, WidgetStreamingTextValueDelta)
    ) == [
        ("a", "y"),
        ("b", "2"),
    ]


def test_dynamic_widgets_are_diffed_like_strict_ones() -> None:
    before = DynamicWidgetRoot.model_validate(
        {"type": "Card", "children": [{"type": "Text", "id": "t", "value": "a"}], "custom": 1}
    )
    grown = DynamicWidgetRoot.model_validate(
        {"type": "Card", "children": [{"type": "Text", "id": "t", "value": "ab"}], "custom": 1}
    )
    changed = DynamicWidgetRoot.model_validate(
        {"type": "Card", "children": [{"type": "Text", "id": "t", "value": "ab"}], "custom": 2}
    )

    assert [(u.type, getattr(u, "delta", None)) for u in diff_widget(before, grown)] == [
        ("widget.streaming_text.value_delta", "b")
    ]
    assert [u.type for u in diff_widget(before, changed)] == ["widget.root.updated"]


async def test_serialized_widgets_have_no_nulls_and_full_action_configs() -> None:
    widget = Card(
        children=[
            Text(id="t", value="Pick"),
            Button(
                label="Send",
                onClickAction=ActionConfig(type="send", payload={"id": 7, "note": None}),
            ),
        ]
    )

    events, _ = await widget_turn(widget)

    raw = json.dumps(events)
    assert "null" not in raw
    button = events[0]["item"]["widget"]["children"][1]
    assert button["onClickAction"] == {
        "type": "send",
        "payload": {"id": 7},
        "handler": "server",
        "loadingBehavior": "auto",
        "streaming": True,
    }


async def test_an_empty_widget_sequence_emits_nothing() -> None:
    events, _ = await widget_turn(states())
    assert events == []


async def test_stream_widget_uses_the_given_id_generator() -> None:
    thread = ThreadMetadata(id="thr_1", created_at=datetime.now(UTC))

    events = [
        event
        async for event in stream_widget(
            thread, card("x"), generate_id=lambda kind: f"{kind}_fixed"
        )
    ]

    assert events[0].type == "thread.item.done"
    assert events[0].item.id == "message_fixed"  # type: ignore[union-attr]
    assert events[0].item.thread_id == "thr_1"  # type: ignore[union-attr]
