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

from hosted_agents.exceptions import InvalidInput, ObjectNotFound
from hosted_agents.models import DEFAULT_MODEL, Agent, AgentVersion, ClientTool, HttpTool
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
    "DefinitionApplied",
    "agent_definition",
    "agent_definition_apply",
    "agent_duplicate",
    "agent_version_diff",
    "config_diff",
]


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
    """Return the agent's draft as a definition document (no ids, no secrets)."""
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


def _publish_if_changed(tenant: Tenant, agent: Agent, actor: Actor) -> int | None:
    published = agent.published_version
    if published is not None and published.config == _config(agent):
        return None
    return agent_publish(tenant=tenant, agent_id=agent.pk, actor=actor, note="applied").number


@transaction.atomic
def agent_duplicate(
    *, tenant: Tenant, agent_id: int, slug: str, name: str | None = None, actor: Actor = SYSTEM
) -> Agent:
    """Create agent `slug` with a copy of agent `agent_id`'s draft (unpublished)."""
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
