"""Tools a tenant admin defines: HTTP tools (called by the platform) and client tools
(run by the ChatKit client). Code tools live in Python; see hosted_agents/tools/registry.py.
"""

from __future__ import annotations

import re

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from tenants.encryption import EncryptedField
from tenants.models import Tenant, TenantOwnedModel

__all__ = ["TOOL_NAME_PATTERN", "ClientTool", "HttpTool"]

# What the OpenAI tools API accepts as a function name.
TOOL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

MAX_HTTP_TIME_LIMIT_SECONDS = 60.0
MAX_HTTP_RESPONSE_BYTES = 1024 * 1024


class HttpTool(TenantOwnedModel):
    """An HTTP request the model may make: `{placeholders}` in the URL come from arguments.

    Header values may hold secrets (API keys), so all of them are kept encrypted as one JSON
    object in `headers_encrypted`, decrypted only when the tool is called; `header_hints`
    keeps each header's name and a masked hint for display.
    """

    class Method(models.TextChoices):
        GET = "GET"
        POST = "POST"
        PUT = "PUT"
        PATCH = "PATCH"
        DELETE = "DELETE"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="http_tools")
    name = models.CharField(max_length=64)
    description = models.TextField()
    method = models.CharField(max_length=10, choices=Method.choices, default=Method.GET)
    url_template = models.CharField(max_length=2000)
    headers_encrypted = EncryptedField(blank=True, default="")
    header_hints = models.JSONField(default=dict, blank=True)  # {"Authorization": "Bea...1234"}
    args_schema = models.JSONField(default=dict, blank=True)  # JSON schema of the arguments
    time_limit_seconds = models.FloatField(
        default=10.0,
        validators=[MinValueValidator(0.5), MaxValueValidator(MAX_HTTP_TIME_LIMIT_SECONDS)],
    )
    max_response_bytes = models.PositiveIntegerField(
        default=64 * 1024,
        validators=[MinValueValidator(256), MaxValueValidator(MAX_HTTP_RESPONSE_BYTES)],
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "HTTP tool"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="http_tool_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class ClientTool(TenantOwnedModel):
    """A tool the ChatKit client runs: calling it ends the turn with a pending tool call."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="client_tools")
    name = models.CharField(max_length=64)
    description = models.TextField()
    args_schema = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="client_tool_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name
