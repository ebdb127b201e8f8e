"""An agent's capabilities as its pages show them: of a version (frozen) or of the draft.

Both become one `CapabilitiesShown`, which templates/console/agents/_capabilities.html
renders. A version holds everything it needs (names, tools, target versions); the draft
names servers and agents by id, read in one statement each, only when it names any.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hosted_agents.models import Agent, AgentCapabilities, McpServer
from tenants.models import Tenant

__all__ = ["CapabilitiesShown", "draft_capabilities", "frozen_capabilities"]

PII_NAMES = {"email": "e-mail", "phone": "phone", "card": "card numbers", "iban": "IBAN"}
HOSTED_NAMES = {
    "web_search": "Web search",
    "file_search": "File search",
    "code_interpreter": "Code interpreter",
    "image_generation": "Image generation",
}


@dataclass(frozen=True)
class McpShown:
    name: str
    url: str
    tools: list[tuple[str, bool]]  # (tool name, asks the user first)
    server_id: int | None = None  # None: the server is gone


@dataclass(frozen=True)
class CheckShown:
    stage: str  # "input" or "output"
    text: str
    patterns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HandoffShown:
    name: str
    slug: str
    description: str
    version: int | None = None  # the target's version a published version froze


@dataclass(frozen=True)
class CapabilitiesShown:
    mcp: list[McpShown]
    checks: list[CheckShown]
    message: str
    hosted: list[str]
    handoffs: list[HandoffShown]

    def __bool__(self) -> bool:
        return bool(self.mcp or self.checks or self.hosted or self.handoffs)


def _check(stage: str, check: dict[str, Any]) -> CheckShown:
    kind = check["kind"]
    if kind == "pii":
        kinds = ", ".join(PII_NAMES.get(name, name) for name in check["types"])
        return CheckShown(stage, f"Personal data ({kinds}): {check['action']}")
    if kind == "jailbreak":
        topic = f"; off-topic: not about {check['topic']}" if check.get("topic") else ""
        return CheckShown(stage, f"Jailbreak check with {check['model']}{topic}")
    if kind == "blocklist":
        return CheckShown(stage, "Blocklist", list(check["patterns"]))
    return CheckShown(stage, "Moderation")


def _hosted(tool: dict[str, Any]) -> str:
    name = HOSTED_NAMES.get(tool["type"], str(tool["type"]))
    if tool["type"] == "web_search":
        return f"{name} (context: {tool.get('search_context_size', 'medium')})"
    if tool["type"] == "file_search":
        limit = tool.get("max_num_results")
        most = f", at most {limit} results" if limit else ""
        return f"{name} in {', '.join(tool['vector_store_ids'])}{most}"
    return name


def _guardrails(guardrails: dict[str, Any]) -> tuple[list[CheckShown], str]:
    checks = [
        _check(stage, check) for stage in ("input", "output") for check in guardrails.get(stage, [])
    ]
    return checks, str(guardrails.get("message", "")) if checks else ""


def frozen_capabilities(config: dict[str, Any]) -> CapabilitiesShown:
    """Return what a version's config froze of the agent's capabilities."""
    frozen = config.get("capabilities") or {}
    checks, message = _guardrails(frozen.get("guardrails") or {})
    mcp = [
        McpShown(
            server["name"],
            server["url"],
            [(tool["name"], tool["name"] in server["approval_tools"]) for tool in server["tools"]],
            server["id"],
        )
        for server in frozen.get("mcp_servers", [])
    ]
    handoffs = [
        HandoffShown(entry["name"], entry["slug"], entry["description"], entry["version"])
        for entry in frozen.get("handoffs", [])
    ]
    hosted = [_hosted(tool) for tool in frozen.get("hosted_tools", [])]
    return CapabilitiesShown(mcp, checks, message, hosted, handoffs)


def draft_capabilities(tenant: Tenant, row: AgentCapabilities | None) -> CapabilitiesShown:
    """Return the capabilities of a draft, from its row (None: it has none)."""
    if row is None:
        return CapabilitiesShown([], [], "", [], [])
    checks, message = _guardrails(row.guardrails)
    servers: dict[int, McpServer] = {}
    if row.mcp_servers:
        ids = [entry["server_id"] for entry in row.mcp_servers]
        servers = {s.pk: s for s in McpServer.objects.for_tenant(tenant).filter(pk__in=ids)}
    mcp = []
    for entry in row.mcp_servers:
        server = servers.get(entry["server_id"])
        tools = [(name, name in entry["approval_tools"]) for name in entry["allowed_tools"]]
        if server is None:
            mcp.append(McpShown(f"server {entry['server_id']} (gone)", "", tools))
        else:
            mcp.append(McpShown(server.name, server.url, tools, server.pk))
    agents: dict[int, Agent] = {}
    if row.handoffs:
        ids = [entry["agent_id"] for entry in row.handoffs]
        agents = {a.pk: a for a in Agent.objects.for_tenant(tenant).filter(pk__in=ids)}
    handoffs = [
        HandoffShown(agents[e["agent_id"]].name, agents[e["agent_id"]].slug, e["description"])
        for e in row.handoffs
        if e["agent_id"] in agents
    ]
    hosted = [_hosted(tool) for tool in row.hosted_tools]
    return CapabilitiesShown(mcp, checks, message, hosted, handoffs)
