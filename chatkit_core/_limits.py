"""Bounds on what one request may carry, checked once it is parsed (protocol edge).

`check_request` walks a parsed request: every string, list and object in it, by the
field it sits in. A string with a NUL character is refused everywhere (PostgreSQL cannot
store one, and no client needs it). The walk builds no path until it finds a problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from chatkit_core.errors import InvalidRequestError

__all__ = ["RequestLimits", "check_request"]


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """Largest sizes one request may carry; a larger one is an `InvalidRequestError` (400).

    Lengths count characters. Pass an instance as `ChatKitServer(..., limits=...)`, or set
    the class attribute `limits` on a subclass.
    """

    max_text_length: int = 100_000
    """A text part of a user message (`input_text` and `input_tag` text) and `quoted_text`."""

    max_title_length: int = 1_000
    """`threads.update`'s `title`."""

    max_id_length: int = 255
    """Any id or cursor: `thread_id`, `item_id`, attachment ids, `after`, tag ids, ..."""

    max_string_length: int = 100_000
    """Any other string, wherever it is (action payloads, tool output, object keys, ...)."""

    max_list_length: int = 1_000
    """Entries of any list or object (content parts, attachments, payload lists, ...)."""

    max_feedback_items: int = 100
    """`items.feedback`'s `item_ids`."""

    max_audio_base64_length: int = 20_000_000
    """`input.transcribe`'s `audio_base64` (about 15 MB of audio)."""


_TEXT_FIELDS = frozenset({"text", "quoted_text"})
_ID_FIELDS = frozenset({"id", "after", "item_ids", "attachments"})

_Problem = tuple[list[str], str]


def check_request(request: BaseModel, limits: RequestLimits) -> None:
    """Raise `InvalidRequestError` (`invalid_params`) when `request` exceeds `limits`."""
    problem = _check_value(request, "", limits)
    if problem is not None:
        path, message = problem
        raise InvalidRequestError("invalid_params", f"{'.'.join(reversed(path))}: {message}")


def _string_limit(field: str, limits: RequestLimits) -> int:
    if field in _TEXT_FIELDS:
        return limits.max_text_length
    if field == "title":
        return limits.max_title_length
    if field in _ID_FIELDS or field.endswith("_id"):
        return limits.max_id_length
    if field == "audio_base64":
        return limits.max_audio_base64_length
    return limits.max_string_length


def _check_string(value: str, limit: int) -> str | None:
    if len(value) > limit:
        return f"longer than {limit} characters"
    if "\x00" in value:
        return "must not contain NUL characters"
    return None


def _check_value(value: Any, field: str, limits: RequestLimits) -> _Problem | None:
    """Return (reversed path, message) of the first problem in `value`, or None.

    `field` is the name of the model field `value` belongs to ("" inside free-form data,
    where only the general limits apply).
    """
    if isinstance(value, str):
        message = _check_string(value, _string_limit(field, limits))
        return None if message is None else ([], message)
    if isinstance(value, BaseModel):
        for name, child in value.__dict__.items():
            problem = _check_value(child, name, limits)
            if problem is not None:
                problem[0].append(name)
                return problem
        return None
    if isinstance(value, list | tuple):
        limit = limits.max_feedback_items if field == "item_ids" else limits.max_list_length
        if len(value) > limit:
            return [], f"more than {limit} entries"
        for index, child in enumerate(value):
            # Entries of a list keep the field's rule (item_ids are ids, parts are parts).
            problem = _check_value(child, field, limits)
            if problem is not None:
                problem[0].append(str(index))
                return problem
        return None
    if isinstance(value, dict):
        return _check_object(value, limits)
    return None


def _check_object(value: dict[Any, Any], limits: RequestLimits) -> _Problem | None:
    if len(value) > limits.max_list_length:
        return [], f"more than {limits.max_list_length} entries"
    for key, child in value.items():
        if isinstance(key, str):
            message = _check_string(key, limits.max_string_length)
            if message is not None:
                return [key[:40]], f"key {message}"
        problem = _check_value(child, "", limits)
        if problem is not None:
            problem[0].append(str(key)[:40])
            return problem
    return None
