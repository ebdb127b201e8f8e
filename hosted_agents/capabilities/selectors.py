"""Tenant-scoped reads of agent capabilities."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from hosted_agents.capabilities.freeze import CAPABILITY_FIELDS
from hosted_agents.exceptions import ObjectNotFound
from hosted_agents.models import Agent, AgentCapabilities, McpServer
from tenants.encryption import decrypt
from tenants.models import Tenant

__all__ = [
    "agent_capabilities_get",
    "agent_capabilities_read",
    "agent_ids_by_slug",
    "mcp_server_get",
    "mcp_server_headers",
    "mcp_server_list",
]


def mcp_server_list(*, tenant: Tenant) -> QuerySet[McpServer]:
    return McpServer.objects.for_tenant(tenant).order_by("name")


def mcp_server_get(*, tenant: Tenant | int, server_id: int) -> McpServer:
    server = McpServer.objects.for_tenant(tenant).filter(pk=server_id).first()
    if server is None:
        raise ObjectNotFound("MCP server", server_id)
    return server


def mcp_server_headers(*, tenant: Tenant | int, server_id: int) -> dict[str, str]:
    """Return the server's decrypted headers, for the outgoing requests only; never display."""
    server = mcp_server_get(tenant=tenant, server_id=server_id)
    if not server.headers_encrypted:
        return {}
    headers: dict[str, str] = json.loads(decrypt(server.headers_encrypted))
    return headers


def agent_capabilities_get(*, tenant: Tenant, agent_id: int) -> AgentCapabilities | None:
    """Return the capabilities row of an agent's draft, or None when it has none."""
    return AgentCapabilities.objects.for_tenant(tenant).filter(agent_id=agent_id).first()


def agent_capabilities_read(
    *, tenant: Tenant, agent: Agent
) -> tuple[dict[str, Any], datetime | None]:
    """Return an agent's draft capabilities (empty ones when it has none) and when they last
    changed; each handoff also names its target's `slug`."""
    row = agent_capabilities_get(tenant=tenant, agent_id=agent.pk)
    values = {field: getattr(row or AgentCapabilities(), field) for field in CAPABILITY_FIELDS}
    targets = [entry["agent_id"] for entry in values["handoffs"]]
    slugs = dict(
        Agent.objects.for_tenant(tenant).filter(pk__in=targets).values_list("pk", "slug")
    ) if targets else {}  # fmt: skip
    # Deleting an agent drops it from every draft; a target gone all the same is left out.
    values["handoffs"] = [
        {**entry, "slug": slugs[entry["agent_id"]]}
        for entry in values["handoffs"]
        if entry["agent_id"] in slugs
    ]
    return values, row.updated_at if row is not None else None


def agent_ids_by_slug(*, tenant: Tenant, slugs: list[str]) -> dict[str, int]:
    """Return the ids of the tenant's agents among `slugs` (another tenant's are absent)."""
    if not slugs:
        return {}
    rows = Agent.objects.for_tenant(tenant).filter(slug__in=slugs).values_list("slug", "pk")
    return dict(rows)
