"""Exceptions raised by the tenancy services, selectors and store.

    TenancyError                    a rule only the service knows was broken
    ├── ObjectNotFound              no such row in this tenant (another tenant's row looks the same)
    ├── AlreadyExists               a unique name or slug is taken
    ├── InvalidInput                a value the edge should have refused (field, message)
    ├── ApiKeyRejected              the key cannot be used; `reason` is for logs only
    └── ClientSecretRejected        the ChatKit client secret cannot be used (same rule)

    TenantScopeError                not domain errors but bugs: a tenant-owned model was
    AppendOnlyError                 queried without `.for_tenant(tenant)`; an audit event
                                    was changed or deleted

Handlers map each `TenancyError` to one answer. `ApiKeyRejected` is answered the same way
whatever its reason (401, "invalid API key"), so a caller cannot learn whether a key exists,
was revoked or expired. `ClientSecretRejected` likewise, for a session's client secret.
"""

from __future__ import annotations

from enum import StrEnum


class TenancyError(Exception):
    """Base class of the domain errors of the tenants app."""


class ObjectNotFound(TenancyError):
    def __init__(self, entity: str, identifier: object) -> None:
        super().__init__(f"{entity} {identifier!s} not found")
        self.entity = entity
        self.identifier = identifier


class AlreadyExists(TenancyError):
    def __init__(self, entity: str, identifier: object) -> None:
        super().__init__(f"{entity} {identifier!s} already exists")
        self.entity = entity
        self.identifier = identifier


class InvalidInput(TenancyError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class RejectionReason(StrEnum):
    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    SCOPE = "missing_scope"
    TENANT_SUSPENDED = "tenant_suspended"


class ApiKeyRejected(TenancyError):
    """The presented API key cannot be used. Answer every reason identically."""

    def __init__(self, reason: RejectionReason) -> None:
        super().__init__(f"API key rejected ({reason})")
        self.reason = reason


class ClientSecretRejected(TenancyError):
    """The presented client secret cannot be used. Answer every reason identically."""

    def __init__(self, reason: RejectionReason) -> None:
        super().__init__(f"client secret rejected ({reason})")
        self.reason = reason


class TenantScopeError(RuntimeError):
    """A tenant-owned model was queried without a tenant: a bug, never a user error."""


class AppendOnlyError(RuntimeError):
    """An audit event was changed or deleted: a bug, never a user error."""
