"""State changes of agent capabilities: the tenant's MCP servers, and what an agent uses.

Deleting an MCP server removes it from every agent's draft; published versions keep their
frozen copy, whose calls then answer the model with an error (the headers went with the row).

    InvalidInput (tenants.exceptions)
    └── McpServerUnreachable    the server's URL passed the address policy, but listing its
                                tools failed (refused connection, time limit, bad answer)
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from hosted_agents.capabilities.freeze import (
    CAPABILITY_FIELDS,
    capabilities_normalize,
    provider_check,
)
from hosted_agents.capabilities.mcp import (
    McpAddressRefused,
    McpError,
    McpServerSpec,
    mcp_tools_list,
)
from hosted_agents.exceptions import AlreadyExists, InvalidInput, ObjectNotFound
from hosted_agents.models import Agent, AgentCapabilities, McpServer
from hosted_agents.models.capabilities import MAX_MCP_TIME_LIMIT_SECONDS
from hosted_agents.models.tools import TOOL_NAME_PATTERN
from hosted_agents.services.agents import agent_update
from hosted_agents.services.common import RowSpec, save_unique
from hosted_agents.services.tools import http_tool_set_headers
from tenants.actors import SYSTEM, Actor
from tenants.encryption import decrypt
from tenants.models import Tenant
from tenants.services.audit import audit_event_record

__all__ = [
    "MCP_SERVER",
    "McpServerUnreachable",
    "agent_capabilities_set",
    "agent_capabilities_update",
    "handoffs_drop_target",
    "mcp_server_check",
    "mcp_server_create",
    "mcp_server_delete",
    "mcp_server_refresh_tools",
    "mcp_server_spec",
    "mcp_server_update",
]

_SERVER_FIELDS = frozenset({"name", "url", "transport", "headers", "time_limit_seconds"})


class McpServerUnreachable(InvalidInput):
    """Listing a server's tools failed after its URL passed the address policy."""


def _summary(server: McpServer) -> dict[str, Any]:
    # Header names and masked hints only: never a value, not even encrypted.
    return {
        "name": server.name,
        "url": server.url,
        "transport": server.transport,
        "header_hints": server.header_hints,
        "time_limit_seconds": server.time_limit_seconds,
    }


