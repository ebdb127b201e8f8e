from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction

from tenants.actors import SYSTEM, Actor
from tenants.encryption import encrypt, mask_secret
from tenants.exceptions import AlreadyExists, InvalidInput, ObjectNotFound
from tenants.models import ProviderCredential, Tenant
from tenants.services.audit import audit_event_record

Kind = ProviderCredential.Kind


def _summary(credential: ProviderCredential) -> dict[str, Any]:
    # Never the secret, not even encrypted: its hint is enough to tell keys apart.
    return {
        "name": credential.name,
        "kind": credential.kind,
        "base_url": credential.base_url,
        "api": credential.api,
        "secret_hint": credential.secret_hint,
    }


def _check(credential: ProviderCredential) -> None:
    if not credential.name.strip():
        raise InvalidInput("name", "must not be empty")
    if credential.kind not in Kind.values:
        raise InvalidInput("kind", f"must be one of {', '.join(Kind.values)}")
    if credential.api not in ProviderCredential.Api.values:
        raise InvalidInput("api", f"must be one of {', '.join(ProviderCredential.Api.values)}")
    if credential.kind == Kind.OPENAI and credential.base_url:
        raise InvalidInput("base_url", "OpenAI credentials use the official endpoint")
    if credential.kind == Kind.OPENAI_COMPATIBLE:
        parts = urlsplit(credential.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput("base_url", "must be an http(s) URL")


def _save(credential: ProviderCredential, **options: Any) -> None:
    """Save, turning a taken name into `AlreadyExists`.

    The unique constraint decides, also between two concurrent writers (a check before the
    save would let both pass); the savepoint keeps the caller's transaction usable.
    """
    try:
        with transaction.atomic():
            credential.save(**options)
    except IntegrityError:
        raise AlreadyExists("provider credential", credential.name) from None


def _set_secret(credential: ProviderCredential, secret: str) -> None:
    secret = secret.strip()
    if not secret:
        raise InvalidInput("secret", "must not be empty")
    credential.secret = encrypt(secret)
    credential.secret_hint = mask_secret(secret)


@transaction.atomic
def provider_credential_create(
    *,
    tenant: Tenant,
    name: str,
    kind: str,
    secret: str,
    base_url: str = "",
    api: str = ProviderCredential.Api.RESPONSES,
    actor: Actor = SYSTEM,
) -> ProviderCredential:
    """Store a provider key, encrypted; only its masked hint can be shown afterwards."""
    credential = ProviderCredential(
        tenant=tenant, name=name.strip(), kind=kind, base_url=base_url.strip(), api=api
    )
    _check(credential)
    _set_secret(credential, secret)
    _save(credential, force_insert=True)
    audit_event_record(
        tenant=tenant,
        actor=actor,
        action="provider_credential.create",
        target=credential,
        after=_summary(credential),
    )
    return credential


@transaction.atomic
def provider_credential_update(
    *,
    tenant: Tenant,
    credential_id: int,
    changes: dict[str, str],
    actor: Actor = SYSTEM,
) -> ProviderCredential:
    """Change name, base_url, api or secret; an empty or missing secret keeps the old one."""
    credential = (
        ProviderCredential.objects.for_tenant(tenant).select_for_update().filter(pk=credential_id)
    ).first()
    if credential is None:
        raise ObjectNotFound("provider credential", credential_id)
    unknown = set(changes) - {"name", "base_url", "api", "secret"}
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "cannot be changed")
    before = _summary(credential)
    fields = ["updated_at"]
    for field in ("name", "base_url", "api"):
        if field in changes:
            setattr(credential, field, changes[field].strip())
            fields.append(field)
    _check(credential)
    if changes.get("secret", "").strip():
        _set_secret(credential, changes["secret"])
        fields += ["secret", "secret_hint"]
    _save(credential, update_fields=fields)
    audit_event_record(
        tenant=tenant,
        actor=actor,
        action="provider_credential.update",
        target=credential,
        before=before,
        after=_summary(credential),
    )
    return credential


@transaction.atomic
def provider_credential_delete(
    *,
    tenant: Tenant,
    credential_id: int,
    actor: Actor = SYSTEM,
) -> None:
    credential = ProviderCredential.objects.for_tenant(tenant).filter(pk=credential_id).first()
    if credential is None:
        raise ObjectNotFound("provider credential", credential_id)
    audit_event_record(
        tenant=tenant,
        actor=actor,
        action="provider_credential.delete",
        target=credential,
        before=_summary(credential),
    )
    credential.delete()
