"""Authentication of the sessions API: a tenant API key with the chat scope, as Bearer.

The key decides the tenant: operations read it from `request.auth` (the `ApiKey`, its tenant
loaded) and from nowhere else. A refused key raises `ApiKeyRejected`, which errors.py
answers 401 whatever the reason.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from operations.context import log_context_bind
from tenants.actors import Actor
from tenants.models import ApiKey, Tenant
from tenants.services import api_key_authenticate

__all__ = ["ChatKeyAuth", "request_actor", "request_ip", "request_key", "request_tenant"]


def request_ip(request: HttpRequest) -> str | None:
    address = request.META.get("REMOTE_ADDR")
    return str(address) if address else None


class ChatKeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey:
        key = api_key_authenticate(
            raw_key=token, required_scope=ApiKey.Scope.CHAT, ip=request_ip(request)
        )
        log_context_bind(tenant=key.tenant.slug)
        return key


def request_key(request: HttpRequest) -> ApiKey:
    key = request.auth  # type: ignore[attr-defined]  # set by ninja after ChatKeyAuth
    assert isinstance(key, ApiKey)
    return key


def request_tenant(request: HttpRequest) -> Tenant:
    return request_key(request).tenant


def request_actor(request: HttpRequest) -> Actor:
    """Return who acts, for the audit trail: the key, never a user."""
    return Actor.for_api_key(request_key(request), ip=request_ip(request))
