"""Exceptions of the hosted_agents app; the whole tree is drawn in tenants/exceptions.py.

    DomainError (tenants.exceptions)   one root for every app, mapped by its `kind`
    ├── TenancyError                   shared with the tenants app and re-exported here:
    │   ├── ObjectNotFound             no such agent, version or tool in this tenant
    │   ├── AlreadyExists              an agent slug or tool name is taken
    │   ├── InvalidInput               a value the edge should have refused (field, message)
    │   ├── TenantInactive             the tenant is suspended
    │   └── CredentialMismatch         FORBIDDEN: a valid credential used on another tenant's
    │                                  or agent's endpoint (hosted_agents.chat_access)
    └── HostedAgentsError              a rule of this app was broken
        ├── UnknownToolError           NOT_FOUND: no code tool is registered under that name
        │                              (also a LookupError)
        ├── AgentNotPublished          NOT_FOUND: the agent has no published version to serve
        ├── QuotaExhausted             LIMIT: the tenant used its monthly token quota
        ├── AgentMisconfigured         CONFLICT: a published version names something gone
        └── ApprovalDecided            CONFLICT: a paused run's approval was already decided

    ImmutableVersionError              not a domain error but a bug: an AgentVersion was
                                       saved a second time

The runtime turns each refusal into a ChatKit `error` event with a message for the end
user; the management API answers them by `kind`.
"""

from __future__ import annotations

from tenants.exceptions import (
    AlreadyExists,
    DomainError,
    ErrorKind,
    InvalidInput,
    ObjectNotFound,
    TenancyError,
    TenantInactive,
)

__all__ = [
    "AgentMisconfigured",
    "AgentNotPublished",
    "AlreadyExists",
    "ApprovalDecided",
    "CredentialMismatch",
    "DomainError",
    "ErrorKind",
    "HostedAgentsError",
    "ImmutableVersionError",
    "InvalidInput",
    "ObjectNotFound",
    "QuotaExhausted",
    "TenantInactive",
    "UnknownToolError",
]


class CredentialMismatch(TenancyError):
    """A valid credential used on another tenant's (or agent's) endpoint."""

    kind = ErrorKind.FORBIDDEN

    def __init__(self, what: str) -> None:
        super().__init__(f"this credential is not valid for this {what}")
        self.what = what


class HostedAgentsError(DomainError):
    """Base class of the domain errors of the hosted_agents app."""

    kind = ErrorKind.CONFLICT


class UnknownToolError(HostedAgentsError, LookupError):
    kind = ErrorKind.NOT_FOUND

    def __init__(self, name: str) -> None:
        super().__init__(f"no code tool is registered as {name!r}")
        self.name = name


class AgentNotPublished(HostedAgentsError):
    kind = ErrorKind.NOT_FOUND

    def __init__(self, slug: str) -> None:
        super().__init__(f"agent {slug} has no published version")
        self.slug = slug


class QuotaExhausted(HostedAgentsError):
    kind = ErrorKind.LIMIT

    def __init__(self, used: int, quota: int) -> None:
        super().__init__(f"monthly token quota used: {used} of {quota}")
        self.used = used
        self.quota = quota


class AgentMisconfigured(HostedAgentsError):
    """The published version refers to a credential or tool that no longer exists."""

    kind = ErrorKind.CONFLICT


class ApprovalDecided(HostedAgentsError):
    """An approval was approved or rejected before: a run resumes once."""

    kind = ErrorKind.CONFLICT

    def __init__(self, approval_id: str, status: str) -> None:
        super().__init__(f"approval {approval_id} is already {status}")
        self.approval_id = approval_id
        self.status = status


class ImmutableVersionError(RuntimeError):
    """An agent version was changed after it was saved: a bug, never a user error."""
