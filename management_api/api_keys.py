"""API keys: creating one answers its secret once; a list shows only the masked key.

Creates here ignore `Idempotency-Key`: keeping the first answer would keep the secret. A
retried create makes a second key, which its caller can revoke.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from management_api.auth import request_actor, request_tenant
from management_api.pagination import PageQuery, page_out
from management_api.schemas import In, id_path
from tenants.models import ApiKey
from tenants.selectors import api_key_get, api_key_list
from tenants.services import api_key_create, api_key_revoke

router = Router(tags=["API keys"])

Scope = Literal["chat", "management:read", "management:write"]


class ApiKeyCreateIn(In):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1)
    expires_at: datetime | None = None


class ApiKeyOut(Schema):
    id: int
    object: Literal["api_key"]
    name: str
    display: str
    scopes: list[str]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class ApiKeyCreateOut(ApiKeyOut):
    key: str  # the secret, shown this once


class ApiKeyListOut(Schema):
    object: Literal["list"]
    data: list[ApiKeyOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


def api_key_out(api_key: ApiKey) -> dict[str, Any]:
    return {
        "id": api_key.pk, "object": "api_key", "name": api_key.name,
        "display": api_key.display, "scopes": api_key.scopes,
        "expires_at": api_key.expires_at, "revoked_at": api_key.revoked_at,
        "last_used_at": api_key.last_used_at, "created_at": api_key.created_at,
    }  # fmt: skip


@router.get("/api-keys", response=ApiKeyListOut, url_name="api_key_list")
def api_key_list_operation(request: HttpRequest, query: Query[PageQuery]) -> dict[str, Any]:
    return page_out(api_key_list(tenant=request_tenant(request)), query, api_key_out)


@router.post("/api-keys", response={201: ApiKeyCreateOut}, url_name="api_key_create")
def api_key_create_operation(request: HttpRequest, body: ApiKeyCreateIn) -> Status[Any]:
    issued = api_key_create(
        tenant=request_tenant(request), actor=request_actor(request),
        name=body.name, scopes=list(body.scopes), expires_at=body.expires_at,
    )  # fmt: skip
    return Status(201, {**api_key_out(issued.api_key), "key": issued.raw})


@router.get("/api-keys/{key_id}", response=ApiKeyOut, url_name="api_key_get")
def api_key_get_operation(request: HttpRequest, key_id: int = id_path()) -> dict[str, Any]:
    return api_key_out(api_key_get(tenant=request_tenant(request), key_id=key_id))


@router.post("/api-keys/{key_id}/revoke", response=ApiKeyOut, url_name="api_key_revoke")
def api_key_revoke_operation(request: HttpRequest, key_id: int = id_path()) -> dict[str, Any]:
    api_key = api_key_revoke(
        tenant=request_tenant(request), key_id=key_id, actor=request_actor(request)
    )
    return api_key_out(api_key)
