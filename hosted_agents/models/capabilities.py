"""What an agent may use beyond its own tools: remote MCP servers, guardrails, handoffs and
OpenAI's hosted tools. `agent_publish` freezes an agent's `AgentCapabilities`, with the MCP
tools it allows resolved to their definitions, into `config["capabilities"]` of the version
(see hosted_agents/capabilities/freeze.py).
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from tenants.encryption import EncryptedField
from tenants.models import Tenant, TenantOwnedModel

__all__ = ["AgentCapabilities", "McpServer"]

MAX_MCP_TIME_LIMIT_SECONDS = 60.0


class McpServer(TenantOwnedModel):
    """A remote MCP server of the tenant, reached over Streamable HTTP or SSE.

    As for HTTP tools, header values (API keys) are kept encrypted as one JSON object in
    `headers_encrypted` and `header_hints` keeps names and masked hints for display. `tools`
    caches the server's tool list as last fetched (`mcp_server_refresh_tools`); publishing
    an agent freezes the tools it allows from this list into the version.
    """

    class Transport(models.TextChoices):
        STREAMABLE_HTTP = "streamable_http", "Streamable HTTP"
        SSE = "sse", "SSE"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="mcp_servers")
    name = models.CharField(max_length=64)
    url = models.CharField(max_length=2000)
    transport = models.CharField(
        max_length=20, choices=Transport.choices, default=Transport.STREAMABLE_HTTP
    )
    headers_encrypted = EncryptedField(blank=True, default="")
    header_hints = models.JSONField(default=dict, blank=True)
    time_limit_seconds = models.FloatField(
        default=10.0,
        validators=[MinValueValidator(0.5), MaxValueValidator(MAX_MCP_TIME_LIMIT_SECONDS)],
    )
    # [{"name", "description", "input_schema"}], as the server listed them.
    tools = models.JSONField(default=list, blank=True)
    tools_fetched_at = models.DateTimeField(null=True, blank=True)
    tools_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "MCP server"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="mcp_server_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def tool_names(self) -> list[str]:
        return [str(tool.get("name", "")) for tool in self.tools]


class AgentCapabilities(TenantOwnedModel):
    """The capabilities part of an agent's draft, one row per agent (absent: none).

    `mcp_servers`: `[{"server_id": 3, "allowed_tools": ["forecast"],
    "approval_tools": ["book"]}]`; only allowed tools are offered to the model.
    `approval_tools` is kept and frozen for the approval flow, which does not act on it yet.
    """

    # Denormalised from `agent` so that every query filters on the tenant directly.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="agent_capabilities")
    agent = models.ForeignKey("hosted_agents.Agent", on_delete=models.CASCADE, related_name="+")
    mcp_servers = models.JSONField(default=list, blank=True)
    guardrails = models.JSONField(default=dict, blank=True)
    handoffs = models.JSONField(default=list, blank=True)
    hosted_tools = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "agent capabilities"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "agent"], name="agent_capabilities_unique"),
        ]

    def __str__(self) -> str:
        return f"capabilities of agent {self.agent_id}"
