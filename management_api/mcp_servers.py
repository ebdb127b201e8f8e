"""Remote MCP servers of the tenant: create, read, update, delete, and refresh their tools.

Header values are write-only: an answer names the headers that are set, never a value.
Refreshing connects to the server (under the address policy of HTTP tools, within its time
limit) and caches its tool list, which agents then pick from (agents/{slug}/capabilities).
A URL the policy refuses answers 400 on `url`; a server that cannot be listed answers 502.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from chatkit_endpoints.openai_api.errors import ApiError
from hosted_agents.capabilities.selectors import mcp_server_get, mcp_server_list
from hosted_agents.capabilities.services import (
    MCP_SERVER,
    McpServerUnreachable,
    mcp_server_create,
    mcp_server_delete,
    mcp_server_refresh_tools,
    mcp_server_update,
)
from hosted_agents.models import McpServer
from hosted_agents.models.capabilities import MAX_MCP_TIME_LIMIT_SECONDS
from management_api.auth import request_actor, request_tenant
from management_api.pagination import PageQuery, page_out
from management_api.preconditions import idempotent, if_match, set_etag
from management_api.schemas import In, PatchIn, id_path

router = Router(tags=["MCP servers"])

Transport = Literal["streamable_http", "sse"]
NAME = r"^[A-Za-z0-9_-]{1,64}$"
MAX_HEADERS = 20


class McpServerCreateIn(In):
    name: str = Field(min_length=1, max_length=64, pattern=NAME)
    url: str = Field(min_length=1, max_length=2000)
    transport: Transport = "streamable_http"
    headers: dict[str, str] = Field(default_factory=dict, max_length=MAX_HEADERS)
    time_limit_seconds: float = Field(default=10.0, ge=0.5, le=MAX_MCP_TIME_LIMIT_SECONDS)


class McpServerUpdateIn(PatchIn):
    """Only the fields sent change; `headers` replaces every header value."""

    name: str | None = Field(default=None, min_length=1, max_length=64, pattern=NAME)
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    transport: Transport | None = Field(default=None)
    headers: dict[str, str] | None = Field(default=None, max_length=MAX_HEADERS)
    time_limit_seconds: float | None = Field(default=None, ge=0.5, le=MAX_MCP_TIME_LIMIT_SECONDS)


class McpToolOut(Schema):
    name: str
    description: str
    input_schema: dict[str, Any]


class McpServerOut(Schema):
    id: int
    object: Literal["mcp_server"]
    name: str
    url: str
    transport: Transport
    # The names of the headers sent to the server; their values are never shown.
    header_names: list[str]
    time_limit_seconds: float
    tools: list[McpToolOut]
    tools_fetched_at: datetime | None
    # Why the last refresh failed ("" when it did not); the cached tools stay as they were.
    tools_error: str
    created_at: datetime
    updated_at: datetime


class McpServerListOut(Schema):
    object: Literal["list"]
    data: list[McpServerOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


class McpServerDeleteOut(Schema):
    id: int
    object: Literal["mcp_server.deleted"]
    deleted: bool


class McpServerToolsOut(Schema):
    object: Literal["mcp_server.tools"]
    server_id: int
    tools: list[McpToolOut]
    fetched_at: datetime


def server_out(server: McpServer) -> dict[str, Any]:
    return {
        "id": server.pk, "object": "mcp_server", "name": server.name, "url": server.url,
        "transport": server.transport, "header_names": sorted(server.header_hints),
        "time_limit_seconds": server.time_limit_seconds, "tools": server.tools,
        "tools_fetched_at": server.tools_fetched_at, "tools_error": server.tools_error,
        "created_at": server.created_at, "updated_at": server.updated_at,
    }  # fmt: skip


@router.get("/mcp-servers", response=McpServerListOut, url_name="mcp_server_list")
def mcp_server_list_operation(request: HttpRequest, query: Query[PageQuery]) -> dict[str, Any]:
    return page_out(mcp_server_list(tenant=request_tenant(request)), query, server_out)


@router.post("/mcp-servers", response={201: McpServerOut}, url_name="mcp_server_create")
def mcp_server_create_operation(request: HttpRequest, body: McpServerCreateIn) -> Status[Any]:
    def create() -> tuple[int, Any]:
        server = mcp_server_create(
            tenant=request_tenant(request), actor=request_actor(request), **body.model_dump()
        )
        return 201, server_out(server)

    # The headers may hold secrets: the key is kept with a fingerprint of the body only.
    return Status(*idempotent(request, body.model_dump(), create))


@router.get("/mcp-servers/{server_id}", response=McpServerOut, url_name="mcp_server_get")
def mcp_server_get_operation(
    request: HttpRequest, response: HttpResponse, server_id: int = id_path()
) -> dict[str, Any]:
    server = mcp_server_get(tenant=request_tenant(request), server_id=server_id)
    set_etag(response, server)
    return server_out(server)


@router.patch("/mcp-servers/{server_id}", response=McpServerOut, url_name="mcp_server_update")
def mcp_server_update_operation(
    request: HttpRequest,
    response: HttpResponse,
    body: McpServerUpdateIn,
    server_id: int = id_path(),
) -> dict[str, Any]:
    tenant = request_tenant(request)
    with if_match(request, MCP_SERVER, tenant=tenant, pk=server_id):
        server = mcp_server_update(
            tenant=tenant, server_id=server_id, changes=body.model_dump(exclude_unset=True),
            actor=request_actor(request),
        )  # fmt: skip
    set_etag(response, server)
    return server_out(server)


@router.delete(
    "/mcp-servers/{server_id}", response=McpServerDeleteOut, url_name="mcp_server_delete"
)
def mcp_server_delete_operation(request: HttpRequest, server_id: int = id_path()) -> dict[str, Any]:
    tenant = request_tenant(request)
    with if_match(request, MCP_SERVER, tenant=tenant, pk=server_id):
        mcp_server_delete(tenant=tenant, server_id=server_id, actor=request_actor(request))
    return {"id": server_id, "object": "mcp_server.deleted", "deleted": True}


_UNREACHABLE = {
    "description": "The server could not be reached or listed within its time limit.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


@router.post(
    "/mcp-servers/{server_id}/refresh-tools",
    response=McpServerToolsOut,
    url_name="mcp_server_refresh_tools",
    openapi_extra={"responses": {"502": _UNREACHABLE}},
)
def mcp_server_refresh_tools_operation(
    request: HttpRequest, server_id: int = id_path()
) -> dict[str, Any]:
    try:
        server = mcp_server_refresh_tools(
            tenant=request_tenant(request), server_id=server_id, actor=request_actor(request)
        )
    except McpServerUnreachable as error:
        reason = error.message[:1].upper() + error.message[1:]
        raise ApiError(502, f"{reason}.", code="mcp_server_unreachable") from None
    return {"object": "mcp_server.tools", "server_id": server.pk, "tools": server.tools,
            "fetched_at": server.tools_fetched_at}  # fmt: skip
