"""The wire codec: request bytes in, protocol objects out, and back (protocol §1.2-§1.5).

Every byte chatkit_core sends is produced here, so the serialization rules live in one
place:

* compact JSON, UTF-8, non-ASCII written raw;
* null-valued fields of protocol objects are left out, while nulls inside free-form values
  (`ClientToolCallItem.arguments`/`output`, hidden-item `content`) are kept;
* widget trees carry no nulls at all (the widget models strip them themselves);
* attachment `metadata` is never written and thread `metadata` is always `{}`.

Streaming sends one SSE chunk per token, so `dump_json` goes straight from the model to
bytes in pydantic-core, with no intermediate dict or str.
"""

from __future__ import annotations

from typing import Any, Final

import pydantic_core
from pydantic import BaseModel, TypeAdapter, ValidationError

from .errors import InvalidRequestError
from .types import Attachment, ChatKitReq, ThreadItem, ThreadStreamEvent

__all__ = [
    "attachment_adapter",
    "chatkit_request_adapter",
    "dump_json",
    "parse_request",
    "sse_event",
    "thread_item_adapter",
    "thread_stream_event_adapter",
    "to_wire_dict",
]

_WIRE_CONTEXT: Final = {"exclude_metadata": True}
_SSE_CHUNK: Final = b"data: %b\n\n"

chatkit_request_adapter: TypeAdapter[ChatKitReq] = TypeAdapter(ChatKitReq)
thread_item_adapter: TypeAdapter[ThreadItem] = TypeAdapter(ThreadItem)
thread_stream_event_adapter: TypeAdapter[ThreadStreamEvent] = TypeAdapter(ThreadStreamEvent)
attachment_adapter: TypeAdapter[Attachment] = TypeAdapter(Attachment)


def dump_json(obj: Any) -> bytes:
    """Return the wire JSON of a protocol object (or of a plain dict/list holding them)."""
    if isinstance(obj, BaseModel):
        return obj.__pydantic_serializer__.to_json(
            obj, by_alias=True, exclude_none=True, context=_WIRE_CONTEXT
        )
    return pydantic_core.to_json(obj, by_alias=True, exclude_none=True, context=_WIRE_CONTEXT)


def sse_event(event: BaseModel) -> bytes:
    """Return one SSE chunk: `data: <event JSON>` followed by a blank line."""
    payload = event.__pydantic_serializer__.to_json(
        event, by_alias=True, exclude_none=True, context=_WIRE_CONTEXT
    )
    # One formatting into the chunk: `prefix + payload + suffix` built an extra copy.
    return _SSE_CHUNK % payload


def to_wire_dict(obj: BaseModel) -> dict[str, Any]:
    """Return the JSON-compatible dict that `dump_json` would write for `obj`."""
    data: dict[str, Any] = obj.model_dump(
        mode="json", by_alias=True, exclude_none=True, context=_WIRE_CONTEXT
    )
    return data


def parse_request(payload: bytes | str) -> ChatKitReq:
    """Parse a request body into a request object.

    Unknown keys are ignored. Raise `InvalidRequestError` when the body is not JSON, not an
    object, has no or an unknown `type`, or lacks valid `params`.
    """
    try:
        return chatkit_request_adapter.validate_json(payload)
    except ValidationError as exc:
        raise _invalid_request(exc) from None


def _invalid_request(exc: ValidationError) -> InvalidRequestError:
    error = exc.errors(include_url=False, include_input=False)[0]
    kind, loc = error["type"], error["loc"]
    if kind == "json_invalid":
        return InvalidRequestError("invalid_json", "The request body is not valid JSON.")
    if kind == "dict_type" and not loc:
        return InvalidRequestError("invalid_envelope", "The request body must be a JSON object.")
    if kind == "union_tag_not_found":
        return InvalidRequestError("invalid_envelope", "The request has no `type`.")
    if kind == "union_tag_invalid":
        return InvalidRequestError("unknown_type", "The request `type` is not a known operation.")
    # loc is (request type, field, ...); report the field path inside the envelope.
    path = ".".join(str(part) for part in loc[1:])
    code = "invalid_params" if loc[1:2] == ("params",) else "invalid_envelope"
    return InvalidRequestError(code, f"{path}: {error['msg']}")
