"""Bookkeeping of the respond pipeline (protocol §5.0, §1.6, §1.7) kept off the hot path.

`PendingItems` remembers items announced with `thread.item.added` and not yet finished, so
that a cancelled stream can persist what the user already saw. `ThreadWatch` tells whether
the producer changed the thread. `error_event_for` maps a failure to its `error` event.
"""

from __future__ import annotations

import logging
from typing import Any

from chatkit_core._copying import copy_record, copy_value
from chatkit_core.errors import CustomStreamError, ErrorCode, StreamError
from chatkit_core.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ErrorEvent,
    ThreadItem,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    WorkflowItem,
)

logger = logging.getLogger("chatkit_core.server")

HIDDEN_ITEM_TYPES = frozenset({"hidden_context_item", "sdk_hidden_context"})
"""Item types stored for the model but never sent to the client (protocol §3)."""


class _PendingMessage:
    """A pending assistant message plus the text deltas not yet folded into it.

    Deltas are only collected (one list append each); joining them into the content parts
    happens once, when the pending copy is actually needed.
    """

    __slots__ = ("deltas", "item")

    def __init__(self, item: AssistantMessageItem) -> None:
        self.item = item
        self.deltas: dict[int, list[str]] = {}

    def set_part(self, index: int, part: AssistantMessageContent) -> None:
        _pad(self.item, index)
        self.item.content[index] = copy_record(part)
        self.deltas.pop(index, None)

    def add_delta(self, index: int, delta: str) -> None:
        chunks = self.deltas.get(index)
        if chunks is None:
            self.deltas[index] = [delta]
        else:
            chunks.append(delta)

    def materialize(self) -> AssistantMessageItem:
        for index, chunks in self.deltas.items():
            _pad(self.item, index)
            part = self.item.content[index]
            part.text = part.text + "".join(chunks)
        self.deltas.clear()
        return self.item


def _pad(item: AssistantMessageItem, index: int) -> None:
    # Updates may name a content index that was never announced: pad with empty parts.
    while len(item.content) <= index:
        item.content.append(AssistantMessageContent(text="", annotations=[]))


class PendingItems:
    """Items that were `added` but not yet `done`, `removed` or `replaced`.

    Each added item is copied once, so later mutations by the producer do not leak in;
    assistant-message and workflow updates are applied to that copy incrementally.
    """

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: dict[str, ThreadItem | _PendingMessage] = {}

    def add(self, item: ThreadItem) -> None:
        copied = copy_record(item)
        if isinstance(copied, AssistantMessageItem):
            self._items[copied.id] = _PendingMessage(copied)
        else:
            self._items[copied.id] = copied

    def discard(self, item_id: str) -> None:
        self._items.pop(item_id, None)

    def apply(self, event: ThreadItemUpdatedEvent) -> None:
        """Apply an item update to the pending copy it targets, if any."""
        pending = self._items.get(event.item_id)
        if pending is None:
            return
        update: Any = event.update
        kind: str = update.type
        if isinstance(pending, _PendingMessage):
            if kind == "assistant_message.content_part.text_delta":
                pending.add_delta(update.content_index, update.delta)
            elif kind in (
                "assistant_message.content_part.added",
                "assistant_message.content_part.done",
            ):
                pending.set_part(update.content_index, update.content)
            elif kind == "assistant_message.content_part.annotation_added":
                _pad(pending.item, update.content_index)
                annotations = pending.item.content[update.content_index].annotations
                annotations.insert(update.annotation_index, update.annotation)
        elif isinstance(pending, WorkflowItem):
            tasks = pending.workflow.tasks
            if kind == "workflow.task.added":
                tasks.append(update.task)
            elif kind == "workflow.task.updated" and 0 <= update.task_index < len(tasks):
                tasks[update.task_index] = update.task

    def snapshot(self) -> list[ThreadItem]:
        """Return the pending items in announcement order, with all updates applied."""
        return [
            entry.materialize() if isinstance(entry, _PendingMessage) else entry
            for entry in self._items.values()
        ]


class ThreadWatch:
    """Detect changes the producer makes to the thread metadata between two events.

    Checking compares a tuple of the thread's field values (the status by its fields, as
    pydantic's own equality is several times slower); a snapshot is taken only at the start
    and when the thread changed. Nothing is serialized.
    """

    __slots__ = ("_seen", "thread")

    def __init__(self, thread: ThreadMetadata) -> None:
        self.thread = thread
        self._seen = _snapshot(_state(thread))

    def changed(self) -> bool:
        """Return True (and remember the new state) when the thread differs from last time."""
        state = _state(self.thread)
        if state == self._seen:
            return False
        self._seen = _snapshot(state)
        return True


def _state(thread: ThreadMetadata) -> tuple[Any, ...]:
    status = thread.status
    return (
        thread.id,
        thread.title,
        thread.created_at,
        type(status),
        status.__dict__,
        thread.allowed_image_domains,
        thread.metadata,
    )


def _snapshot(state: tuple[Any, ...]) -> tuple[Any, ...]:
    # In a valid thread only the status fields, the domains list and the metadata dict are
    # mutable; `copy_value` returns immutable values as they are and rebuilds containers,
    # so a snapshot costs about 1 µs (`copy.deepcopy` of the tuple cost about 25 µs).
    thread_id, title, created_at, status_type, status_fields, domains, metadata = state
    return (
        thread_id,
        copy_value(title),
        copy_value(created_at),
        status_type,
        copy_value(status_fields),
        copy_value(domains),
        copy_value(metadata),
    )


def error_event_for(exc: Exception) -> ErrorEvent:
    """Return the `error` event a failure inside the respond pipeline becomes (§1.6)."""
    if isinstance(exc, CustomStreamError):
        return ErrorEvent(code="custom", message=exc.message, allow_retry=exc.allow_retry)
    if isinstance(exc, StreamError):
        return ErrorEvent(code=exc.code, allow_retry=exc.allow_retry)
    logger.error("Error while generating a response", exc_info=exc)
    return ErrorEvent(code=ErrorCode.STREAM_ERROR, allow_retry=True)
