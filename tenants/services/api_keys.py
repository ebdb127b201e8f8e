from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tenants.actors import SYSTEM, Actor
from tenants.exceptions import ApiKeyRejected, InvalidInput, ObjectNotFound, RejectionReason
from tenants.key_format import key_generate, key_hash, key_lookup_id
from tenants.models import ApiKey, Tenant
from tenants.services.audit import audit_event_record
from tenants.services.common import fields_check_length

# last_used_at/last_used_ip are written at most this often per key.
LAST_USED_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True)
class IssuedApiKey:
    """A new key: `raw` is shown to the caller once and stored nowhere."""

    api_key: ApiKey
    raw: str


def _summary(api_key: ApiKey) -> dict[str, Any]:
    return {
        "name": api_key.name,
        "key": api_key.display,
        "scopes": list(api_key.scopes),
        "expires_at": api_key.expires_at.isoformat() if api_key.expires_at else None,
        "revoked_at": api_key.revoked_at.isoformat() if api_key.revoked_at else None,
    }


@transaction.atomic
def api_key_create(
    *,
    tenant: Tenant,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
    actor: Actor = SYSTEM,
) -> IssuedApiKey:
    """Create a key for `tenant`; a tenant may hold several live keys, to rotate them."""
    if not name.strip():
        raise InvalidInput("name", "must not be empty")
    if not scopes or not set(scopes) <= set(ApiKey.Scope.values):
        raise InvalidInput("scopes", f"choose from {', '.join(ApiKey.Scope.values)}")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput("expires_at", "must be in the future")
    new = key_generate()
    api_key = ApiKey(
        tenant=tenant,
        name=name.strip(),
        lookup_id=new.lookup_id,
        key_hash=new.key_hash,
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
        created_by=actor.user,
    )
    fields_check_length(api_key)
    api_key.save()
    audit_event_record(
        tenant=tenant,
        actor=actor,
        action="api_key.create",
        target=api_key,
        after=_summary(api_key),
    )
    return IssuedApiKey(api_key=api_key, raw=new.raw)


@transaction.atomic
def api_key_revoke(
    *,
    tenant: Tenant,
    key_id: int,
    actor: Actor = SYSTEM,
) -> ApiKey:
    """Revoke a key at once; revoking a revoked key changes nothing."""
    api_key = ApiKey.objects.for_tenant(tenant).select_for_update().filter(pk=key_id).first()
    if api_key is None:
        raise ObjectNotFound("API key", key_id)
    if api_key.revoked_at is not None:
        return api_key
    before = _summary(api_key)
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    audit_event_record(
        tenant=tenant,
        actor=actor,
        action="api_key.revoke",
        target=api_key,
        before=before,
        after=_summary(api_key),
    )
    return api_key


def api_key_authenticate(*, raw_key: str, required_scope: str, ip: str | None = None) -> ApiKey:
    """Return the usable key (its tenant loaded) for `raw_key`, or raise `ApiKeyRejected`.

    A key of the wrong shape or checksum is refused before any query. Sync; from async code
    call it through `database_sync_to_async`.
    """
    if required_scope not in ApiKey.Scope.values:
        raise ValueError(f"unknown scope {required_scope!r}")
    lookup_id = key_lookup_id(raw_key)
    if lookup_id is None:
        raise ApiKeyRejected(RejectionReason.MALFORMED)
    presented = key_hash(raw_key)
    # The key decides the tenant, so this one lookup is unscoped (see tenants/scoping.py).
    candidates = ApiKey.unscoped.select_related("tenant").filter(lookup_id=lookup_id)
    api_key = next((c for c in candidates if hmac.compare_digest(c.key_hash, presented)), None)
    if api_key is None:
        raise ApiKeyRejected(RejectionReason.UNKNOWN)
    now = timezone.now()
    reason = api_key.refusal(scope=required_scope, now=now)
    if reason is None and not api_key.tenant.is_active:
        reason = RejectionReason.TENANT_SUSPENDED
    if reason is not None:
        raise ApiKeyRejected(reason)
    _api_key_touch(api_key=api_key, now=now, ip=ip)
    return api_key


def _api_key_touch(*, api_key: ApiKey, now: datetime, ip: str | None) -> None:
    stale = now - LAST_USED_INTERVAL
    if api_key.last_used_at is not None and api_key.last_used_at >= stale:
        return
    # Conditional, so that of many concurrent requests only the first one writes.
    written = (
        ApiKey.objects.for_tenant(api_key.tenant_id)
        .filter(pk=api_key.pk)
        .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale))
        .update(last_used_at=now, last_used_ip=ip)
    )
    if written:
        api_key.last_used_at, api_key.last_used_ip = now, ip
