"""ChatKit client sessions: what a tenant's backend mints for one end user of one agent.

The sessions API (chatkit_endpoints/openai_api/) mints a session with an API key and hands
its client secret to the browser, which then talks to the agent's ChatKit endpoint with the
secret alone: the session decides the tenant, agent, end user, pinned version, expiry, rate
limit and ChatKit configuration. Only the secret's hash is stored; it is shown once, at mint.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from django.db import models

from tenants.exceptions import RejectionReason
from tenants.models.base import TenantOwnedModel
from tenants.models.tenancy import Tenant

SESSION_ID_PREFIX = "cksess_"


def session_id_generate() -> str:
    return SESSION_ID_PREFIX + secrets.token_hex(16)


class ClientSession(TenantOwnedModel):
    """One end user's ChatKit session with one agent. Expiry is derived from `expires_at`."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        CANCELLED = "cancelled"
        # Never stored: a session past `expires_at` reads as expired (see `status_at`).
        EXPIRED = "expired"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="client_sessions")
    public_id = models.CharField(max_length=64, default=session_id_generate)
    # As for API keys: the random, non-secret start of the secret finds the row, and every
    # row sharing it has its hash compared (tenants/key_format.py).
    lookup_id = models.CharField(max_length=16, db_index=True)
    secret_hash = models.CharField(max_length=64)
    end_user_id = models.CharField(max_length=200)
    agent = models.ForeignKey(
        "hosted_agents.Agent", on_delete=models.CASCADE, related_name="client_sessions"
    )
    # The `workflow.id` the session was minted with (the agent's slug or workflow id),
    # echoed back as the caller wrote it.
    workflow_ref = models.CharField(max_length=100)
    # A pinned AgentVersion.number; None serves the agent's published version.
    version = models.PositiveIntegerField(null=True, blank=True)
    # The console's playground only: serve the agent's current draft instead of a version
    # (never set by the sessions API). Items it answers record version 0.
    serves_draft = models.BooleanField(default=False)
    state_variables = models.JSONField(default=dict, blank=True)
    tracing_enabled = models.BooleanField(default=True)
    expires_at = models.DateTimeField()
    max_requests_per_1_minute = models.PositiveIntegerField()
    # Every field filled with its effective value, in the shape of OpenAI's
    # chatkit_configuration: automatic_thread_titling, file_upload, history.
    chatkit_configuration = models.JSONField()
    status = models.CharField(
        max_length=20,
        choices=[(Status.ACTIVE, "active"), (Status.CANCELLED, "cancelled")],
        default=Status.ACTIVE,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "public_id"], name="client_session_unique_public_id"
            )
        ]

    def __str__(self) -> str:
        return self.public_id

    def status_at(self, now: datetime) -> str:
        """Return `active`, `cancelled` or `expired` as of `now`."""
        if self.status == self.Status.CANCELLED:
            return self.Status.CANCELLED
        if self.expires_at <= now:
            return self.Status.EXPIRED
        return self.Status.ACTIVE

    def refusal(self, *, now: datetime) -> RejectionReason | None:
        """Return why this session's secret may not be used at `now`, or None if it may."""
        status = self.status_at(now)
        if status == self.Status.CANCELLED:
            return RejectionReason.CANCELLED
        if status == self.Status.EXPIRED:
            return RejectionReason.EXPIRED
        return None

    # --- the effective ChatKit configuration, for the endpoint and the runtime ----------

    def _configuration(self, section: str) -> dict[str, Any]:
        value = self.chatkit_configuration.get(section)
        return value if isinstance(value, dict) else {}

    @property
    def automatic_thread_titling(self) -> bool:
        return bool(self._configuration("automatic_thread_titling").get("enabled", True))

    @property
    def history_enabled(self) -> bool:
        return bool(self._configuration("history").get("enabled", True))

    @property
    def recent_threads(self) -> int | None:
        value = self._configuration("history").get("recent_threads")
        return value if isinstance(value, int) else None

    @property
    def file_upload_enabled(self) -> bool:
        return bool(self._configuration("file_upload").get("enabled", False))

    @property
    def max_file_size_mb(self) -> int | None:
        value = self._configuration("file_upload").get("max_file_size")
        return value if isinstance(value, int) else None

    @property
    def max_files(self) -> int | None:
        value = self._configuration("file_upload").get("max_files")
        return value if isinstance(value, int) else None
