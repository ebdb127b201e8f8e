from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction

# The address policy of outbound HTTP is one module, pure Python, shared by every client.
from hosted_agents.http_fetch import FetchError, url_target_check
from tenants.actors import SYSTEM, Actor
from tenants.encryption import encrypt, mask_secret
from tenants.exceptions import InvalidInput
from tenants.models import ProviderCredential, Tenant
from tenants.services.common import RowSpec, row_create, row_delete, row_update

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


def provider_credential_check(credential: ProviderCredential) -> None:
    """Raise `InvalidInput` unless the credential is valid (before its secret is set).

    An OpenAI-compatible base URL must pass the HTTP tools' address policy: the tenant's key
    goes there (checked again at every connection, see hosted_agents/providers.py).
    """
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
        _check_target(credential.base_url)


def _check_target(base_url: str) -> None:
    try:
        url_target_check(base_url, allow_private=settings.CHATKIT_ALLOW_PRIVATE_NETWORK)
    except FetchError as error:
        if error.reason == "forbidden_address":
            raise InvalidInput(
                "base_url", f"{error}: this platform does not send keys to private addresses"
            ) from None
        raise InvalidInput("base_url", str(error)) from None


def _set_secret(credential: ProviderCredential, secret: str) -> None:
    secret = secret.strip()
    if not secret:
        raise InvalidInput("secret", "must not be empty")
    credential.secret = encrypt(secret)
    credential.secret_hint = mask_secret(secret)


def _secret_setter(credential: ProviderCredential, secret: Any) -> list[str]:
    # An update with an empty or missing secret keeps the stored one.
    if not str(secret or "").strip():
        return []
    _set_secret(credential, str(secret))
    return ["secret", "secret_hint"]


CREDENTIAL = RowSpec(
    model=ProviderCredential,
    entity="provider credential",
    action="provider_credential",
    fields=frozenset({"name", "base_url", "api", "secret"}),
    summary=_summary,
    check=provider_credential_check,
    unique="name",
    setters={"secret": _secret_setter},
)


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
    provider_credential_check(credential)
    _set_secret(credential, secret)
    return row_create(CREDENTIAL, tenant=tenant, row=credential, actor=actor)


@transaction.atomic
def provider_credential_update(
    *,
    tenant: Tenant,
    credential_id: int,
    changes: dict[str, str],
    actor: Actor = SYSTEM,
) -> ProviderCredential:
    """Change name, base_url, api or secret; an empty or missing secret keeps the old one."""
    return row_update(CREDENTIAL, tenant=tenant, pk=credential_id, changes=changes, actor=actor)


@transaction.atomic
def provider_credential_delete(
    *,
    tenant: Tenant,
    credential_id: int,
    actor: Actor = SYSTEM,
) -> None:
    row_delete(CREDENTIAL, tenant=tenant, pk=credential_id, actor=actor)
