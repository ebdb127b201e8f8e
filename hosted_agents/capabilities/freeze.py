"""An agent's capabilities: checked when the draft changes, frozen when it is published.

The frozen form, `config["capabilities"]` of a version (absent when the agent has none):

    {"mcp_servers": [{"id", "name", "url", "transport", "time_limit_seconds",
                      "tools": [{"name", "description", "input_schema"}],
                      "approval_tools": [...]}],
     "guardrails": {...},                        see guardrails.py
     "handoffs": [{"agent_id", "slug", ..., "config"}],   see handoffs.py
     "hosted_tools": [{"type": "web_search"}, ...]}      see hosted_tools.py

MCP servers keep their header values in their own row, read at call time; the tools are
the allowed ones, as the server's cached list described them at publish.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from hosted_agents.capabilities.guardrails import guardrails_normalize
from hosted_agents.capabilities.handoffs import handoffs_freeze, handoffs_normalize
from hosted_agents.capabilities.hosted_tools import hosted_tools_normalize
from hosted_agents.demo_model import DEMO_MODEL_NAME
from hosted_agents.exceptions import InvalidInput
from hosted_agents.models import Agent, AgentCapabilities, McpServer
from tenants.models import ProviderCredential, Tenant

__all__ = [
    "CAPABILITY_FIELDS",
    "capabilities_freeze",
    "capabilities_normalize",
    "provider_check",
]

CAPABILITY_FIELDS = ("mcp_servers", "guardrails", "handoffs", "hosted_tools")


def capabilities_normalize(
    tenant: Tenant | int, row: AgentCapabilities, changes: dict[str, Any]
) -> dict[str, Any]:
    """Return every capability field of `row` with `changes` applied, checked and
    normalised; raise `InvalidInput` for an unknown field or a bad value."""
    unknown = set(changes) - set(CAPABILITY_FIELDS)
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "cannot be changed")
    values = {field: changes.get(field, getattr(row, field)) for field in CAPABILITY_FIELDS}
    values["mcp_servers"] = _mcp_selection(tenant, values["mcp_servers"])
    values["guardrails"] = guardrails_normalize(values["guardrails"])
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    values["handoffs"] = handoffs_normalize(tenant_id, row.agent_id, values["handoffs"])
    values["hosted_tools"] = hosted_tools_normalize(values["hosted_tools"])
    return values


def _mcp_selection(tenant: Tenant | int, value: Any) -> list[dict[str, Any]]:
    """Return the normalised MCP part of an agent's capabilities, or raise InvalidInput."""
    if not isinstance(value, list):
        raise InvalidInput("mcp_servers", "must be a list")
    ids = [entry.get("server_id") if isinstance(entry, dict) else None for entry in value]
    wanted = [i for i in ids if isinstance(i, int)]
    rows = McpServer.objects.for_tenant(tenant).filter(pk__in=wanted) if wanted else []
    found = {row.pk: row for row in rows}
    selection = []
    for entry, server_id in zip(value, ids, strict=True):
        if not isinstance(server_id, int) or server_id not in found:
            raise InvalidInput("mcp_servers", f"no such MCP server: {server_id}")
        allowed, approval = entry.get("allowed_tools", []), entry.get("approval_tools", [])
        for field, names in (("allowed_tools", allowed), ("approval_tools", approval)):
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise InvalidInput("mcp_servers", f"{field} must be a list of tool names")
        if not set(approval) <= set(allowed):
            raise InvalidInput("mcp_servers", "a tool needing approval must also be allowed")
        selection.append(
            {
                "server_id": server_id,
                "allowed_tools": list(dict.fromkeys(allowed)),
                "approval_tools": list(dict.fromkeys(approval)),
            }
        )
    if len({entry["server_id"] for entry in selection}) != len(selection):
        raise InvalidInput("mcp_servers", "a server is selected twice")
    return selection


_READ = object()


