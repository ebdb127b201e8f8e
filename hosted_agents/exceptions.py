"""Exceptions of the hosted_agents app.

    TenancyError (tenants.exceptions)  shared with the tenants app, so one handler maps both
    ├── ObjectNotFound                 no such agent, version or tool in this tenant
    ├── AlreadyExists                  an agent slug or tool name is taken
    ├── InvalidInput                   a value the edge should have refused (field, message)
    └── CredentialMismatch             a valid credential used on another tenant's or agent's
                                       endpoint (hosted_agents.chat_access)

    HostedAgentsError                  a rule of this app was broken
    ├── UnknownToolError               no code tool is registered under that name (LookupError)
    ├── AgentNotPublished              the agent has no published version to serve
    ├── TenantInactive                 the tenant is suspended
    ├── QuotaExhausted                 the tenant used its monthly token quota
    └── AgentMisconfigured             a published version names something that is gone

    ImmutableVersionError              not a domain error but a bug: an AgentVersion was
                                       saved a second time

The runtime turns each `HostedAgentsError` into a ChatKit `error` event with a message for
the end user; the management API answers them as 4xx.
"""

from __future__ import annotations

from tenants.exceptions import AlreadyExists, InvalidInput, ObjectNotFound, TenancyError

__all__ = [
    "AgentMisconfigured",
    "AgentNotPublished",
    "AlreadyExists",
    "CredentialMismatch",
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

    def __init__(self, what: str) -> None:
        super().__init__(f"this credential is not valid for this {what}")
        self.what = what


class HostedAgentsError(Exception):
    """Base class of the domain errors of the hosted_agents app."""


class UnknownToolError(HostedAgentsError, LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no code tool is registered as {name!r}")
        self.name = name


class AgentNotPublished(HostedAgentsError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"agent {slug} has no published version")
        self.slug = slug


class TenantInactive(HostedAgentsError):
    pass


class QuotaExhausted(HostedAgentsError):
    def __init__(self, used: int, quota: int) -> None:
        super().__init__(f"monthly token quota used: {used} of {quota}")
        self.used = used
        self.quota = quota


class AgentMisconfigured(HostedAgentsError):
    """The published version refers to a credential or tool that no longer exists."""


class ImmutableVersionError(RuntimeError):
    """An agent version was changed after it was saved: a bug, never a user error."""
