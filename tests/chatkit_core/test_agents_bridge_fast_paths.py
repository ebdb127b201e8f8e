"""The bridge's shortcuts give what the plain code gives: events built without validation."""

from typing import Any

import pytest

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
