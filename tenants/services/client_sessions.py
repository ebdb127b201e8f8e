"""Minting, cancelling and authenticating ChatKit client sessions.

Defaults follow OpenAI's hosted sessions API, so that code written for it gets the same
session here: 600 seconds, 10 requests per minute, titling on, uploads off (10 files of
512 MB at most), history on with no cap, tracing on.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from tenants.actors import SYSTEM, Actor
from tenants.exceptions import ClientSecretRejected, InvalidInput, ObjectNotFound, RejectionReason
from tenants.key_format import CLIENT_SECRET_PREFIX, key_generate, key_hash, key_lookup_id
from tenants.models import ClientSession, Tenant
from tenants.services.audit import audit_event_record

if TYPE_CHECKING:
    from hosted_agents.models import Agent

DEFAULT_EXPIRES_AFTER_SECONDS = 600
MAX_EXPIRES_AFTER_SECONDS = 24 * 60 * 60
DEFAULT_MAX_REQUESTS_PER_1_MINUTE = 10
MAX_REQUESTS_PER_1_MINUTE = 10_000
MAX_FILE_SIZE_MB = 512
DEFAULT_MAX_FILES = 10
MAX_FILES = 100
MAX_RECENT_THREADS = 10_000
STATE_KEY_MAX_LENGTH = 64
MAX_STATE_VARIABLES = 100
STATE_VALUE_MAX_LENGTH = 10_000

StateValue = str | int | float | bool


@dataclass(frozen=True)
class IssuedClientSession:
    """A new session: `client_secret` is shown to the caller once and stored nowhere."""

    session: ClientSession
    client_secret: str


def _summary(session: ClientSession) -> dict[str, Any]:
    return {
        "id": session.public_id,
        "user": session.end_user_id,
        "agent": session.agent_id,
        "version": session.version,
        "draft": session.serves_draft,
        "expires_at": session.expires_at.isoformat(),
        "status": session.status,
    }


def _check_state_variables(state: Mapping[str, Any]) -> dict[str, StateValue]:
    if len(state) > MAX_STATE_VARIABLES:
        raise InvalidInput("workflow.state_variables", f"at most {MAX_STATE_VARIABLES} variables")
    for key, value in state.items():
        if not isinstance(key, str) or not 0 < len(key) <= STATE_KEY_MAX_LENGTH:
            raise InvalidInput(
                "workflow.state_variables", f"keys are 1 to {STATE_KEY_MAX_LENGTH} characters"
            )
        if not isinstance(value, str | int | float | bool):
            raise InvalidInput(
                f"workflow.state_variables.{key}", "must be a string, a number or a boolean"
            )
        if isinstance(value, str) and len(value) > STATE_VALUE_MAX_LENGTH:
            raise InvalidInput(
                f"workflow.state_variables.{key}", f"at most {STATE_VALUE_MAX_LENGTH} characters"
            )
    return dict(state)


def _bounded(value: Any, low: int, high: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(field, f"must be an integer from {low} to {high}")
    return value


def chatkit_configuration_effective(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Return the whole configuration: `overrides` (OpenAI's shape) over the defaults."""
    titling = overrides.get("automatic_thread_titling") or {}
    upload = overrides.get("file_upload") or {}
    history = overrides.get("history") or {}
    prefix = "chatkit_configuration"
    recent = history.get("recent_threads")
    return {
        "automatic_thread_titling": {"enabled": bool(titling.get("enabled", True))},
        "file_upload": {
            "enabled": bool(upload.get("enabled", False)),
            "max_file_size": _bounded(
                upload.get("max_file_size", MAX_FILE_SIZE_MB),
                1,
                MAX_FILE_SIZE_MB,
                f"{prefix}.file_upload.max_file_size",
            ),
            "max_files": _bounded(
                upload.get("max_files", DEFAULT_MAX_FILES),
                1,
                MAX_FILES,
                f"{prefix}.file_upload.max_files",
            ),
        },
        "history": {
            "enabled": bool(history.get("enabled", True)),
            "recent_threads": None
            if recent is None
            else _bounded(recent, 1, MAX_RECENT_THREADS, f"{prefix}.history.recent_threads"),
        },
    }


def _check_version(agent: Agent, version: int | None) -> None:
    # Imported here: hosted_agents builds on the tenants app, not the other way round.
    from hosted_agents.models import AgentVersion

    if version is None:
        if agent.published_version_id is None:
            raise InvalidInput("workflow.id", "the agent has no published version")
        return
    exists = (
        AgentVersion.objects.for_tenant(agent.tenant_id)
        .filter(agent_id=agent.pk, number=version)
        .exists()
    )
    if not exists:
        raise InvalidInput("workflow.version", f"the agent has no version {version}")


