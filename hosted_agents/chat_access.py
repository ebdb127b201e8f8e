"""One way into a chat turn: who is asking, for which tenant and agent.

`chat_context_build` turns (tenant slug, agent slug, end user, credential) into the run's
`RequestContext`, with the agent's served version loaded, in one SQL statement for every
credential (joins, never a second query): the ChatKit endpoint calls it on every request
and `manage.py chat` once per turn. Nothing about a credential's validity is cached, so a
revoked key stops working on its next request.

Credentials:

* `ApiKeyCredential`: a tenant's API key with the `chat` scope (server to server); the end
  user comes from the caller. The key decides the tenant, so the path's tenant must be the
  key's (`CredentialMismatch` otherwise).
* `ClientSecretCredential`: a client session's secret (minted by the sessions API for one
  end user of one agent): the session decides the tenant, agent, end user, pinned version,
  rate limit and ChatKit configuration, and the path must name its tenant and agent.
* `OperatorCredential`: the operator at the terminal (`manage.py chat`), trusted as is.

Failures raise `tenants.exceptions.ApiKeyRejected` / `ClientSecretRejected` (the credential
cannot be used, whatever the reason), `CredentialMismatch` (a good credential for another
tenant or agent) or `ObjectNotFound` (no such agent in the key's tenant, or no such tenant
for the operator).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from hosted_agents.exceptions import CredentialMismatch, ObjectNotFound
from hosted_agents.models import Agent, AgentVersion
from hosted_agents.runtime import RequestContext
from tenants.exceptions import (
    ApiKeyRejected,
    ClientSecretRejected,
    RejectionReason,
)
from tenants.key_format import CLIENT_SECRET_PREFIX, key_hash, key_lookup_id
from tenants.models import ApiKey, ClientSession
from tenants.prepared import PreparedQuery
from tenants.services.api_keys import api_key_authenticate, api_key_touch

__all__ = [
    "ApiKeyCredential",
    "ChatAccess",
    "ClientSecretCredential",
    "CredentialMismatch",
    "OperatorCredential",
    "chat_context_build",
]


@dataclass(frozen=True)
class ApiKeyCredential:
    raw: str
    ip: str | None = None


@dataclass(frozen=True)
class ClientSecretCredential:
    raw: str
    ip: str | None = None


@dataclass(frozen=True)
class OperatorCredential:
    """The operator at the terminal: no key, full trust within the named tenant."""


Credential = ApiKeyCredential | ClientSecretCredential | OperatorCredential


@dataclass(frozen=True)
class ChatAccess:
    """A built context and what the endpoint needs beside it (limits keys, version)."""

    context: RequestContext
    version: AgentVersion | None
    # Identifies the credential for per-credential rate limits, e.g. "key:7".
    credential_key: str
    # Requests per minute allowed to this credential (None: no limit of its own).
    credential_rpm: int | None = None


_KEY_FIELDS = {
    "key_pk": F("tenant__api_keys__id"),
    "key_hash": F("tenant__api_keys__key_hash"),
    "key_scopes": F("tenant__api_keys__scopes"),
    "key_expires_at": F("tenant__api_keys__expires_at"),
    "key_revoked_at": F("tenant__api_keys__revoked_at"),
    "key_last_used_at": F("tenant__api_keys__last_used_at"),
}


def chat_context_build(
    *, tenant_slug: str, agent_slug: str, end_user_id: str, credential: Credential
) -> ChatAccess:
    """Return the context of a turn by `end_user_id` with the agent (sync; one statement)."""
    if isinstance(credential, OperatorCredential):
        return _operator_access(tenant_slug, agent_slug, end_user_id)
    if isinstance(credential, ClientSecretCredential):
        return _client_secret_access(tenant_slug, agent_slug, credential)
    return _api_key_access(tenant_slug, agent_slug, end_user_id, credential)


def _agents(tenant_slug: str, agent_slug: str) -> Any:
    # Unscoped on purpose: the credential (or the operator) decides the tenant, and the
    # filter on the tenant's slug is part of this one statement (see tenants/scoping.py).
    return Agent.unscoped.filter(tenant__slug=tenant_slug, slug=agent_slug).select_related(
        "tenant", "published_version"
    )


def _served_version(agent: Agent) -> AgentVersion | None:
    version = agent.published_version
    # Reached through a forward relation: make sure it is this tenant's own row.
    if version is not None and version.tenant_id != agent.tenant_id:
        return None
    return version


def _operator_access(tenant_slug: str, agent_slug: str, end_user_id: str) -> ChatAccess:
    agent = _agents(tenant_slug, agent_slug).first()
    if agent is None:
        raise ObjectNotFound("agent", f"{tenant_slug}/{agent_slug}")
    version = _served_version(agent)
    context = RequestContext(
        tenant=agent.tenant, agent=agent, end_user_id=end_user_id, published_version=version
    )
    return ChatAccess(context, version, credential_key="operator")


def _api_key_access(
    tenant_slug: str, agent_slug: str, end_user_id: str, credential: ApiKeyCredential
) -> ChatAccess:
    lookup_id = key_lookup_id(credential.raw)
    if lookup_id is None:
        raise ApiKeyRejected(RejectionReason.MALFORMED)
    presented = key_hash(credential.raw)
    # One statement: the agent, its tenant and published version, and every key of that
    # tenant sharing the lookup id (usually one), whose hash is then compared in constant
    # time. The annotations reuse the join of the filter, so each row is one key.
    rows = _API_KEY_ROWS.objects(
        tenant_slug=tenant_slug, agent_slug=agent_slug, lookup_id=lookup_id
    )
    agent = next((row for row in rows if hmac.compare_digest(row.key_hash, presented)), None)
    if agent is None:
        _explain_refusal(tenant_slug, credential)
        raise ObjectNotFound("agent", agent_slug)
    key = ApiKey(
        pk=agent.key_pk,
        tenant=agent.tenant,
        lookup_id=lookup_id,
        key_hash=agent.key_hash,
        scopes=agent.key_scopes,
        expires_at=agent.key_expires_at,
        revoked_at=agent.key_revoked_at,
        last_used_at=agent.key_last_used_at,
    )
    now = timezone.now()
    reason = key.refusal(scope=ApiKey.Scope.CHAT, now=now)
    if reason is None and not agent.tenant.is_active:
        reason = RejectionReason.TENANT_SUSPENDED
    if reason is not None:
        raise ApiKeyRejected(reason)
    api_key_touch(api_key=key, now=now, ip=credential.ip)
    # Read in this statement with the tenant: the runtime reads none of them again.
    version = _served_version(agent)
    context = RequestContext(
        tenant=agent.tenant,
        agent=agent,
        end_user_id=end_user_id,
        api_key_id=key.pk,
        ip=credential.ip,
        published_version=version,
    )
    return ChatAccess(context, version, credential_key=f"key{key.pk}")


def _explain_refusal(tenant_slug: str, credential: ApiKeyCredential) -> None:
    """Raise why no row matched, when it was the key (the failure path may query more)."""
    api_key = api_key_authenticate(raw_key=credential.raw, required_scope=ApiKey.Scope.CHAT)
    if api_key.tenant.slug != tenant_slug:
        raise CredentialMismatch("workspace")


def _pinned(field: str) -> Subquery:
    versions = AgentVersion.unscoped.filter(
        tenant_id=OuterRef("tenant_id"), agent_id=OuterRef("agent_id"), number=OuterRef("version")
    )
    return Subquery(versions.values(field)[:1])


# The two statements every endpoint request runs, compiled once (tenants/prepared.py): the
# ORM's building and compiling of them cost more than running them.
# Any: the rows carry the key as annotations, which the type of Agent does not know.
_API_KEY_ROWS: PreparedQuery[Any] = PreparedQuery(
    lambda p: (
        _agents(p.tenant_slug, p.agent_slug)
        .filter(tenant__api_keys__lookup_id=p.lookup_id)
        .annotate(**_KEY_FIELDS)
    ),
    tenant_slug=str,
    agent_slug=str,
    lookup_id=str,
)
_CLIENT_SESSION_ROWS: PreparedQuery[ClientSession] = PreparedQuery(
    lambda p: (
        ClientSession.unscoped.filter(lookup_id=p.lookup_id)
        .select_related("tenant", "agent", "agent__published_version")
        .annotate(pinned_pk=_pinned("pk"), pinned_config=_pinned("config"))
    ),
    lookup_id=str,
)


def _client_secret_access(
    tenant_slug: str, agent_slug: str, credential: ClientSecretCredential
) -> ChatAccess:
    """The session, its tenant, agent, published and pinned version, in one statement."""
    lookup_id = key_lookup_id(credential.raw, CLIENT_SECRET_PREFIX)
    if lookup_id is None:
        raise ClientSecretRejected(RejectionReason.MALFORMED)
    presented = key_hash(credential.raw)
    # The secret decides the tenant, so this lookup is unscoped (see tenants/scoping.py);
    # the pinned version, a number rather than a relation, comes in as two subqueries.
    candidates = _CLIENT_SESSION_ROWS.objects(lookup_id=lookup_id)
    session = next((c for c in candidates if hmac.compare_digest(c.secret_hash, presented)), None)
    if session is None:
        raise ClientSecretRejected(RejectionReason.UNKNOWN)
    reason = session.refusal(now=timezone.now())
    if reason is None and not session.tenant.is_active:
        reason = RejectionReason.TENANT_SUSPENDED
    if reason is not None:
        raise ClientSecretRejected(reason)
    if session.tenant.slug != tenant_slug:
        raise CredentialMismatch("workspace")
    agent = session.agent
    if agent.slug != agent_slug:
        raise CredentialMismatch("agent")
    pinned = None if session.version is None else _pinned_version(session)
    published = _served_version(agent) if session.version is None else None
    version = published if session.version is None else pinned
    context = RequestContext(
        tenant=session.tenant,
        agent=agent,
        end_user_id=session.end_user_id,
        ip=credential.ip,
        client_session=session,
        pinned_version=pinned,
        published_version=published,
    )
    return ChatAccess(
        context,
        version,
        credential_key=f"session{session.pk}",
        credential_rpm=session.max_requests_per_1_minute,
    )


def _pinned_version(session: Any) -> AgentVersion | None:
    if session.pinned_pk is None:
        return None  # the sessions API checks the number at mint; versions are never deleted
    version = AgentVersion(
        pk=session.pinned_pk,
        tenant_id=session.tenant_id,
        agent_id=session.agent_id,
        number=session.version,
        config=session.pinned_config,
    )
    version._state.adding = False  # a row read from the database, not a new one
    version._state.db = session._state.db
    return version
