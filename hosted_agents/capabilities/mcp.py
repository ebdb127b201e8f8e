"""Remote MCP servers: connect under the HTTP tools' address policy, list and call tools.

Every request of an MCP connection (the initialize handshake, each POST, the SSE streams)
goes through `_PolicyTransport`, which checks the target with `http_fetch.address_check`
(no loopback, private, link-local... address unless the operator allows private targets)
and connects to the checked address itself, keeping the host name in `Host` and in the TLS
server name; so a DNS-rebinding name cannot switch addresses after the check. Redirects are
not followed. `time_limit_seconds` bounds each whole operation (connect, handshake, call).

A run does not list tools: it offers the tool definitions the published version froze
(see `mcp_function_tool`), and each call opens its own short connection, in the task that
runs the tool (the MCP client's cancel scopes must be entered and left in one task).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx2
from agents import FunctionTool
from agents.mcp import MCPServer, MCPServerSse, MCPServerStreamableHttp
from agents.tool_context import ToolContext

from hosted_agents import http_fetch
from hosted_agents.tools.code import parse_arguments

__all__ = [
    "McpAddressRefused",
    "McpError",
    "McpHeaderLoader",
    "McpServerSpec",
    "mcp_function_tool",
    "mcp_tools_list",
]

logger = logging.getLogger(__name__)

# Take an McpServer id, return its decrypted headers.
McpHeaderLoader = Callable[[int], Awaitable[dict[str, str]]]

MAX_RESULT_CHARS = 64 * 1024
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


class McpError(Exception):
    """An MCP server could not be reached, refused us, or failed; the message says which."""


class McpAddressRefused(McpError):
    """The address policy refuses the server's URL (a private target, a bad URL): no
    connection was tried."""


@dataclass(frozen=True)
class McpServerSpec:
    """Where and how to reach an MCP server (no header values: those stay encrypted)."""

    id: int
    name: str
    url: str
    transport: str  # "streamable_http" or "sse"
    time_limit_seconds: float

    @classmethod
    def from_config(cls, entry: dict[str, Any]) -> McpServerSpec:
        return cls(**{name: entry[name] for name in cls.__dataclass_fields__})


class _PolicyTransport(httpx2.AsyncBaseTransport):
    """Send each request to the address the policy checked, naming the original host."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = httpx2.AsyncHTTPTransport(retries=0)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            address = await http_fetch.address_check(
                str(request.url), allow_private=self.allow_private
            )
        except http_fetch.FetchError as error:
            raise httpx2.ConnectError(str(error), request=request) from None
        original_host = request.url.host
        request.url = request.url.copy_with(host=address)
        if request.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": original_host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@asynccontextmanager
async def _connected(
    spec: McpServerSpec, headers: dict[str, str], *, allow_private: bool
) -> AsyncIterator[MCPServer]:
    try:
        # Checked here too, so that a refused target gets a clear message at once.
        await http_fetch.address_check(spec.url, allow_private=allow_private)
    except http_fetch.FetchError as error:
        raise McpAddressRefused(f"{spec.name}: {error}") from None

    def client_factory(
        headers: dict[str, str] | None = None, timeout: Any = None, auth: Any = None
    ) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            transport=_PolicyTransport(allow_private=allow_private),
            headers=headers,
            timeout=timeout,
            auth=auth,
            follow_redirects=False,
            trust_env=False,
        )

    limit = spec.time_limit_seconds
    server: MCPServer
    if spec.transport == "sse":
        server = MCPServerSse(
            {"url": spec.url, "headers": headers, "timeout": limit, "sse_read_timeout": limit,
             "httpx_client_factory": client_factory},
            name=spec.name, client_session_timeout_seconds=limit,
        )  # fmt: skip
    else:
        server = MCPServerStreamableHttp(
            {"url": spec.url, "headers": headers, "timeout": limit, "sse_read_timeout": limit,
             "httpx_client_factory": client_factory},
            name=spec.name, client_session_timeout_seconds=limit,
        )  # fmt: skip
    await server.connect()  # type: ignore[no-untyped-call]  # untyped in openai-agents
    try:
        yield server
    finally:
        await server.cleanup()  # type: ignore[no-untyped-call]


async def mcp_tools_list(
    spec: McpServerSpec, headers: dict[str, str], *, allow_private: bool
) -> list[dict[str, Any]]:
    """Return the server's tools as `{"name", "description", "input_schema"}`, or raise
    `McpError`."""
    try:
        async with asyncio.timeout(spec.time_limit_seconds):
            async with _connected(spec, headers, allow_private=allow_private) as server:
                tools = await server.list_tools()
    except McpError:
        raise
    except TimeoutError:
        raise McpError(f"{spec.name}: no answer within {spec.time_limit_seconds} s") from None
    except Exception as error:
        raise McpError(f"{spec.name}: {_reason(error)}") from None
    return [
        {
            "name": tool.name,
            "description": tool.description or "",
            "input_schema": dict(_field(tool, "input_schema", "inputSchema") or _EMPTY_SCHEMA),
        }
        for tool in tools
    ]


def mcp_function_tool(
    spec: McpServerSpec,
    tool: dict[str, Any],
    *,
    load_headers: McpHeaderLoader,
    allow_private: bool,
) -> FunctionTool:
    """Return a FunctionTool offering one frozen MCP tool; calling it calls the server.

    Whatever fails, the model gets a message it can relay, never an exception.
    """
    name = tool["name"]

    async def invoke(ctx: ToolContext[Any], raw: str) -> str:
        try:
            arguments = parse_arguments(raw)
        except ValueError as error:
            return f"Invalid arguments for {name}: {error}"
        try:
            headers = await load_headers(spec.id)
            async with asyncio.timeout(spec.time_limit_seconds):
                async with _connected(spec, headers, allow_private=allow_private) as server:
                    result = await server.call_tool(name, arguments)
        except McpError as error:
            return f"The MCP tool {name} failed: {error}"
        except TimeoutError:
            return f"The MCP tool {name} got no answer within {spec.time_limit_seconds} s."
        except Exception as error:
            logger.warning("MCP tool %s of server %s failed: %r", name, spec.id, error)
            return f"The MCP tool {name} failed: {_reason(error)}"
        return _result_text(result)

    return FunctionTool(
        name=name,
        description=tool.get("description", ""),
        params_json_schema=tool.get("input_schema") or _EMPTY_SCHEMA,
        on_invoke_tool=invoke,
        strict_json_schema=False,
    )


def _result_text(result: Any) -> str:
    """The model's view of a `CallToolResult`: its structured content, else its text parts."""
    structured = _field(result, "structured_content", "structuredContent")
    if structured is not None:
        text = json.dumps(structured, ensure_ascii=False)
    else:
        parts = [getattr(part, "text", None) for part in result.content]
        text = "\n".join(part for part in parts if part is not None)
    if _field(result, "is_error", "isError"):
        text = f"The MCP tool reported an error: {text}"
    return text[:MAX_RESULT_CHARS]


def _field(value: Any, name: str, v1_name: str) -> Any:
    """Read a field of an MCP type under its name in MCP SDK v2, or in v1."""
    return getattr(value, name, getattr(value, v1_name, None))


def _reason(error: BaseException) -> str:
    """A short reason from an error, looking inside exception groups (anyio task groups)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}"[:300]
