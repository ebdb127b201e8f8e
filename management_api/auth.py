"""Authentication of /api/v1/: a tenant API key with a management scope, as Bearer.

GET (and HEAD) needs `management:read`; every other method `management:write`. The rule
for refusals is the sessions API's: a key that cannot be used for the operation, whatever
the reason (unknown, revoked, expired, a chat-only key, a read key that writes), answers
401 `invalid_api_key`, so a caller learns nothing about keys it does not hold.

The key decides the tenant (`request.auth.tenant`), and the key is the audited actor.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from chatkit_endpoints.openai_api.auth import request_actor, request_key, request_tenant
from operations.context import log_context_bind
from tenants.models import ApiKey
from tenants.services import api_key_authenticate

__all__ = ["ManagementKeyAuth", "request_actor", "request_key", "request_tenant", "scope_for"]

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def scope_for(method: str) -> str:
    """Return the scope an operation of `method` needs."""
    if method.upper() in _READS:
        return ApiKey.Scope.MANAGEMENT_READ
    return ApiKey.Scope.MANAGEMENT_WRITE


class ManagementKeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey:
        key = api_key_authenticate(
            raw_key=token,
            required_scope=scope_for(request.method or "GET"),
            ip=request.META.get("REMOTE_ADDR") or None,
        )
        log_context_bind(tenant=key.tenant.slug)
        return key
