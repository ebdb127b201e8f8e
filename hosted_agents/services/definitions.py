"""Agents as code: an agent's whole draft as one document, applied idempotently.

The document names tools and the provider credential by name, never by id, so that one
file deploys to several tenants, and it carries no secret. Applying a document that matches
the draft changes nothing and records nothing; with `publish`, a draft that matches the
published version is not published again. A dry run applies the document in a savepoint
and rolls it back, so it is checked exactly as the real run would be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import transaction
from pydantic import BaseModel, ConfigDict, Field

from hosted_agents.capabilities.freeze import capabilities_normalize
from hosted_agents.capabilities.services import agent_capabilities_set
from hosted_agents.exceptions import InvalidInput, ObjectNotFound
from hosted_agents.models import (
    DEFAULT_MODEL,
    Agent,
    AgentCapabilities,
    AgentVersion,
    ClientTool,
    HttpTool,
    McpServer,
)
from hosted_agents.services.agents import (
    _config,  # what a publish would freeze: compared with the published version
    agent_create,
    agent_publish,
    agent_set_workflow_id,
    agent_update,
)
from tenants.actors import SYSTEM, Actor
from tenants.models import ProviderCredential, Tenant
from tenants.services.audit import audit_event_record

__all__ = [
    "AgentDefinition",
    "CapabilitiesDefinition",
    "DefinitionApplied",
    "agent_definition",
    "agent_definition_apply",
    "agent_duplicate",
    "agent_version_diff",
    "config_diff",
]


class McpServerUse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server: str = Field(min_length=1, max_length=64)
    allowed_tools: list[str] = Field(default_factory=list)
    approval_tools: list[str] = Field(default_factory=list)


class HandoffUse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: str = Field(min_length=1, max_length=100)
    description: str = Field(min_length=1, max_length=500)


class CapabilitiesDefinition(BaseModel):
    """An agent's capabilities, by name (servers, agents), as hosted_agents/capabilities/
    describes them; each part is checked by the capabilities services."""

    model_config = ConfigDict(extra="forbid")

    mcp_servers: list[McpServerUse] = Field(default_factory=list)
    guardrails: dict[str, Any] = Field(default_factory=dict)
    handoffs: list[HandoffUse] = Field(default_factory=list)
    hosted_tools: list[dict[str, Any]] = Field(default_factory=list)


class AgentDefinition(BaseModel):
    """The document of an agent; the slug comes from where it is applied."""

    model_config = ConfigDict(extra="forbid")

    slug: str | None = Field(default=None, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    instructions: str = ""
    model: str = Field(default=DEFAULT_MODEL, min_length=1, max_length=200)
    model_settings: dict[str, Any] = Field(default_factory=dict)
    provider_credential: str | None = Field(default=None, max_length=100)
    code_tools: list[str] = Field(default_factory=list)
    http_tools: list[str] = Field(default_factory=list)
    client_tools: list[str] = Field(default_factory=list)
    # Per tool name: "ask" waits for the end user's approval before each call.
    tool_approvals: dict[str, Literal["auto", "ask"]] = Field(default_factory=dict)
    greeting: str = Field(default="", max_length=500)
    starter_prompts: list[str] = Field(default_factory=list)
    workflow_id: str | None = Field(default=None, max_length=100)
    # MCP servers, guardrails, handoffs and OpenAI's hosted tools; left out or null: none.
    capabilities: CapabilitiesDefinition | None = None


@dataclass(frozen=True)
class DefinitionApplied:
    agent: Agent
    created: bool
    changes: list[dict[str, Any]]  # [{"field", "before", "after"}]
    published_version: int | None  # the version published by this call, if any
    dry_run: bool = False
    definition: dict[str, Any] = field(default_factory=dict)


def _names(model: type[HttpTool] | type[ClientTool], tenant_id: int, ids: list[int]) -> list[str]:
    names = dict(model.objects.for_tenant(tenant_id).filter(pk__in=ids).values_list("pk", "name"))
    return [names[i] for i in ids if i in names]


def agent_definition(*, agent: Agent) -> dict[str, Any]:
    """Return the agent's draft as a definition document (no ids, no secrets).

    `capabilities` is None when the agent has none.
    """
    credential = None
    if agent.provider_credential_id is not None:
        credential = (
            ProviderCredential.objects.for_tenant(agent.tenant_id)
            .filter(pk=agent.provider_credential_id)
            .values_list("name", flat=True)
            .first()
        )
    return {
        "slug": agent.slug,
        "name": agent.name,
        "instructions": agent.instructions,
        "model": agent.model,
        "model_settings": dict(agent.model_settings),
        "provider_credential": credential,
        "code_tools": list(agent.code_tools),
        "http_tools": _names(HttpTool, agent.tenant_id, list(agent.http_tools)),
        "client_tools": _names(ClientTool, agent.tenant_id, list(agent.client_tools)),
        "tool_approvals": dict(agent.tool_approvals),
        "greeting": agent.greeting,
        "starter_prompts": list(agent.starter_prompts),
        "workflow_id": agent.workflow_id,
    } | _capabilities_document(agent)


def _capabilities_document(agent: Agent) -> dict[str, Any]:
    row = AgentCapabilities.objects.for_tenant(agent.tenant_id).filter(agent_id=agent.pk).first()
    if row is None:
        return {"capabilities": None}
    values = capabilities_normalize(agent.tenant_id, row, {})
    if not any(values.values()):
        return {"capabilities": None}
    servers = dict(
        McpServer.objects.for_tenant(agent.tenant_id)
        .filter(pk__in=[entry["server_id"] for entry in values["mcp_servers"]])
        .values_list("pk", "name")
    )
    slugs = dict(
        Agent.objects.for_tenant(agent.tenant_id)
        .filter(pk__in=[entry["agent_id"] for entry in values["handoffs"]])
        .values_list("pk", "slug")
    )
    document = {
        "mcp_servers": [
            {"server": servers[entry["server_id"]], **{k: entry[k] for k in _TOOL_LISTS}}
            for entry in values["mcp_servers"]
        ],
        "guardrails": values["guardrails"],
        "handoffs": [
            {"agent": slugs[entry["agent_id"]], "description": entry["description"]}
            for entry in values["handoffs"]
        ],
        "hosted_tools": values["hosted_tools"],
    }
    return {"capabilities": document}


_TOOL_LISTS = ("allowed_tools", "approval_tools")


def _capability_changes(tenant: Tenant, doc: CapabilitiesDefinition) -> dict[str, Any]:
    """Return `agent_capabilities_set` changes for `doc`, names resolved to ids."""
    servers = dict(
        McpServer.objects.for_tenant(tenant)
        .filter(name__in=[use.server for use in doc.mcp_servers])
        .values_list("name", "pk")
    )
    agents = dict(
        Agent.objects.for_tenant(tenant)
        .filter(slug__in=[use.agent for use in doc.handoffs])
        .values_list("slug", "pk")
    )
    for use in doc.mcp_servers:
        if use.server not in servers:
            raise InvalidInput("mcp_servers", f"no MCP server is named {use.server!r}")
    for handoff in doc.handoffs:
        if handoff.agent not in agents:
            raise InvalidInput("handoffs", f"no agent is named {handoff.agent!r}")
    return {
        "mcp_servers": [
            {
                "server_id": servers[use.server],
                "allowed_tools": use.allowed_tools,
                "approval_tools": use.approval_tools,
            }
            for use in doc.mcp_servers
        ],
        "guardrails": doc.guardrails,
        "handoffs": [
            {"agent_id": agents[use.agent], "description": use.description} for use in doc.handoffs
        ],
        "hosted_tools": doc.hosted_tools,
    }


def _ids(model: type[HttpTool] | type[ClientTool], tenant: Tenant, names: list[str],
         field_name: str) -> list[int]:  # fmt: skip
    found = dict(model.objects.for_tenant(tenant).filter(name__in=names).values_list("name", "pk"))
    missing = [name for name in names if name not in found]
    if missing:
        raise InvalidInput(field_name, f"no tool is named {missing[0]!r}")
    return [found[name] for name in dict.fromkeys(names)]


def _draft(tenant: Tenant, doc: AgentDefinition) -> dict[str, Any]:
    credential_id = None
    if doc.provider_credential is not None:
        credential_id = (
            ProviderCredential.objects.for_tenant(tenant)
            .filter(name=doc.provider_credential)
            .values_list("pk", flat=True)
            .first()
        )
        if credential_id is None:
            raise InvalidInput("provider_credential", "no provider credential has that name")
    return {
        "name": doc.name,
        "instructions": doc.instructions,
        "model": doc.model,
        "model_settings": doc.model_settings,
        "provider_credential_id": credential_id,
        "code_tools": list(dict.fromkeys(doc.code_tools)),
        "http_tools": _ids(HttpTool, tenant, doc.http_tools, "http_tools"),
        "client_tools": _ids(ClientTool, tenant, doc.client_tools, "client_tools"),
        "tool_approvals": {name: p for name, p in doc.tool_approvals.items() if p == "ask"},
        "greeting": doc.greeting,
        "starter_prompts": doc.starter_prompts,
    }


def config_diff(before: dict[str, Any] | None, after: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the fields whose values differ, each with its two values, sorted by field."""
    before = before or {}
    keys = sorted(set(before) | set(after))
    return [
        {"field": key, "before": before.get(key), "after": after.get(key)}
        for key in keys
        if before.get(key) != after.get(key)
    ]