def mcp_server_check(server: McpServer) -> None:
    """Raise `InvalidInput` unless the server's definition is valid."""
    if not TOOL_NAME_PATTERN.match(server.name):
        raise InvalidInput("name", "use 1 to 64 letters, digits, '_' or '-'")
    parts = urlsplit(server.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url", "must be an http(s) URL with a host")
    if parts.username or parts.password:
        raise InvalidInput("url", "credentials in the URL are not allowed; use a header")
    if server.transport not in McpServer.Transport.values:
        raise InvalidInput("transport", f"must be one of {', '.join(McpServer.Transport.values)}")
    if not 0.5 <= float(server.time_limit_seconds) <= MAX_MCP_TIME_LIMIT_SECONDS:
        raise InvalidInput("time_limit_seconds", f"must be 0.5 to {MAX_MCP_TIME_LIMIT_SECONDS:g}")


# How interfaces lock a server row (an If-Match check); the services above do the writing.
MCP_SERVER: RowSpec[McpServer] = RowSpec(
    model=McpServer,
    entity="MCP server",
    action="mcp_server",
    fields=_SERVER_FIELDS,
    summary=_summary,
    check=mcp_server_check,
    unique="name",
)


def _name_taken(server: McpServer) -> bool:
    rows = McpServer.objects.for_tenant(server.tenant_id).filter(name=server.name)
    return rows.exclude(pk=server.pk).exists()


@transaction.atomic
def mcp_server_create(
    *,
    tenant: Tenant,
    name: str,
    url: str,
    transport: str = McpServer.Transport.STREAMABLE_HTTP,
    headers: dict[str, str] | None = None,
    time_limit_seconds: float = 10.0,
    actor: Actor = SYSTEM,
) -> McpServer:
    """Register an MCP server; header values are encrypted and only their hints shown again.

    Its tool list is empty until `mcp_server_refresh_tools` fetches it.
    """
    server = McpServer(
        tenant=tenant,
        name=name.strip(),
        url=url.strip(),
        transport=transport,
        time_limit_seconds=time_limit_seconds,
    )
    mcp_server_check(server)
    http_tool_set_headers(server, headers or {})  # type: ignore[arg-type]  # same two fields
    if _name_taken(server):
        raise AlreadyExists("MCP server", server.name)
    save_unique(server, entity="MCP server", field="name")
    audit_event_record(
        tenant=tenant, actor=actor, action="mcp_server.create", target=server,
        after=_summary(server),
    )  # fmt: skip
    return server


@transaction.atomic
def mcp_server_update(
    *,
    tenant: Tenant,
    server_id: int,
    changes: dict[str, Any],
    actor: Actor = SYSTEM,
) -> McpServer:
    """Change a server; `headers` (if given and not None) replaces all header values."""
    server = McpServer.objects.for_tenant(tenant).select_for_update().filter(pk=server_id).first()
    if server is None:
        raise ObjectNotFound("MCP server", server_id)
    unknown = set(changes) - _SERVER_FIELDS
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "cannot be changed")
    before = _summary(server)
    fields = ["updated_at"]
    for field, value in changes.items():
        if field != "headers":
            setattr(server, field, value.strip() if isinstance(value, str) else value)
            fields.append(field)
    mcp_server_check(server)
    if changes.get("headers") is not None:
        http_tool_set_headers(server, changes["headers"])  # type: ignore[arg-type]
        fields += ["headers_encrypted", "header_hints"]
    if _name_taken(server):
        raise AlreadyExists("MCP server", server.name)
    save_unique(server, entity="MCP server", field="name", update_fields=fields)
    audit_event_record(
        tenant=tenant, actor=actor, action="mcp_server.update", target=server,
        before=before, after=_summary(server),
    )  # fmt: skip
    return server


@transaction.atomic
def mcp_server_delete(*, tenant: Tenant, server_id: int, actor: Actor = SYSTEM) -> None:
    server = McpServer.objects.for_tenant(tenant).filter(pk=server_id).first()
    if server is None:
        raise ObjectNotFound("MCP server", server_id)
    for row in AgentCapabilities.objects.for_tenant(tenant).select_for_update():
        kept = [entry for entry in row.mcp_servers if entry.get("server_id") != server.pk]
        if kept != row.mcp_servers:
            row.mcp_servers = kept
            row.save(update_fields=["mcp_servers", "updated_at"])
    audit_event_record(
        tenant=tenant, actor=actor, action="mcp_server.delete", target=server,
        before=_summary(server),
    )  # fmt: skip
    server.delete()


def mcp_server_spec(server: McpServer) -> McpServerSpec:
    return McpServerSpec(
        id=server.pk,
        name=server.name,
        url=server.url,
        transport=server.transport,
        time_limit_seconds=float(server.time_limit_seconds),
    )


def mcp_server_refresh_tools(*, tenant: Tenant, server_id: int, actor: Actor = SYSTEM) -> McpServer:
    """Fetch the server's tool list and cache it on the row (sync; calls the server).

    The call runs outside any transaction, bounded by the server's time limit. A failure is
    kept in `tools_error` (the previous list stays) and raised as `InvalidInput("url", ...)`:
    `McpServerUnreachable` unless the address policy refused the URL.
    """
    server = McpServer.objects.for_tenant(tenant).filter(pk=server_id).first()
    if server is None:
        raise ObjectNotFound("MCP server", server_id)
    headers = json.loads(decrypt(server.headers_encrypted)) if server.headers_encrypted else {}
    try:
        tools = async_to_sync(mcp_tools_list)(
            mcp_server_spec(server),
            headers,
            allow_private=settings.CHATKIT_ALLOW_PRIVATE_NETWORK,
        )
    except McpError as error:
        McpServer.objects.for_tenant(tenant).filter(pk=server.pk).update(
            tools_error=str(error)[:500]
        )
        refusal = InvalidInput if isinstance(error, McpAddressRefused) else McpServerUnreachable
        raise refusal("url", f"could not list the tools: {error}") from None
    with transaction.atomic():
        server.tools = tools
        server.tools_fetched_at = timezone.now()
        server.tools_error = ""
        server.save(update_fields=["tools", "tools_fetched_at", "tools_error", "updated_at"])
        audit_event_record(
            tenant=tenant, actor=actor, action="mcp_server.refresh_tools", target=server,
            after={"tools": server.tool_names},
        )  # fmt: skip
    return server


