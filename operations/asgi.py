"""ASGI middleware: the request id, and the request counter by route and status.

It wraps the whole application (Django views and the ChatKit consumers alike). The id comes
from the client's `X-Request-ID` when it sends a sane one, or is made here; it is bound to
the log context for the request and echoed in the response's `X-Request-ID`.
"""

from __future__ import annotations

import re
import time
from typing import Any

from operations.context import log_context_bind, log_context_reset, request_id_from_header
from operations.metrics import REQUESTS

__all__ = ["RequestContextMiddleware", "route_of"]

# Low-cardinality route names: ids and slugs never become label values.
_ROUTES = [
    (re.compile(r"^/t/[^/]+/agents/[^/]+/chatkit/?$"), "/t/{tenant}/agents/{agent}/chatkit"),
    (
        re.compile(r"^/t/[^/]+/agents/[^/]+/threads/[^/]+/stream/?$"),
        "/t/{tenant}/agents/{agent}/threads/{thread}/stream",
    ),
]
_PREFIXES = ("/v1/chatkit/", "/api/v1/", "/console/", "/admin/", "/static/")
_EXACT = frozenset({"/", "/healthz", "/readyz", "/metrics"})


def route_of(path: str) -> str:
    """Return the route `path` belongs to, as a metric label."""
    if path in _EXACT:
        return path
    for pattern, name in _ROUTES:
        if pattern.match(path):
            return name
    for prefix in _PREFIXES:
        if path.startswith(prefix):
            return prefix + "*"
    return "other"


class RequestContextMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        sent = next((v for k, v in scope.get("headers", ()) if k == b"x-request-id"), None)
        request_id = request_id_from_header(sent)
        echo = (b"x-request-id", request_id.encode())
        # Shared with what runs below (a dict survives the routers' copies of the scope).
        scope = dict(scope, ckp_request={"started": time.monotonic(), "id": request_id})
        status = 500

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = dict(message, headers=[*message.get("headers", ()), echo])
            await send(message)

        tokens = log_context_bind(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log_context_reset(tokens)
            if scope["type"] == "http":
                REQUESTS.labels(route_of(scope["path"]), scope["method"], str(status)).inc()
