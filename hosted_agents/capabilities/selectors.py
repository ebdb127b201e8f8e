"""Tenant-scoped reads of agent capabilities."""

from __future__ import annotations

import json

from django.db.models import QuerySet

from hosted_agents.exceptions import ObjectNotFound
from hosted_agents.models import AgentCapabilities, McpServer
from tenants.encryption import decrypt
from tenants.models import Tenant

__all__ = [
    "agent_capabilities_get",
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
