"""Exceptions of chatkit_core.

Exception tree::

    Exception
    ├── BaseStreamError        raised inside `respond`/`action`; becomes an `error` event
    │   ├── StreamError        coded error; the client shows its own localized text
    │   └── CustomStreamError  carries a user-facing `message`
    └── ProtocolError          the request cannot be served; answer HTTP `status_code`
        ├── InvalidRequestError      the body is not a valid ChatKit request (400);
        │                            also a `ValueError`, see its docstring
        └── UnsupportedOperationError  this server does not offer the operation (501);
                                       also a `NotImplementedError`, see its docstring

`ErrorCode` is open-ended: the protocol lets new codes appear, so treat unknown ones as
generic failures.
"""

from __future__ import annotations

from abc import ABC
from enum import StrEnum

__all__ = [
    "DEFAULT_ALLOW_RETRY",
    "DEFAULT_STATUS",
    "BaseStreamError",
    "CustomStreamError",
    "ErrorCode",
    "InvalidRequestError",
    "ProtocolError",
    "StreamError",
    "UnsupportedOperationError",
]


class ErrorCode(StrEnum):
    """Error codes sent in `error` events (besides `"custom"`)."""

    STREAM_ERROR = "stream.error"


DEFAULT_STATUS: dict[ErrorCode, int] = {ErrorCode.STREAM_ERROR: 500}
"""HTTP status an integrator may use for a code; never applied on the wire (§1.6)."""

DEFAULT_ALLOW_RETRY: dict[ErrorCode, bool] = {ErrorCode.STREAM_ERROR: True}
"""Whether the client offers a retry for a code when the raiser does not say."""


class BaseStreamError(ABC, Exception):
    """An error that the respond pipeline turns into an `error` event."""

    allow_retry: bool


class StreamError(BaseStreamError):
    """An error identified by a code; the client shows its own localized text."""

    code: ErrorCode

    def __init__(self, code: ErrorCode, *, allow_retry: bool | None = None) -> None:
        super().__init__(code.value)
        self.code = code
        self.status_code = DEFAULT_STATUS.get(code, 500)
        self.allow_retry = (
            DEFAULT_ALLOW_RETRY.get(code, False) if allow_retry is None else allow_retry
        )


class CustomStreamError(BaseStreamError):
    """An error whose `message` (already localized) is shown to the user."""

    message: str

    def __init__(self, message: str, *, allow_retry: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.allow_retry = allow_retry


class ProtocolError(Exception):
    """A request that does not follow the ChatKit protocol.

    `code` is a short machine-readable token (e.g. `"unknown_type"`), `message` a one-line
    explanation safe to return to the client, `status_code` the HTTP status to answer with.
    """

    status_code: int = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class InvalidRequestError(ProtocolError, ValueError):
    """The request body is not a valid ChatKit request, or names something it cannot use.

    Codes: `invalid_json` (not parseable JSON), `invalid_envelope` (not a JSON object, or no
    `type` string), `unknown_type` (not a known operation), `invalid_params` (missing,
    malformed, too long or NUL-carrying `params`, or an item that the operation cannot
    use, such as a retry after an item that is not a user message).

    It is also a `ValueError`, as the official SDK's validation errors are, so a handler
    written for the official SDK (`ValueError` → 400) answers it the same way.
    """


class UnsupportedOperationError(ProtocolError, NotImplementedError):
    """The request is valid but this server does not offer the operation (HTTP 501).

    Raised by `process()` for `attachments.*` without an attachment store, and by the
    default `transcribe` and `sync_action` hooks (override them to offer the operation).
    Code: `unsupported_operation`. It is also a `NotImplementedError` (hence a
    `RuntimeError`), so handlers written for the reference server's errors still catch it.
    """

    status_code: int = 501

    def __init__(self, message: str) -> None:
        super().__init__("unsupported_operation", message)
