"""Idempotent creates: the first answer to a key is kept and given again to its repeats."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from tenants.exceptions import ErrorKind, TenancyError
from tenants.models import IdempotencyKey, Tenant

__all__ = ["IdempotencyKeyReused", "idempotency_hash", "idempotent_call"]

Answer = tuple[int, Any]


class IdempotencyKeyReused(TenancyError):
    """The key was already used for another body: a conflict, never a second create."""

    kind = ErrorKind.CONFLICT
    code = "idempotency_key_reused"

    def __init__(self, key: str) -> None:
        super().__init__(f"Idempotency-Key {key!r} was already used with another request body.")
        self.key = key


def idempotency_hash(body: Any) -> str:
    """Return the fingerprint of a request body (key order does not matter).

    Keyed with SECRET_KEY: a body may hold a secret (a provider key, a header value), and a
    plain digest of a short secret could be reversed by trying candidates.
    """
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def _replay(row: IdempotencyKey, request_hash: str) -> Answer:
    if row.request_hash != request_hash:
        raise IdempotencyKeyReused(row.key)
    return row.status, row.body


@transaction.atomic
def idempotent_call(
    *,
    tenant: Tenant,
    key: str,
    operation: str,
    request_hash: str,
    produce: Callable[[], Answer],
) -> Answer:
    """Return the first answer given to (`operation`, `key`), or produce it and keep it.

    `produce` runs in this transaction: a create that fails keeps nothing and may be
    retried with the same key. The body kept must hold no secret. Concurrent first calls
    with one key: the unique constraint lets one insert; the other's transaction (and its
    create) rolls back, and it answers a conflict rather than a second object.
    """
    rows = IdempotencyKey.objects.for_tenant(tenant).filter(operation=operation, key=key)
    found = rows.select_for_update().first()
    if found is not None:
        return _replay(found, request_hash)
    status, body = produce()
    try:
        with transaction.atomic():
            IdempotencyKey(
                tenant=tenant, key=key, operation=operation,
                request_hash=request_hash, status=status, body=body,
            ).save(force_insert=True)  # fmt: skip
    except IntegrityError:
        raise IdempotencyKeyReused(key) from None
    return status, body
