"""Widget streaming (protocol §8.6) and the widget differ (§8.7).

The differ works on the plain-dict form of two widget states, so strict components,
dynamic components and unknown props are all compared the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from chatkit_core.store import StoreItemType, default_generate_id
from chatkit_core.types import (
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    WidgetComponentUpdated,
    WidgetItem,
    WidgetRootUpdated,
    WidgetStreamingTextValueDelta,
)
from chatkit_core.widgets import WidgetRoot

_TEXT_TYPES = ("Text", "Markdown")


def diff_widget(
    before: WidgetRoot, after: WidgetRoot
) -> list[WidgetStreamingTextValueDelta | WidgetRootUpdated | WidgetComponentUpdated]:
    """Return the updates that turn widget state `before` into `after` on the client.

    Either a single `widget.root.updated` carrying all of `after` (any change other than
    appending to a `Text`/`Markdown` value), or one `widget.streaming_text.value_delta` per
    `Text`/`Markdown` node with an `id` whose value grew. Raise `ValueError` when a node
    with an `id` is new or its value changed other than by appending.
    """
    old = before.model_dump()
    new = after.model_dump()
    if _node_differs(old, new):
        return [WidgetRootUpdated(widget=after)]

    old_texts = _streaming_text_nodes(old)
    updates: list[WidgetStreamingTextValueDelta | WidgetRootUpdated | WidgetComponentUpdated] = []
    for node_id, node in _streaming_text_nodes(new).items():
        previous = old_texts.get(node_id)
        if previous is None:
            raise ValueError(
                f"Widget node {node_id!r} did not exist in the first state; nodes with an id "
                "must be present in every state of a streamed widget."
            )
        was: str = previous["value"]
        now: str = node["value"]
        if was == now:
            continue
        if not now.startswith(was):
            raise ValueError(
                f"Widget node {node_id!r} changed its value other than by appending; "
                "streamed text values may only grow."
            )
        updates.append(
            WidgetStreamingTextValueDelta(
                component_id=node_id, delta=now[len(was) :], done=not node.get("streaming")
            )
        )
    return updates


def _is_node(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("type"), str)


def _is_streaming_text(node: dict[str, Any]) -> bool:
    return node.get("type") in _TEXT_TYPES and isinstance(node.get("value"), str)


def _differs(old: Any, new: Any) -> bool:
    if _is_node(old) and _is_node(new):
        return _node_differs(old, new)
    if isinstance(old, list) and isinstance(new, list):
        return len(old) != len(new) or any(map(_differs, old, new))
    return bool(old != new)


def _node_differs(old: dict[str, Any], new: dict[str, Any]) -> bool:
    if any(old.get(key) != new.get(key) for key in ("type", "id", "key")):
        return True
    text = _is_streaming_text(old) and _is_streaming_text(new)
    for key in old.keys() | new.keys():
        if text and key == "value" and new["value"].startswith(old["value"]):
            continue  # an append is streamed as a delta, not a replacement
        if _differs(old.get(key), new.get(key)):
            return True
    return False


def _streaming_text_nodes(root: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the streamable Text/Markdown nodes by id, in document order."""
    found: dict[str, dict[str, Any]] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if _is_streaming_text(node) and node.get("id"):
            found[node["id"]] = node
        children = node.get("children")
        if isinstance(children, list):
            # The stack pops last-in first, so push children reversed to visit them in order.
            stack.extend(reversed([child for child in children if _is_node(child)]))
        elif isinstance(children, dict) and _is_node(children):
            stack.append(children)  # e.g. Transition holds a single child
    return found


async def stream_widget(
    thread: ThreadMetadata,
    widget: WidgetRoot | AsyncIterator[WidgetRoot],
    copy_text: str | None = None,
    generate_id: Callable[[StoreItemType], str] = default_generate_id,
) -> AsyncIterator[ThreadStreamEvent]:
    """Yield the events that show a widget, or a sequence of widget states, in `thread`.

    A single widget becomes one `thread.item.done`. An async sequence becomes
    `thread.item.added` with its first state, the `diff_widget` updates between each pair
    of states, then `thread.item.done` with the last state (same item id throughout).
    """
    item_id = generate_id("message")
    if isinstance(widget, BaseModel):
        yield ThreadItemDoneEvent(
            item=WidgetItem(
                id=item_id,
                thread_id=thread.id,
                created_at=datetime.now(UTC),
                widget=widget,
                copy_text=copy_text,
            )
        )
        return

    item: WidgetItem | None = None
    last: WidgetRoot | None = None
    async for state in widget:
        if item is None or last is None:
            item = WidgetItem(
                id=item_id,
                thread_id=thread.id,
                created_at=datetime.now(UTC),
                widget=state,
                copy_text=copy_text,
            )
            yield ThreadItemAddedEvent(item=item)
        else:
            for update in diff_widget(last, state):
                yield ThreadItemUpdatedEvent(item_id=item_id, update=update)
        last = state
    if item is not None and last is not None:
        yield ThreadItemDoneEvent(item=item.model_copy(update={"widget": last}))