@transaction.atomic
def client_session_create(
    *,
    tenant: Tenant,
    agent: Agent,
    user: str,
    workflow_ref: str,
    version: int | None = None,
    state_variables: Mapping[str, Any] | None = None,
    tracing_enabled: bool = True,
    expires_after_seconds: int = DEFAULT_EXPIRES_AFTER_SECONDS,
    max_requests_per_1_minute: int = DEFAULT_MAX_REQUESTS_PER_1_MINUTE,
    chatkit_configuration: Mapping[str, Any] | None = None,
    serves_draft: bool = False,
    actor: Actor = SYSTEM,
) -> IssuedClientSession:
    """Mint a session of `agent` for the end user `user`; its secret is returned once.

    `serves_draft` (the console's playground) serves the agent's draft as it is at each
    turn, unpublished; it excludes a pinned `version`.
    """
    if agent.tenant_id != tenant.pk:
        raise ObjectNotFound("agent", agent.slug)
    if not user or len(user) > 200:
        raise InvalidInput("user", "must be 1 to 200 characters")
    if serves_draft:
        if version is not None:
            raise InvalidInput("workflow.version", "a session serves a version or the draft")
    else:
        _check_version(agent, version)
    expires_after = _bounded(
        expires_after_seconds, 1, MAX_EXPIRES_AFTER_SECONDS, "expires_after.seconds"
    )
    rate = _bounded(
        max_requests_per_1_minute,
        1,
        MAX_REQUESTS_PER_1_MINUTE,
        "rate_limits.max_requests_per_1_minute",
    )
    new = key_generate(CLIENT_SECRET_PREFIX)
    session = ClientSession(
        tenant=tenant,
        lookup_id=new.lookup_id,
        secret_hash=new.key_hash,
        end_user_id=user,
        agent=agent,
        workflow_ref=workflow_ref,
        version=version,
        serves_draft=serves_draft,
        state_variables=_check_state_variables(state_variables or {}),
        tracing_enabled=tracing_enabled,
        expires_at=timezone.now() + timedelta(seconds=expires_after),
        max_requests_per_1_minute=rate,
        chatkit_configuration=chatkit_configuration_effective(chatkit_configuration or {}),
    )
    session.save()
    audit_event_record(
        tenant=tenant,
        actor=actor,
        action="client_session.create",
        target=session,
        after=_summary(session),
    )
    return IssuedClientSession(session=session, client_secret=new.raw)


@transaction.atomic
def client_session_cancel(
    *,
    tenant: Tenant,
    session_id: str,
    actor: Actor = SYSTEM,
) -> ClientSession:
    """Cancel a session; its secret stops working at once. Cancelling twice changes nothing."""
    session = (
        ClientSession.objects.for_tenant(tenant)
        .select_for_update()
        .filter(public_id=session_id)
        .first()
    )
    if session is None:
        raise ObjectNotFound("session", session_id)
    if session.status == ClientSession.Status.CANCELLED:
        return session
    before = _summary(session)
    session.status = ClientSession.Status.CANCELLED
    session.cancelled_at = timezone.now()
    session.save(update_fields=["status", "cancelled_at"])
    audit_event_record(
        tenant=tenant,
        actor=actor,
        action="client_session.cancel",
        target=session,
        before=before,
        after=_summary(session),
    )
    return session


def client_secret_authenticate(*, raw: str) -> ClientSession:
    """Return the usable session (tenant and agent loaded) for `raw`, or raise.

    Every refusal (malformed, unknown, expired, cancelled, suspended tenant) raises the same
    `ClientSecretRejected`; a secret of the wrong shape or checksum is refused before any
    query, and a well-formed one costs one. Sync; from async code call it through
    `database_sync_to_async`.
    """
    lookup_id = key_lookup_id(raw, CLIENT_SECRET_PREFIX)
    if lookup_id is None:
        raise ClientSecretRejected(RejectionReason.MALFORMED)
    presented = key_hash(raw)
    # The secret decides the tenant, so this one lookup is unscoped (see tenants/scoping.py).
    candidates = ClientSession.unscoped.select_related("tenant", "agent").filter(
        lookup_id=lookup_id
    )
    session = next((c for c in candidates if hmac.compare_digest(c.secret_hash, presented)), None)
    if session is None:
        raise ClientSecretRejected(RejectionReason.UNKNOWN)
    reason = session.refusal(now=timezone.now())
    if reason is None and not session.tenant.is_active:
        reason = RejectionReason.TENANT_SUSPENDED
    if reason is not None:
        raise ClientSecretRejected(reason)
    return session