def capabilities_freeze(
    agent: Agent, tool_names: list[str], row: AgentCapabilities | object | None = _READ
) -> dict[str, Any]:
    """Return what a version of `agent` freezes of its capabilities ({} for none).

    `tool_names` are the names of the agent's own tools: an MCP tool may not take one.
    `row`: the agent's capabilities row (or None for none) when the caller read it already
    (a list page reads them for every agent at once). Raise `InvalidInput` if a server is
    gone or no longer lists an allowed tool.
    """
    if row is _READ:
        row = (
            AgentCapabilities.objects.for_tenant(agent.tenant_id).filter(agent_id=agent.pk).first()
        )
    if not isinstance(row, AgentCapabilities):
        return {}
    values = capabilities_normalize(agent.tenant_id, row, {})
    servers = {
        server.pk: server
        for server in McpServer.objects.for_tenant(agent.tenant_id).filter(
            pk__in=[entry["server_id"] for entry in values["mcp_servers"]]
        )
    }
    handoffs = handoffs_freeze(agent, values["handoffs"])
    taken = set(tool_names) | {entry["tool_name"] for entry in handoffs}
    frozen_servers = []
    for entry in values["mcp_servers"]:
        server = servers[entry["server_id"]]
        listed = {tool["name"]: tool for tool in server.tools}
        tools = []
        for name in entry["allowed_tools"]:
            if name not in listed:
                raise InvalidInput(
                    "mcp_servers", f"{server.name} does not list a tool {name!r}; refresh it"
                )
            if name in taken:
                raise InvalidInput("mcp_servers", f"two selected tools are named {name!r}")
            taken.add(name)
            tools.append(listed[name])
        frozen_servers.append(
            {
                "id": server.pk,
                "name": server.name,
                "url": server.url,
                "transport": server.transport,
                "time_limit_seconds": server.time_limit_seconds,
                "tools": tools,
                "approval_tools": entry["approval_tools"],
            }
        )
    provider_check(agent, values)
    frozen = {**values, "mcp_servers": frozen_servers, "handoffs": handoffs}
    return {field: value for field, value in frozen.items() if value}


def provider_check(agent: Agent, values: dict[str, Any]) -> None:
    """Refuse capabilities the agent's provider cannot serve, or raise `InvalidInput`.

    Moderation needs OpenAI itself, the jailbreak check any model provider (not the offline
    demo model), hosted tools a provider on the Responses API.
    """
    guardrails = values.get("guardrails") or {}
    kinds = {check["kind"] for stage in ("input", "output") for check in guardrails.get(stage, [])}
    hosted = values.get("hosted_tools") or []
    if not kinds & {"moderation", "jailbreak"} and not hosted:
        return
    provider, api = _provider_of(agent)
    if provider == "demo" and kinds & {"moderation", "jailbreak"}:
        raise InvalidInput("guardrails", "moderation and jailbreak checks need a model provider")
    if "moderation" in kinds and provider != ProviderCredential.Kind.OPENAI:
        raise InvalidInput("guardrails", "the moderation check needs OpenAI as the provider")
    if hosted and (provider == "demo" or api != ProviderCredential.Api.RESPONSES):
        names = ", ".join(tool["type"] for tool in hosted)
        where = "the offline demo model" if provider == "demo" else "the Chat Completions API"
        raise InvalidInput(
            "hosted_tools",
            f"{names}: OpenAI's hosted tools need a provider on the Responses API, "
            f"and this agent uses {where}",
        )


def _provider_of(agent: Agent) -> tuple[str, str]:
    """Return the (kind, api) of the provider the agent's draft would run on."""
    if agent.model == DEMO_MODEL_NAME:
        return "demo", ""
    if agent.provider_credential_id is not None:
        credential = ProviderCredential.objects.for_tenant(agent.tenant_id).filter(
            pk=agent.provider_credential_id
        )
        found = credential.values_list("kind", "api").first()
        return (str(found[0]), str(found[1])) if found else ("demo", "")
    return ("openai", "responses") if settings.OPENAI_API_KEY else ("demo", "")