@transaction.atomic
def agent_definition_apply(
    *,
    tenant: Tenant,
    slug: str,
    definition: AgentDefinition,
    publish: bool = False,
    dry_run: bool = False,
    actor: Actor = SYSTEM,
) -> DefinitionApplied:
    """Create or update agent `slug`'s draft from `definition`; publish it if asked."""
    if definition.slug is not None and definition.slug != slug:
        raise InvalidInput("slug", "must match the agent the document is applied to")
    agent = Agent.objects.for_tenant(tenant).select_for_update().filter(slug=slug).first()
    created = agent is None
    before = None if agent is None else agent_definition(agent=agent)
    draft = _draft(tenant, definition)
    if agent is None:
        agent = agent_create(tenant=tenant, slug=slug, actor=actor, **draft)
    else:
        changed = {key: value for key, value in draft.items() if getattr(agent, key) != value}
        if changed:
            agent = agent_update(tenant=tenant, agent_id=agent.pk, changes=changed, actor=actor)
    _apply_capabilities(tenant, agent, definition.capabilities or CapabilitiesDefinition(), actor)
    wanted = definition.workflow_id
    if wanted is not None and wanted != agent.workflow_id:
        agent = agent_set_workflow_id(
            tenant=tenant, agent_id=agent.pk, workflow_id=wanted, actor=actor
        )
    after = agent_definition(agent=agent)
    number = _publish_if_changed(tenant, agent, actor) if publish else None
    if dry_run:
        transaction.set_rollback(True)
    return DefinitionApplied(
        agent=agent, created=created, changes=config_diff(before, after),
        published_version=number, dry_run=dry_run, definition=after,
    )  # fmt: skip


