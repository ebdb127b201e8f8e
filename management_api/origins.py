"""The tenant's allowed origins: the browser origins its ChatKit endpoints answer."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from pydantic import Field

from management_api.auth import request_actor, request_tenant
from management_api.preconditions import etag_of, if_match, set_etag
from management_api.schemas import In
from tenants.services import tenant_update

router = Router(tags=["allowed origins"])


class AllowedOriginsIn(In):
    origins: list[str] = Field(max_length=100)


class AllowedOriginsOut(Schema):
    object: Literal["allowed_origins"]
    origins: list[str]


@router.get("/allowed-origins", response=AllowedOriginsOut, url_name="origins_get")
def origins_get(request: HttpRequest, response: HttpResponse) -> dict[str, Any]:
    tenant = request_tenant(request)
    set_etag(response, tenant)
    return {"object": "allowed_origins", "origins": tenant.allowed_origins}


@router.put("/allowed-origins", response=AllowedOriginsOut, url_name="origins_put")
def origins_put(
    request: HttpRequest, response: HttpResponse, body: AllowedOriginsIn
) -> dict[str, Any]:
    tenant = request_tenant(request)
    with if_match(request, None, tenant=tenant, pk=tenant.pk):
        tenant = tenant_update(
            tenant=tenant, changes={"allowed_origins": body.origins}, actor=request_actor(request)
        )
    response["ETag"] = etag_of(tenant)
    return {"object": "allowed_origins", "origins": tenant.allowed_origins}
