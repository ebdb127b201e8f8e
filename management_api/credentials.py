"""Provider credentials: the secret is write-only; answers show its masked hint."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from hosted_agents.services.connection import provider_credential_test
from management_api.auth import request_actor, request_tenant
from management_api.pagination import PageQuery, page_out
from management_api.preconditions import etag_of, idempotent, if_match, set_etag
from management_api.schemas import In, PatchIn, id_path
from tenants.models import ProviderCredential
from tenants.selectors import provider_credential_get, provider_credential_list
from tenants.services import (
    provider_credential_create,
    provider_credential_delete,
    provider_credential_update,
)
from tenants.services.provider_credentials import CREDENTIAL

router = Router(tags=["provider credentials"])

Kind = Literal["openai", "openai_compatible"]
Api = Literal["responses", "chat_completions"]


class ProviderCredentialCreateIn(In):
    name: str = Field(min_length=1, max_length=100)
    kind: Kind
    secret: str = Field(min_length=1, max_length=1000)
    base_url: str = Field(default="", max_length=200)
    api: Api = "responses"


class ProviderCredentialUpdateIn(PatchIn):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    secret: str | None = Field(default=None, min_length=1, max_length=1000)
    base_url: str | None = Field(default=None, max_length=200)
    api: Api | None = Field(default=None)


class ProviderCredentialOut(Schema):
    id: int
    object: Literal["provider_credential"]
    name: str
    kind: str
    base_url: str
    api: str
    secret_hint: str
    created_at: datetime
    updated_at: datetime


class ProviderCredentialListOut(Schema):
    object: Literal["list"]
    data: list[ProviderCredentialOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


class ProviderCredentialDeleteOut(Schema):
    id: int
    object: Literal["provider_credential.deleted"]
    deleted: bool


class ConnectionTestOut(Schema):
    object: Literal["provider_credential.test"]
    ok: bool
    reason: str
    message: str


def credential_out(credential: ProviderCredential) -> dict[str, Any]:
    return {
        "id": credential.pk, "object": "provider_credential", "name": credential.name,
        "kind": credential.kind, "base_url": credential.base_url, "api": credential.api,
        "secret_hint": credential.secret_hint,
        "created_at": credential.created_at, "updated_at": credential.updated_at,
    }  # fmt: skip


@router.get("/provider-credentials", response=ProviderCredentialListOut, url_name="credential_list")
def credential_list_operation(request: HttpRequest, query: Query[PageQuery]) -> dict[str, Any]:
    rows = provider_credential_list(tenant=request_tenant(request))
    return page_out(rows, query, credential_out)


@router.post(
    "/provider-credentials", response={201: ProviderCredentialOut}, url_name="credential_create"
)
def credential_create_operation(
    request: HttpRequest, body: ProviderCredentialCreateIn
) -> Status[Any]:
    def create() -> tuple[int, Any]:
        credential = provider_credential_create(
            tenant=request_tenant(request), actor=request_actor(request), **body.model_dump()
        )
        return 201, credential_out(credential)

    # Only a fingerprint of the body (secret included) is kept, and the answer has no secret.
    return Status(*idempotent(request, body.model_dump(), create))


@router.get(
    "/provider-credentials/{credential_id}",
    response=ProviderCredentialOut,
    url_name="credential_get",
)
def credential_get_operation(
    request: HttpRequest, response: HttpResponse, credential_id: int = id_path()
) -> dict[str, Any]:
    credential = provider_credential_get(
        tenant=request_tenant(request), credential_id=credential_id
    )
    set_etag(response, credential)
    return credential_out(credential)


@router.patch(
    "/provider-credentials/{credential_id}",
    response=ProviderCredentialOut,
    url_name="credential_update",
)
def credential_update_operation(
    request: HttpRequest,
    response: HttpResponse,
    body: ProviderCredentialUpdateIn,
    credential_id: int = id_path(),
) -> dict[str, Any]:
    tenant = request_tenant(request)
    with if_match(request, CREDENTIAL, tenant=tenant, pk=credential_id):
        credential = provider_credential_update(
            tenant=tenant, credential_id=credential_id,
            changes=body.model_dump(exclude_unset=True), actor=request_actor(request),
        )  # fmt: skip
    response["ETag"] = etag_of(credential)
    return credential_out(credential)


@router.delete(
    "/provider-credentials/{credential_id}",
    response=ProviderCredentialDeleteOut,
    url_name="credential_delete",
)
def credential_delete_operation(
    request: HttpRequest, credential_id: int = id_path()
) -> dict[str, Any]:
    provider_credential_delete(
        tenant=request_tenant(request), credential_id=credential_id, actor=request_actor(request)
    )
    return {"id": credential_id, "object": "provider_credential.deleted", "deleted": True}


@router.post(
    "/provider-credentials/{credential_id}/test",
    response=ConnectionTestOut,
    url_name="credential_test",
)
def credential_test_operation(
    request: HttpRequest, credential_id: int = id_path()
) -> dict[str, Any]:
    check = provider_credential_test(tenant=request_tenant(request), credential_id=credential_id)
    return {"object": "provider_credential.test", "ok": check.ok, "reason": check.reason,
            "message": check.message}  # fmt: skip
