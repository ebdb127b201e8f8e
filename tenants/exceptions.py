"""Domain errors of every app, and the bugs the tenancy layer refuses.

    DomainError                     root: a rule only a service knows was broken; `kind` says
    │                               which of a few answers it gets (see ErrorKind)
    ├── TenancyError                raised by the tenants app
    │   ├── ObjectNotFound          NOT_FOUND: no such row in this tenant (another tenant's row
    │   │                           looks the same)
    │   ├── AlreadyExists           CONFLICT: a unique name or slug is taken
    │   ├── InvalidInput            INVALID: a value the edge should have refused; `field`,
    │   │                           `message` and `field_errors` ({field: [message]})
    │   ├── Forbidden               FORBIDDEN: the caller's role does not allow the action
    │   ├── TenantInactive          FORBIDDEN: the tenant is suspended
    │   ├── LimitExceeded           LIMIT: a quota or rate limit of the tenant is used up
    │   ├── ApiKeyRejected          UNAUTHENTICATED: the key cannot be used; `reason` is for
    │                               logs only
    │   └── ClientSecretRejected    UNAUTHENTICATED: the ChatKit client secret cannot be used
    │                               (same rule)
    └── HostedAgentsError           raised by the hosted_agents app (hosted_agents.exceptions)
        ├── UnknownToolError        NOT_FOUND: no code tool is registered under that name
        ├── AgentNotPublished       NOT_FOUND: the agent has no published version to serve
        ├── QuotaExhausted          LIMIT: the tenant used its monthly token quota
        └── AgentMisconfigured      CONFLICT: a published version names something that is gone

    TenantScopeError                not domain errors but bugs: a tenant-owned model was
    AppendOnlyError                 queried without `.for_tenant(tenant)`; an audit event
                                    was changed or deleted

Each interface maps a `DomainError` by its `kind` in one place (the REST API to a status and
its JSON error shape, the ChatKit endpoint to a protocol error, the admin to a form error,
`manage.py` to a CommandError). `ApiKeyRejected` is answered the same way whatever its
reason (401, "invalid API key"), so a caller cannot learn whether a key exists, was revoked
or expired; `ClientSecretRejected` likewise, for a session's client secret.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ErrorKind(StrEnum):
    """The few answers a domain error can get; the usual HTTP status beside each."""

    NOT_FOUND = "not_found"  # 404, also for another tenant's row
    CONFLICT = "conflict"  # 409
    INVALID = "invalid"  # 400 or 422, with the field errors
    FORBIDDEN = "forbidden"  # 403
    LIMIT = "limit"  # 429
    UNAUTHENTICATED = "unauthenticated"  # 401


class DomainError(Exception):
    """Root of the domain errors of every app; `kind` decides how an interface answers."""

    kind: ClassVar[ErrorKind]


class TenancyError(DomainError):
    """Base class of the domain errors of the tenants app."""

    kind = ErrorKind.INVALID


class ObjectNotFound(TenancyError):
    kind = ErrorKind.NOT_FOUND

    def __init__(self, entity: str, identifier: object) -> None:
        super().__init__(f"{entity} {identifier!s} not found")
        self.entity = entity
        self.identifier = identifier


class AlreadyExists(TenancyError):
    kind = ErrorKind.CONFLICT

    def __init__(self, entity: str, identifier: object) -> None:
        super().__init__(f"{entity} {identifier!s} already exists")
        self.entity = entity
        self.identifier = identifier


class InvalidInput(TenancyError):
    kind = ErrorKind.INVALID

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    @property
    def field_errors(self) -> dict[str, list[str]]:
        """Return the errors by field, the shape forms and the REST API answer with."""
        return {self.field: [self.message]}


class Forbidden(TenancyError):
    """The caller's role in the tenant does not allow `action` (like "agent.publish")."""

    kind = ErrorKind.FORBIDDEN

    def __init__(self, action: str, role: str = "") -> None:
        super().__init__(f"{role or 'this caller'} may not {action}")
        self.action = action
        self.role = role


class TenantInactive(TenancyError):
    """The tenant is suspended: nothing of it runs until it is reactivated."""

    kind = ErrorKind.FORBIDDEN


class LimitExceeded(TenancyError):
    """A quota or rate limit of the tenant (`limit`, like "requests_per_minute") is used up."""

    kind = ErrorKind.LIMIT

    def __init__(self, limit: str, message: str = "") -> None:
        super().__init__(message or f"{limit} reached")
        self.limit = limit


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

    kind = ErrorKind.UNAUTHENTICATED

    def __init__(self, reason: RejectionReason) -> None:
        super().__init__(f"API key rejected ({reason})")
        self.reason = reason


class ClientSecretRejected(TenancyError):
    """The presented client secret cannot be used. Answer every reason identically."""

    kind = ErrorKind.UNAUTHENTICATED

    def __init__(self, reason: RejectionReason) -> None:
        super().__init__(f"client secret rejected ({reason})")
        self.reason = reason


class TenantScopeError(RuntimeError):
    """A tenant-owned model was queried without a tenant: a bug, never a user error."""


class AppendOnlyError(RuntimeError):
    """An audit event was changed or deleted: a bug, never a user error."""
