"""Agent drafts, publishing and rollback.

Rollback publishes a *copy* of the earlier version as a new version (number n+1, note
"rollback to version k") rather than pointing back at the old row. Versions then only ever
grow, the audit trail and every thread item name the version that was actually serving, and
"what served when" is read from the version list alone. The draft is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.text import slugify
from pydantic import ValidationError

from hosted_agents.approvals import APPROVAL_POLICIES
from hosted_agents.capabilities.freeze import capabilities_freeze
from hosted_agents.exceptions import AlreadyExists, InvalidInput, ObjectNotFound, UnknownToolError
from hosted_agents.models import (
    WORKFLOW_ID_PREFIX,
    Agent,
    AgentCapabilities,
    AgentVersion,
    ClientTool,
    HttpTool,
    ModelSettingsSchema,
    model_takes_reasoning_effort,
)
from hosted_agents.services.common import (
    RowSpec,
    fields_check_length,
    row_apply,
    row_create,
    row_delete,
    row_locked,
    row_update,
    save_unique,
)
from hosted_agents.tools.registry import all_code_tools, get_code_tool
from tenants.actors import SYSTEM, Actor
from tenants.models import ProviderCredential, Tenant
from tenants.models.tenancy import normalize_origin
from tenants.services.audit import audit_event_record

DRAFT_FIELDS = frozenset(
    {
        "name",
        "instructions",
        "model",
        "model_settings",
        "provider_credential_id",
        "code_tools",
        "http_tools",
        "client_tools",
        "tool_approvals",
        "greeting",
        "starter_prompts",
    }
)
_TOOL_CHOICES = frozenset({"auto", "required", "none"})
MAX_STARTER_PROMPTS = 8


def _summary(agent: Agent) -> dict[str, Any]:
    return {
        "slug": agent.slug,
        "name": agent.name,
        "model": agent.model,
        "model_settings": agent.model_settings,
        "provider_credential_id": agent.provider_credential_id,
        "code_tools": agent.code_tools,
        "http_tools": agent.http_tools,
        "client_tools": agent.client_tools,
        "tool_approvals": agent.tool_approvals,
    }


def agent_check(agent: Agent) -> None:
    """Raise `InvalidInput` unless the draft is valid; normalises `model_settings`."""
    if not agent.slug or slugify(agent.slug) != agent.slug:
        raise InvalidInput("slug", "use lowercase letters, digits and hyphens")
    if not agent.name:
        raise InvalidInput("name", "must not be empty")
    if not agent.model or len(agent.model) > 200:
        raise InvalidInput("model", "must be a model name of at most 200 characters")
    _check_model_settings(agent)
    if agent.provider_credential_id is not None and not (
        ProviderCredential.objects.for_tenant(agent.tenant_id)
        .filter(pk=agent.provider_credential_id)
        .exists()
    ):
        raise InvalidInput("provider_credential_id", "no such provider credential")
    tools = resolve_tools(agent)
    names = [tool["name"] for tool in tools]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidInput("tools", f"two selected tools are named {duplicates[0]!r}")
    _check_tool_approvals(agent, tools)
    choice = agent.model_settings.get("tool_choice")
    if choice is not None and choice not in _TOOL_CHOICES and choice not in names:
        raise InvalidInput("model_settings", "tool_choice must be auto, required, none or a tool")
    if len(agent.greeting) > 500:
        raise InvalidInput("greeting", "must be at most 500 characters")
    prompts = agent.starter_prompts
    if not isinstance(prompts, list) or len(prompts) > MAX_STARTER_PROMPTS:
        raise InvalidInput("starter_prompts", f"must be a list of at most {MAX_STARTER_PROMPTS}")
    if not all(isinstance(p, str) and 0 < len(p.strip()) <= 200 for p in prompts):
        raise InvalidInput("starter_prompts", "each must be a text of 1 to 200 characters")


def _check_tool_approvals(agent: Agent, tools: list[dict[str, Any]]) -> None:
    """Keep only "ask" policies, each naming a selected tool the platform runs."""
    policies = agent.tool_approvals
    if not isinstance(policies, dict) or not all(
        isinstance(name, str) and policy in APPROVAL_POLICIES for name, policy in policies.items()
    ):
        raise InvalidInput("tool_approvals", 'must map tool names to "auto" or "ask"')
    kinds = {tool["name"]: tool["kind"] for tool in tools}
    for name, policy in policies.items():
        if policy == "ask" and kinds.get(name) not in ("code", "http"):
            why = "a client tool runs in the browser" if name in kinds else "no such selected tool"
            raise InvalidInput("tool_approvals", f"{name!r}: {why}")
    agent.tool_approvals = {name: "ask" for name, policy in policies.items() if policy == "ask"}


def _check_model_settings(agent: Agent) -> None:
    if not isinstance(agent.model_settings, dict):
        raise InvalidInput("model_settings", "must be an object")
    try:
        settings = ModelSettingsSchema.model_validate(agent.model_settings)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInput("model_settings", f"{where}: {first['msg']}") from None
    if settings.reasoning_effort is not None and not model_takes_reasoning_effort(agent.model):
        raise InvalidInput("model_settings", f"{agent.model} does not take a reasoning effort")
    agent.model_settings = settings.model_dump(exclude_none=True)


def _ids(value: Any, field: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in value
    ):
        raise InvalidInput(field, "must be a list of tool ids")
    return list(dict.fromkeys(value))


@dataclass(frozen=True)
class ToolRows:
    """The tenant's HTTP and client tools by id, read once for many agents (a list page)."""

    http: dict[int, HttpTool]
    client: dict[int, ClientTool]
    # The agents' capabilities rows by agent id (an agent without one has none).
    capabilities: dict[int, AgentCapabilities]

    @classmethod
    def of_tenant(cls, tenant: Tenant | int) -> ToolRows:
        return cls(
            http={tool.pk: tool for tool in HttpTool.objects.for_tenant(tenant)},
            client={tool.pk: tool for tool in ClientTool.objects.for_tenant(tenant)},
            capabilities={
                row.agent_id: row for row in AgentCapabilities.objects.for_tenant(tenant)
            },
        )


