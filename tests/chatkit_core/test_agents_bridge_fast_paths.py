"""The bridge's shortcuts give what the plain code gives: events built without validation,
and tool events merged into the run's stream without a task waiting on the queue."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from chatkit_core._agents_events import EventQueue, Queued, interleave
from chatkit_core._agents_stream import text_delta_event
from chatkit_core._serialization import sse_event
from chatkit_core.types import AssistantMessageContentPartTextDelta, ThreadItemUpdatedEvent


def validated(item_id: Any, content_index: Any, delta: Any) -> ThreadItemUpdatedEvent:
    update = AssistantMessageContentPartTextDelta(content_index=content_index, delta=delta)
    return ThreadItemUpdatedEvent(item_id=item_id, update=update)


def state(model: Any) -> tuple[Any, ...]:
    return (
        type(model),
        {
            key: state(value) if hasattr(value, "__pydantic_fields_set__") else value
            for key, value in model.__dict__.items()
        },
        model.__pydantic_fields_set__,
        model.__pydantic_extra__,
        model.__pydantic_private__,
    )


class Text(str):
    pass


@pytest.mark.parametrize(
    ("item_id", "content_index", "delta"),
    [
        ("msg_1", 0, "Hello "),
        ("msg_1", 3, ""),
        (Text("msg_1"), 0, Text("Hi")),
        ("msg_1", True, "x"),
    ],
)
def test_text_delta_event_is_what_validation_builds(
    item_id: Any, content_index: Any, delta: Any
) -> None:
    built = text_delta_event(item_id, content_index, delta)

    expected = validated(item_id, content_index, delta)
    assert state(built) == state(expected)
    assert sse_event(built) == sse_event(expected)
    assert built.model_dump() == expected.model_dump()


def test_text_delta_event_with_a_bad_value_fails_as_validation_does() -> None:
    with pytest.raises(ValueError, match="delta"):
        text_delta_event("msg_1", 0, None)  # type: ignore[arg-type]


async def blocked_source(release: asyncio.Event) -> AsyncIterator[str]:
    yield "first"
    await release.wait()
    yield "second"


async def test_queued_event_arrives_while_the_run_is_waiting() -> None:
    queue: EventQueue[str] = EventQueue()
    release = asyncio.Event()
    events = interleave(blocked_source(release), queue)

    assert await anext(events) == "first"
    read = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)  # one turn of the loop: the read starts and waits
    await queue.put("progress")
    assert await asyncio.wait_for(read, 30) == Queued("progress")

    release.set()
    assert [event async for event in events] == ["second"]
    assert queue.on_put is None


async def test_queued_and_run_events_keep_the_order_they_arrived_in() -> None:
    queue: EventQueue[str] = EventQueue()
    queue.put_nowait("before the run")

    async def source() -> AsyncIterator[str]:
        # As the SDK's stream: the loop turns between events.
        for event in ("a", "b"):
            yield event
            await asyncio.sleep(0)
        queue.put_nowait("from a tool")
        yield "c"
        await asyncio.sleep(0)

    seen = [event async for event in interleave(source(), queue)]

    assert seen == [Queued("before the run"), "a", "b", Queued("from a tool"), "c"]


async def test_an_event_queued_as_the_run_ends_is_still_yielded() -> None:
    queue: EventQueue[str] = EventQueue()

    async def source() -> AsyncIterator[str]:
        yield "a"
        queue.put_nowait("last")

    seen = [event async for event in interleave(source(), queue)]

    assert seen == ["a", Queued("last")]
    assert queue.empty()