def _apply_capabilities(
    tenant: Tenant, agent: Agent, doc: CapabilitiesDefinition, actor: Actor
) -> None:
    """Set the agent's capabilities to `doc`'s, unless they are already those."""
    changes = _capability_changes(tenant, doc)
    row = AgentCapabilities.objects.for_tenant(tenant).filter(agent_id=agent.pk).first()
    if row is None and not any(changes.values()):
        return
    current = capabilities_normalize(tenant, row or AgentCapabilities(agent=agent), {})
    if capabilities_normalize(tenant, row or AgentCapabilities(agent=agent), changes) != current:
        agent_capabilities_set(tenant=tenant, agent_id=agent.pk, changes=changes, actor=actor)


def _publish_if_changed(tenant: Tenant, agent: Agent, actor: Actor) -> int | None:
    published = agent.published_version
    if published is not None and published.config == _config(agent):
        return None
    return agent_publish(tenant=tenant, agent_id=agent.pk, actor=actor, note="applied").number


@transaction.atomic
def agent_duplicate(
    *, tenant: Tenant, agent_id: int, slug: str, name: str | None = None, actor: Actor = SYSTEM
) -> Agent:
    """Create agent `slug` with a copy of agent `agent_id`'s draft and capabilities
    (unpublished)."""
    source = Agent.objects.for_tenant(tenant).filter(pk=agent_id).first()
    if source is None:
        raise ObjectNotFound("agent", agent_id)
    copy = agent_create(
        tenant=tenant, slug=slug, name=name or f"{source.name} (copy)", actor=actor,
        instructions=source.instructions, model=source.model,
        model_settings=dict(source.model_settings),
        provider_credential_id=source.provider_credential_id,
        code_tools=list(source.code_tools), http_tools=list(source.http_tools),
        client_tools=list(source.client_tools), tool_approvals=dict(source.tool_approvals),
        greeting=source.greeting,
        starter_prompts=list(source.starter_prompts),
    )  # fmt: skip
    capabilities = AgentCapabilities.objects.for_tenant(tenant).filter(agent_id=source.pk).first()
    if capabilities is not None:
        changes = capabilities_normalize(tenant, capabilities, {})
        agent_capabilities_set(tenant=tenant, agent_id=copy.pk, changes=changes, actor=actor)
    audit_event_record(
        tenant=tenant, actor=actor, action="agent.duplicate", target=copy,
        after={"slug": copy.slug, "copied_from": source.slug},
    )  # fmt: skip
    return copy


def agent_version_diff(*, first: AgentVersion, second: AgentVersion) -> list[dict[str, Any]]:
    """Return what changed from version `first` to version `second` (tools by name)."""

    def flat(config: dict[str, Any]) -> dict[str, Any]:
        tools = {f"tools.{tool['name']}": tool for tool in config.get("tools", [])}
        return {**{k: v for k, v in config.items() if k != "tools"}, **tools}

    return config_diff(flat(first.config), flat(second.config))