def resolve_tools(agent: Agent, rows: ToolRows | None = None) -> list[dict[str, Any]]:
    """Return the agent's selected tools, each resolved to its current definition.

    This is what a published version freezes. HTTP tools carry their header names only;
    the values stay encrypted in the tool's row until a call needs them. `rows`, when
    given, holds the tenant's tool rows, so that nothing is read here.
    """
    tools: list[dict[str, Any]] = []
    if not isinstance(agent.code_tools, list) or not all(
        isinstance(n, str) for n in agent.code_tools
    ):
        raise InvalidInput("code_tools", "must be a list of tool names")
    for name in dict.fromkeys(agent.code_tools):
        try:
            code = get_code_tool(name)
        except UnknownToolError:
            raise InvalidInput("code_tools", f"no code tool is named {name!r}") from None
        tools.append(
            {
                "kind": "code",
                "name": code.name,
                "description": code.description,
                "params_schema": code.params_schema,
                "long_running": code.long_running,
                "time_limit_seconds": code.time_limit_seconds,
            }
        )
    http = None if rows is None else rows.http
    client = None if rows is None else rows.client
    tools += [_http_entry(tool) for tool in _rows(HttpTool, agent, "http_tools", http)]
    tools += [_client_entry(tool) for tool in _rows(ClientTool, agent, "client_tools", client)]
    return tools


def _rows(
    model: type[HttpTool] | type[ClientTool],
    agent: Agent,
    field: str,
    preloaded: Mapping[int, Any] | None = None,
) -> list[Any]:
    ids = _ids(getattr(agent, field), field)
    found = preloaded
    if found is None:
        found = {
            row.pk: row for row in model.objects.for_tenant(agent.tenant_id).filter(pk__in=ids)
        }
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(field, f"no such tool: {missing[0]}")
    return [found[i] for i in ids]


def _http_entry(tool: HttpTool) -> dict[str, Any]:
    return {
        "kind": "http",
        "id": tool.pk,
        "name": tool.name,
        "description": tool.description,
        "method": tool.method,
        "url_template": tool.url_template,
        "args_schema": tool.args_schema,
        "time_limit_seconds": tool.time_limit_seconds,
        "max_response_bytes": tool.max_response_bytes,
        "header_names": sorted(tool.header_hints),
    }


def _client_entry(tool: ClientTool) -> dict[str, Any]:
    return {
        "kind": "client",
        "id": tool.pk,
        "name": tool.name,
        "description": tool.description,
        "args_schema": tool.args_schema,
    }


def code_tool_choices() -> list[tuple[str, str]]:
    """Return (name, description) of every registered code tool, for forms."""
    return [(tool.name, tool.description) for tool in all_code_tools()]


AGENT: RowSpec[Agent] = RowSpec(
    model=Agent,
    entity="agent",
    action="agent",
    fields=DRAFT_FIELDS,
    summary=_summary,
    check=agent_check,
    unique="slug",
)


def _locked_agent(tenant: Tenant, agent_id: int) -> Agent:
    return row_locked(AGENT, tenant=tenant, pk=agent_id)


