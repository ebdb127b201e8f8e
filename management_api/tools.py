"""Tools: HTTP tools and client tools (create, read, update, delete), code tools (listed).

HTTP tool headers are write-only: an answer shows each header's name and a masked hint.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from hosted_agents.models import ClientTool, HttpTool
from hosted_agents.selectors import client_tool_get, client_tool_list, http_tool_get, http_tool_list
from hosted_agents.services import (
    client_tool_create,
    client_tool_delete,
    client_tool_update,
    http_tool_create,
    http_tool_delete,
    http_tool_update,
)
from hosted_agents.services.tools import CLIENT_TOOL, HTTP_TOOL
from hosted_agents.tools.registry import all_code_tools
from management_api.auth import request_actor, request_tenant
from management_api.pagination import PageQuery, page_out
from management_api.preconditions import etag_of, idempotent, if_match, set_etag
from management_api.schemas import In, PatchIn, id_path

router = Router(tags=["tools"])

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
ToolName = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]{1,64}$")


class HttpToolCreateIn(In):
    name: str = ToolName
    description: str = Field(min_length=1, max_length=10_000)
    url_template: str = Field(min_length=1, max_length=2000)
    method: Method = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    args_schema: dict[str, Any] = Field(default_factory=dict)
    time_limit_seconds: float = Field(default=10.0, ge=0.5, le=60)
    max_response_bytes: int = Field(default=64 * 1024, ge=256, le=1024 * 1024)


class HttpToolUpdateIn(PatchIn):
    name: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]{1,64}$"
    )
    description: str | None = Field(default=None, min_length=1, max_length=10_000)
    url_template: str | None = Field(default=None, min_length=1, max_length=2000)
    method: Method | None = Field(default=None)
    headers: dict[str, str] | None = Field(default=None)
    args_schema: dict[str, Any] | None = Field(default=None)
    time_limit_seconds: float | None = Field(default=None, ge=0.5, le=60)
    max_response_bytes: int | None = Field(default=None, ge=256, le=1024 * 1024)


class HttpToolOut(Schema):
    id: int
    object: Literal["tool.http"]
    name: str
    description: str
    method: str
    url_template: str
    header_hints: dict[str, str]
    args_schema: dict[str, Any]
    time_limit_seconds: float
    max_response_bytes: int
    created_at: datetime
    updated_at: datetime


class HttpToolListOut(Schema):
    object: Literal["list"]
    data: list[HttpToolOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


class ClientToolCreateIn(In):
    name: str = ToolName
    description: str = Field(min_length=1, max_length=10_000)
    args_schema: dict[str, Any] = Field(default_factory=dict)


class ClientToolUpdateIn(PatchIn):
    name: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]{1,64}$"
    )
    description: str | None = Field(default=None, min_length=1, max_length=10_000)
    args_schema: dict[str, Any] | None = Field(default=None)


class ClientToolOut(Schema):
    id: int
    object: Literal["tool.client"]
    name: str
    description: str
    args_schema: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class ClientToolListOut(Schema):
    object: Literal["list"]
    data: list[ClientToolOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


class ToolDeleteOut(Schema):
    id: int
    object: Literal["tool.deleted"]
    deleted: bool


class CodeToolOut(Schema):
    id: str
    object: Literal["tool.code"]
    name: str
    description: str
    params_schema: dict[str, Any]
    long_running: bool
    time_limit_seconds: float


class CodeToolListOut(Schema):
    object: Literal["list"]
    data: list[CodeToolOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


def http_tool_out(tool: HttpTool) -> dict[str, Any]:
    return {
        "id": tool.pk, "object": "tool.http", "name": tool.name,
        "description": tool.description, "method": tool.method,
        "url_template": tool.url_template, "header_hints": tool.header_hints,
        "args_schema": tool.args_schema, "time_limit_seconds": tool.time_limit_seconds,
        "max_response_bytes": tool.max_response_bytes,
        "created_at": tool.created_at, "updated_at": tool.updated_at,
    }  # fmt: skip


def client_tool_out(tool: ClientTool) -> dict[str, Any]:
    return {
        "id": tool.pk, "object": "tool.client", "name": tool.name,
        "description": tool.description, "args_schema": tool.args_schema,
        "created_at": tool.created_at, "updated_at": tool.updated_at,
    }  # fmt: skip


@router.get("/tools/code", response=CodeToolListOut, url_name="code_tool_list")
def code_tool_list(request: HttpRequest) -> dict[str, Any]:
    data = [
        {
            "id": t.name,
            "object": "tool.code",
            "name": t.name,
            "description": t.description,
            "params_schema": t.params_schema,
            "long_running": t.long_running,
            "time_limit_seconds": t.time_limit_seconds,
        }
        for t in all_code_tools()
    ]
    first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
    return {"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": False}


@router.get("/tools/http", response=HttpToolListOut, url_name="http_tool_list")
def http_tool_list_operation(request: HttpRequest, query: Query[PageQuery]) -> dict[str, Any]:
    return page_out(http_tool_list(tenant=request_tenant(request)), query, http_tool_out)


@router.post("/tools/http", response={201: HttpToolOut}, url_name="http_tool_create")
def http_tool_create_operation(request: HttpRequest, body: HttpToolCreateIn) -> Status[Any]:
    def create() -> tuple[int, Any]:
        tool = http_tool_create(
            tenant=request_tenant(request), actor=request_actor(request), **body.model_dump()
        )
        return 201, http_tool_out(tool)

    # The headers may hold secrets: the key is kept with a fingerprint of the body only.
    return Status(*idempotent(request, body.model_dump(), create))


@router.get("/tools/http/{tool_id}", response=HttpToolOut, url_name="http_tool_get")
def http_tool_get_operation(
    request: HttpRequest, response: HttpResponse, tool_id: int = id_path()
) -> dict[str, Any]:
    tool = http_tool_get(tenant=request_tenant(request), tool_id=tool_id)
    set_etag(response, tool)
    return http_tool_out(tool)


@router.patch("/tools/http/{tool_id}", response=HttpToolOut, url_name="http_tool_update")
def http_tool_update_operation(
    request: HttpRequest, response: HttpResponse, body: HttpToolUpdateIn, tool_id: int = id_path()
) -> dict[str, Any]:
    tenant = request_tenant(request)
    with if_match(request, HTTP_TOOL, tenant=tenant, pk=tool_id):
        tool = http_tool_update(
            tenant=tenant, tool_id=tool_id, changes=body.model_dump(exclude_unset=True),
            actor=request_actor(request),
        )  # fmt: skip
    response["ETag"] = etag_of(tool)
    return http_tool_out(tool)


@router.delete("/tools/http/{tool_id}", response=ToolDeleteOut, url_name="http_tool_delete")
def http_tool_delete_operation(request: HttpRequest, tool_id: int = id_path()) -> dict[str, Any]:
    http_tool_delete(tenant=request_tenant(request), tool_id=tool_id, actor=request_actor(request))
    return {"id": tool_id, "object": "tool.deleted", "deleted": True}


@router.get("/tools/client", response=ClientToolListOut, url_name="client_tool_list")
def client_tool_list_operation(request: HttpRequest, query: Query[PageQuery]) -> dict[str, Any]:
    return page_out(client_tool_list(tenant=request_tenant(request)), query, client_tool_out)


@router.post("/tools/client", response={201: ClientToolOut}, url_name="client_tool_create")
def client_tool_create_operation(request: HttpRequest, body: ClientToolCreateIn) -> Status[Any]:
    def create() -> tuple[int, Any]:
        tool = client_tool_create(
            tenant=request_tenant(request), actor=request_actor(request), **body.model_dump()
        )
        return 201, client_tool_out(tool)

    return Status(*idempotent(request, body.model_dump(), create))


@router.get("/tools/client/{tool_id}", response=ClientToolOut, url_name="client_tool_get")
def client_tool_get_operation(
    request: HttpRequest, response: HttpResponse, tool_id: int = id_path()
) -> dict[str, Any]:
    tool = client_tool_get(tenant=request_tenant(request), tool_id=tool_id)
    set_etag(response, tool)
    return client_tool_out(tool)


@router.patch("/tools/client/{tool_id}", response=ClientToolOut, url_name="client_tool_update")
def client_tool_update_operation(
    request: HttpRequest,
    response: HttpResponse,
    body: ClientToolUpdateIn,
    tool_id: int = id_path(),
) -> dict[str, Any]:
    tenant = request_tenant(request)
    with if_match(request, CLIENT_TOOL, tenant=tenant, pk=tool_id):
        tool = client_tool_update(
            tenant=tenant, tool_id=tool_id, changes=body.model_dump(exclude_unset=True),
            actor=request_actor(request),
        )  # fmt: skip
    response["ETag"] = etag_of(tool)
    return client_tool_out(tool)


@router.delete("/tools/client/{tool_id}", response=ToolDeleteOut, url_name="client_tool_delete")
def client_tool_delete_operation(request: HttpRequest, tool_id: int = id_path()) -> dict[str, Any]:
    client_tool_delete(
        tenant=request_tenant(request), tool_id=tool_id, actor=request_actor(request)
    )
    return {"id": tool_id, "object": "tool.deleted", "deleted": True}
