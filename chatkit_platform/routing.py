"""HTTP and WebSocket routes served by Channels consumers rather than Django views."""

from __future__ import annotations

from typing import Any

from chatkit_endpoints.routing import http_routes as chatkit_http_routes
from chatkit_endpoints.routing import websocket_routes as chatkit_websocket_routes

http_routes: list[Any] = [*chatkit_http_routes]
websocket_routes: list[Any] = [*chatkit_websocket_routes]