@transaction.atomic
def agent_create(
    *,
    tenant: Tenant,
    slug: str,
    name: str,
    actor: Actor = SYSTEM,
    **draft: Any,
) -> Agent:
    """Create an agent's draft (unpublished: its endpoint answers only once published)."""
    agent = Agent(tenant=tenant, slug=slug.strip())
    row_apply(AGENT, agent, {"name": name, **draft})
    return row_create(AGENT, tenant=tenant, row=agent, actor=actor)


@transaction.atomic
def agent_update(
    *,
    tenant: Tenant,
    agent_id: int,
    changes: dict[str, Any],
    actor: Actor = SYSTEM,
) -> Agent:
    """Change the draft; what the endpoint serves changes only with the next publish."""
    return row_update(AGENT, tenant=tenant, pk=agent_id, changes=changes, actor=actor)


@transaction.atomic
def agent_set_allowed_origins(
    *,
    tenant: Tenant,
    agent_id: int,
    origins: list[str],
    actor: Actor = SYSTEM,
) -> Agent:
    """Set the browser origins allowed to call the agent (empty: the tenant's); at once."""
    try:
        normalized = sorted({normalize_origin(str(origin)) for origin in origins})
    except ValueError as error:
        raise InvalidInput("allowed_origins", str(error)) from None
    agent = _locked_agent(tenant, agent_id)
    before = {"allowed_origins": agent.allowed_origins}
    agent.allowed_origins = normalized
    agent.save(update_fields=["allowed_origins", "updated_at"])
    audit_event_record(
        tenant=tenant, actor=actor, action="agent.set_allowed_origins", target=agent,
        before=before, after={"allowed_origins": normalized},
    )  # fmt: skip
    return agent


@transaction.atomic
def agent_set_retention(
    *,
    tenant: Tenant,
    agent_id: int,
    days: int | None,
    actor: Actor = SYSTEM,
) -> Agent:
    """Set how many days the agent's inactive threads are kept (None: the tenant's policy).

    Not versioned: it applies from the next retention run. The shorter of the agent's and
    the tenant's policy wins (hosted_agents/services/retention.py).
    """
    if days is not None and days < 1:
        raise InvalidInput("retention_days", "must be at least 1 day, or empty to keep")
    agent = _locked_agent(tenant, agent_id)
    before = {"retention_days": agent.retention_days}
    agent.retention_days = days
    agent.save(update_fields=["retention_days", "updated_at"])
    audit_event_record(
        tenant=tenant, actor=actor, action="agent.set_retention", target=agent,
        before=before, after={"retention_days": days},
    )  # fmt: skip
    return agent


_WORKFLOW_ID = re.compile(rf"^{WORKFLOW_ID_PREFIX}[A-Za-z0-9_-]{{1,97}}$")


@transaction.atomic
def agent_set_workflow_id(
    *,
    tenant: Tenant,
    agent_id: int,
    workflow_id: str,
    actor: Actor = SYSTEM,
) -> Agent:
    """Name the agent by `workflow_id` (say, the Agent Builder workflow it replaces).

    It takes effect at once, without a publish: like the slug, it names the agent.
    """
    workflow_id = workflow_id.strip()
    if not _WORKFLOW_ID.match(workflow_id):
        raise InvalidInput("workflow_id", "use wf_ followed by letters, digits, _ or -")
    agent = _locked_agent(tenant, agent_id)
    before = {"workflow_id": agent.workflow_id}
    taken = Agent.objects.for_tenant(tenant).filter(workflow_id=workflow_id).exclude(pk=agent.pk)
    if taken.exists():
        raise AlreadyExists("workflow", workflow_id)
    agent.workflow_id = workflow_id
    save_unique(
        agent, entity="workflow", field="workflow_id", update_fields=["workflow_id", "updated_at"]
    )
    audit_event_record(
        tenant=tenant, actor=actor, action="agent.set_workflow_id", target=agent,
        before=before, after={"workflow_id": workflow_id},
    )  # fmt: skip
    return agent


@transaction.atomic
def agent_delete(*, tenant: Tenant, agent_id: int, actor: Actor = SYSTEM) -> None:
    # Imported here: the capabilities services import this package's tool services.
    from hosted_agents.capabilities.services import handoffs_drop_target

    row_delete(AGENT, tenant=tenant, pk=agent_id, actor=actor)  # locks the row first
    handoffs_drop_target(tenant=tenant, agent_id=agent_id)


def agent_draft_config(agent: Agent, rows: ToolRows | None = None) -> dict[str, Any]:
    """Return what publishing the draft now would freeze (compare it with a version's)."""
    return _config(agent, rows)


