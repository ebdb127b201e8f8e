from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models

from tenants.encryption import EncryptedField
from tenants.exceptions import RejectionReason
from tenants.key_format import key_display
from tenants.models.base import TenantOwnedModel
from tenants.models.tenancy import Tenant


class ApiKey(TenantOwnedModel):
    """A tenant's API key. Only its hash is stored; the key is shown once, at creation."""

    class Scope(models.TextChoices):
        CHAT = "chat"
        MANAGEMENT_READ = "management:read"
        MANAGEMENT_WRITE = "management:write"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    # The random, non-secret start of the key: finds the row, shown in listings. Not unique:
    # authentication compares the hash of every row that shares it.
    lookup_id = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.display})"

    @property
    def display(self) -> str:
        return key_display(self.lookup_id)

    def refusal(self, *, scope: str, now: datetime) -> RejectionReason | None:
        """Return why this key may not be used for `scope` at `now`, or None if it may."""
        if self.revoked_at is not None:
            return RejectionReason.REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return RejectionReason.EXPIRED
        if scope not in self.scopes:
            return RejectionReason.SCOPE
        return None


class ProviderCredential(TenantOwnedModel):
    """How a tenant reaches its model provider. The key is encrypted and never shown again."""

    class Kind(models.TextChoices):
        OPENAI = "openai", "OpenAI"
        OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible"

    class Api(models.TextChoices):
        RESPONSES = "responses", "Responses API"
        CHAT_COMPLETIONS = "chat_completions", "Chat Completions API"

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="provider_credentials"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    base_url = models.URLField(blank=True)
    api = models.CharField(max_length=30, choices=Api.choices, default=Api.RESPONSES)
    secret = EncryptedField()
    secret_hint = models.CharField(max_length=20, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"], name="provider_credential_unique_name"
            ),
            models.CheckConstraint(
                condition=models.Q(kind="openai") | ~models.Q(base_url=""),
                name="provider_credential_compatible_has_base_url",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()}, {self.secret_hint})"
