"""Optimistic concurrency (ETag / If-Match) and idempotent creates (Idempotency-Key).

An entity's ETag is a digest of its id and its `updated_at`: any saved change moves it. A
write that sends `If-Match` with another ETag answers 412 `precondition_failed`; the check
runs under the row lock the service takes, so two writers with one ETag cannot both pass.
Without `If-Match` a write is unconditional.

A create sent with `Idempotency-Key` answers, for the same key and body, the first result
again (the same status and body, no second object); the same key with another body answers
409 `idempotency_key_reused`. Keys are kept per tenant and operation (tenants.services).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse

from chatkit_endpoints.openai_api.errors import ApiError
from management_api.auth import request_tenant
from tenants.models import Tenant
from tenants.services import idempotent_call
from tenants.services.common import RowSpec, row_locked
from tenants.services.idempotency import idempotency_hash

__all__ = ["etag_digest", "etag_of", "idempotent", "if_match", "set_etag"]

MAX_KEY_LENGTH = 200


def etag_digest(*parts: object) -> str:
    """Return an ETag naming `parts` (ids and timestamps) together."""
    digest = hashlib.sha256(":".join(str(part) for part in parts).encode())
    return f'"{digest.hexdigest()[:20]}"'


def etag_of(row: models.Model) -> str:
    stamp = getattr(row, "updated_at", None)
    return etag_digest(row.pk, stamp.isoformat() if stamp else "")


def set_etag(response: HttpResponse, row: models.Model) -> None:
    response["ETag"] = etag_of(row)


@contextmanager
def if_match(
    request: HttpRequest,
    spec: RowSpec[Any] | None,
    *,
    tenant: Tenant,
    pk: Any,
    etag: Callable[[Any], str] = etag_of,
) -> Iterator[None]:
    """Run the body in one transaction, after locking the row and checking `If-Match`.

    `spec` None locks the tenant row itself (the tenant's own settings). `etag` computes
    the locked row's ETag, for a resource whose ETag covers more than that row.
    """
    wanted = request.headers.get("If-Match")
    with transaction.atomic():
        row = _lock(spec, tenant, pk)
        if wanted is not None and wanted.strip() != "*":
            tags = {tag.strip().removeprefix("W/") for tag in wanted.split(",")}
            if etag(row) not in tags:
                raise ApiError(
                    412,
                    "The object changed since it was read: read it again (ETag), then retry.",
                    code="precondition_failed",
                )
        yield


def _lock(spec: RowSpec[Any] | None, tenant: Tenant, pk: Any) -> models.Model:
    if spec is None:
        tenant.refresh_from_db(from_queryset=Tenant.objects.select_for_update())
        return tenant
    row: models.Model = row_locked(spec, tenant=tenant, pk=pk)
    return row


def idempotent(
    request: HttpRequest, body: Any, create: Callable[[], tuple[int, Any]]
) -> tuple[int, Any]:
    """Run `create` once per `Idempotency-Key` (see the module docstring)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return create()
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise ApiError(
            400, f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
            code="invalid_idempotency_key",
        )  # fmt: skip

    def produce() -> tuple[int, Any]:
        status, answer = create()
        # Kept as JSON: the replay answers exactly what the first call answered.
        return status, json.loads(json.dumps(answer, cls=DjangoJSONEncoder))

    return idempotent_call(
        tenant=request_tenant(request),
        key=key,
        operation=f"{request.method} {request.path}",
        request_hash=idempotency_hash(body),
        produce=produce,
    )