def _config(agent: Agent, rows: ToolRows | None = None) -> dict[str, Any]:
    tools = _with_approvals(resolve_tools(agent, rows), agent.tool_approvals)
    config = {
        "name": agent.name,
        "instructions": agent.instructions,
        "model": agent.model,
        "model_settings": agent.model_settings,
        "provider_credential_id": agent.provider_credential_id,
        "tools": tools,
        "greeting": agent.greeting,
        "starter_prompts": agent.starter_prompts,
    }
    # MCP servers, guardrails, handoffs, hosted tools: see hosted_agents/capabilities/.
    names = [tool["name"] for tool in tools]
    if rows is None:
        capabilities = capabilities_freeze(agent, names)
    else:
        capabilities = capabilities_freeze(agent, names, rows.capabilities.get(agent.pk))
    if capabilities:
        config["capabilities"] = capabilities
    return config


def _with_approvals(tools: list[dict[str, Any]], policies: dict[str, str]) -> list[dict[str, Any]]:
    """Freeze each tool's approval policy into its entry (only "ask": "auto" is the default)."""
    for tool in tools:
        if policies.get(tool["name"]) == "ask":
            tool["approval"] = "ask"
    return tools


def _add_version(agent: Agent, config: dict[str, Any], actor: Actor, note: str) -> AgentVersion:
    versions = AgentVersion.objects.for_tenant(agent.tenant_id).filter(agent_id=agent.pk)
    latest = versions.aggregate(latest=Max("number"))["latest"] or 0
    version = AgentVersion(
        tenant_id=agent.tenant_id,
        agent=agent,
        number=latest + 1,
        config=config,
        note=note,
        created_by=actor.user,
    )
    fields_check_length(version)
    version.save()
    agent.published_version = version
    agent.save(update_fields=["published_version", "updated_at"])
    return version


@transaction.atomic
def agent_publish(
    *,
    tenant: Tenant,
    agent_id: int,
    actor: Actor = SYSTEM,
    note: str = "",
) -> AgentVersion:
    """Freeze the draft into the next version and make the endpoint serve it."""
    # The row lock serialises concurrent publishes of one agent, so numbers never collide.
    agent = _locked_agent(tenant, agent_id)
    agent_check(agent)
    previous = agent.published_version_id
    version = _add_version(agent, _config(agent), actor, note)
    audit_event_record(
        tenant=tenant, actor=actor, action="agent.publish", target=agent,
        before={"published_version_id": previous},
        after={"version": version.number, "model": agent.model},
    )  # fmt: skip
    return version


def _check_republishable(agent: Agent, version: AgentVersion) -> None:
    """Raise `InvalidInput` unless `version` would pass the checks of `agent_publish` today.

    The credential, HTTP tools and client tools it names may have been deleted since, and a
    code tool may no longer be registered; serving it would fail at every run.
    """
    config = version.config
    tools = config.get("tools", [])
    as_draft = Agent(
        tenant_id=agent.tenant_id,
        slug=agent.slug,
        name=config.get("name", ""),
        instructions=config.get("instructions", ""),
        model=config.get("model", ""),
        model_settings=dict(config.get("model_settings", {})),
        provider_credential_id=config.get("provider_credential_id"),
        code_tools=[tool["name"] for tool in tools if tool["kind"] == "code"],
        http_tools=[tool["id"] for tool in tools if tool["kind"] == "http"],
        client_tools=[tool["id"] for tool in tools if tool["kind"] == "client"],
        greeting=config.get("greeting", ""),
        starter_prompts=config.get("starter_prompts", []),
    )
    try:
        agent_check(as_draft)
    except InvalidInput as error:
        reason = f"version {version.number} cannot be published again: {error}"
        raise InvalidInput("number", reason) from None


@transaction.atomic
def agent_rollback(
    *,
    tenant: Tenant,
    agent_id: int,
    number: int,
    actor: Actor = SYSTEM,
) -> AgentVersion:
    """Publish a copy of version `number` as the newest version (see the module docstring).

    The copy is checked like a publish: `InvalidInput` if what it names is gone or invalid.
    """
    agent = _locked_agent(tenant, agent_id)
    source = (
        AgentVersion.objects.for_tenant(tenant).filter(agent_id=agent.pk, number=number).first()
    )
    if source is None:
        raise ObjectNotFound("agent version", f"{agent.slug} v{number}")
    _check_republishable(agent, source)
    previous = agent.published_version_id
    version = _add_version(agent, source.config, actor, f"rollback to version {number}")
    audit_event_record(
        tenant=tenant, actor=actor, action="agent.rollback", target=agent,
        before={"published_version_id": previous},
        after={"version": version.number, "copied_from": number},
    )  # fmt: skip
    return version
