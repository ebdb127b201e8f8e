"""The one JSON error shape of the ChatKit endpoints, and the refusals that produce it.

Every refusal at this edge is an `EndpointError`: an HTTP status, a short machine-readable
`code`, a sentence for the developer reading it and, for some, headers (`Retry-After`,
`WWW-Authenticate`). The body is always

    {"error": {"code": "...", "message": "..."}}

Once a stream has begun, a refusal can only be an `error` event (see consumers.py).
"""

from __future__ import annotations

import json

from chatkit_core.errors import ProtocolError
from chatkit_core.store import NotFoundError

__all__ = ["EndpointError", "error_body", "from_protocol_error"]


class EndpointError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: list[tuple[bytes, bytes]] | None = None,
        **details: object,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []
        self.details = details


def error_body(code: str, message: str, **details: object) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, **details}}).encode()


def unauthorized(message: str) -> EndpointError:
    return EndpointError(401, "invalid_credential", message, [(b"www-authenticate", b"Bearer")])


def from_protocol_error(error: ProtocolError | NotFoundError) -> EndpointError:
    if isinstance(error, NotFoundError):
        return EndpointError(404, "not_found", str(error) or "not found")
    return EndpointError(error.status_code, error.code, error.message)
