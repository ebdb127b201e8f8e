"""A real MCP server (the `mcp` package's MCPServer) on a loopback port, in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from mcp.server.mcpserver import MCPServer


@dataclass
class LoopbackMcp:
    port: int
    # The headers of every HTTP request the server received (lower-case names).
    seen_headers: list[dict[str, str]] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def url(self, transport: str = "streamable_http", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/{'sse' if transport == 'sse' else 'mcp'}"


def _weather_server(state: LoopbackMcp) -> MCPServer:
    server = MCPServer("weather")

    @server.tool()
    def forecast(city: str) -> str:
        """Tomorrow's forecast for a city."""
        state.calls.append(("forecast", {"city": city}))
        return f"Sunny with 21 degrees in {city}"

    @server.tool()
    def delete_everything() -> str:
        """Deletes every record (never to be offered)."""
        state.calls.append(("delete_everything", {}))
        return "deleted"

    return server


def _recording(app: Any, state: LoopbackMcp) -> Any:
    async def recorded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            state.seen_headers.append(
                {name.decode().lower(): value.decode() for name, value in scope["headers"]}
            )
        await app(scope, receive, send)

    return recorded


@pytest.fixture(params=["streamable_http"])
def mcp_transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def loopback_mcp(mcp_transport: str) -> Iterator[LoopbackMcp]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    state = LoopbackMcp(port=sock.getsockname()[1])
    mcp = _weather_server(state)
    app = mcp.sse_app() if mcp_transport == "sse" else mcp.streamable_http_app()
    server = uvicorn.Server(uvicorn.Config(_recording(app, state), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the MCP server did not start"
        assert thread.is_alive(), "the MCP server stopped while starting"
        time.sleep(0.01)
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