# --------------------------------------------------------------------------- agents


@transaction.atomic
def agent_capabilities_set(
    *,
    tenant: Tenant,
    agent_id: int,
    changes: dict[str, Any],
    actor: Actor = SYSTEM,
) -> AgentCapabilities:
    """Change the capabilities part of an agent's draft (takes effect at the next publish).

    `changes` may hold `mcp_servers`, `guardrails`, `handoffs` and `hosted_tools`.
    """
    agent = Agent.objects.for_tenant(tenant).select_for_update().filter(pk=agent_id).first()
    if agent is None:
        raise ObjectNotFound("agent", agent_id)
    row = AgentCapabilities.objects.for_tenant(tenant).filter(agent_id=agent.pk).first()
    if row is None:
        row = AgentCapabilities(tenant=tenant, agent=agent)
    before = capabilities_normalize(tenant, row, {})
    normalized = capabilities_normalize(tenant, row, changes)
    provider_check(agent, normalized)
    for field, value in normalized.items():
        setattr(row, field, value)
    row.save()
    audit_event_record(
        tenant=tenant, actor=actor, action="agent.set_capabilities", target=agent,
        before=before, after=normalized,
    )  # fmt: skip
    return row


@transaction.atomic
def agent_capabilities_update(
    *,
    tenant: Tenant,
    agent_id: int,
    changes: dict[str, Any],
    actor: Actor = SYSTEM,
) -> None:
    """Change an agent's capabilities and its tools' approval policies, all or nothing.

    `changes` may hold the fields of `agent_capabilities_set` and `tool_approvals` (as for
    `agent_update`). A part whose normalised value is what the draft has already is neither
    written nor audited, so sending the same document twice leaves no trace.
    """
    agent = Agent.objects.for_tenant(tenant).select_for_update().filter(pk=agent_id).first()
    if agent is None:
        raise ObjectNotFound("agent", agent_id)
    unknown = set(changes) - {*CAPABILITY_FIELDS, "tool_approvals"}
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "cannot be changed")
    approvals = changes.get("tool_approvals")
    if approvals is not None and _asked(approvals) != agent.tool_approvals:
        agent_update(
            tenant=tenant, agent_id=agent.pk, changes={"tool_approvals": approvals}, actor=actor
        )
    parts = {field: value for field, value in changes.items() if field in CAPABILITY_FIELDS}
    if not parts:
        return
    row = AgentCapabilities.objects.for_tenant(tenant).filter(agent_id=agent.pk).first()
    current = row or AgentCapabilities(tenant=tenant, agent=agent)
    unchanged = capabilities_normalize(tenant, current, {})
    if capabilities_normalize(tenant, current, parts) != unchanged:
        agent_capabilities_set(tenant=tenant, agent_id=agent.pk, changes=parts, actor=actor)


def _asked(approvals: Any) -> Any:
    # What `agent_update` keeps of a policy map; anything else it refuses itself.
    if not isinstance(approvals, dict):
        return approvals
    return {name: "ask" for name, policy in approvals.items() if policy == "ask"}


def handoffs_drop_target(*, tenant: Tenant, agent_id: int) -> None:
    """Remove agent `agent_id` from every draft's handoffs (it is being deleted).

    Call it in the deleting transaction; published versions keep their frozen copy.
    """
    for row in AgentCapabilities.objects.for_tenant(tenant).select_for_update():
        kept = [entry for entry in row.handoffs if entry.get("agent_id") != agent_id]
        if kept != row.handoffs:
            row.handoffs = kept
            row.save(update_fields=["handoffs", "updated_at"])
