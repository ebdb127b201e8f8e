"""An agent's capabilities: GET, PUT (all of them) and PATCH (the parts sent) of its draft.

    {"mcp_servers": [{"server_id": 3, "allowed_tools": ["forecast"], "approval_tools": []}],
     "guardrails": {"input": [check, ...], "output": [check, ...], "message": "..."},
     "hosted_tools": [{"type": "web_search"}, ...],
     "handoffs": [{"agent": "billing", "description": "Billing questions"}],
     "tool_approvals": {"lookup_order": "ask"}}

They take effect at the next publish, which freezes them into the version
(`config["capabilities"]`, see hosted_agents/capabilities/freeze.py). The shape is checked
here; the rules (a server's tools, a published handoff target, the provider) by the
capabilities services, whose refusals answer 400 on the part they name. A write takes
`If-Match`: the ETag of GET, which covers the agent and its capabilities.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from ninja.errors import ValidationError
from pydantic import Field

from hosted_agents.capabilities.guardrails import MAX_PATTERNS
from hosted_agents.capabilities.handoffs import MAX_DESCRIPTION, MAX_HANDOFFS
from hosted_agents.capabilities.hosted_tools import MAX_VECTOR_STORES
from hosted_agents.capabilities.selectors import agent_capabilities_read, agent_ids_by_slug
from hosted_agents.capabilities.services import agent_capabilities_update
from hosted_agents.models import Agent
from hosted_agents.selectors import agent_get
from hosted_agents.services.agents import AGENT
from management_api.agents import ApprovalPolicy
from management_api.auth import request_actor, request_tenant
from management_api.preconditions import etag_digest, if_match
from management_api.schemas import MAX_ID, In, PatchIn
from tenants.models import Tenant

router = Router(tags=["agents"])

ToolName = Annotated[str, Field(max_length=200)]
PiiType = Literal["email", "phone", "card", "iban"]  # guardrails.PII_TYPES
ALL_PII: list[PiiType] = ["email", "phone", "card", "iban"]


class McpServerUseIn(In):
    server_id: int = Field(ge=1, le=MAX_ID)
    allowed_tools: list[ToolName] = Field(default_factory=list, max_length=200)
    # Tools (among the allowed) whose calls wait for the end user's approval.
    approval_tools: list[ToolName] = Field(default_factory=list, max_length=200)


class PiiCheckIn(In):
    kind: Literal["pii"]
    action: Literal["block", "redact"] = "block"
    types: list[PiiType] = Field(default_factory=lambda: list(ALL_PII), min_length=1)


class BlocklistCheckIn(In):
    kind: Literal["blocklist"]
    patterns: list[Annotated[str, Field(max_length=1000)]] = Field(
        min_length=1, max_length=MAX_PATTERNS
    )


class ModerationCheckIn(In):
    kind: Literal["moderation"]


class JailbreakCheckIn(In):
    kind: Literal["jailbreak"]
    model: str = Field(default="gpt-4.1-nano", min_length=1, max_length=200)
    topic: str = Field(default="", max_length=1000)


GuardrailCheckIn = Annotated[
    PiiCheckIn | BlocklistCheckIn | ModerationCheckIn | JailbreakCheckIn,
    Field(discriminator="kind"),
]


class GuardrailsIn(In):
    input: list[GuardrailCheckIn] = Field(default_factory=list, max_length=20)
    output: list[GuardrailCheckIn] = Field(default_factory=list, max_length=20)
    # What the end user reads when a check trips; "" for the platform's default.
    message: str = Field(default="", max_length=1000)


class WebSearchIn(In):
    type: Literal["web_search"]
    search_context_size: Literal["low", "medium", "high"] = "medium"


class FileSearchIn(In):
    type: Literal["file_search"]
    vector_store_ids: list[Annotated[str, Field(max_length=100)]] = Field(
        min_length=1, max_length=MAX_VECTOR_STORES
    )
    max_num_results: int | None = Field(default=None, ge=1, le=50)


class CodeInterpreterIn(In):
    type: Literal["code_interpreter"]


class ImageGenerationIn(In):
    type: Literal["image_generation"]


HostedToolIn = Annotated[
    WebSearchIn | FileSearchIn | CodeInterpreterIn | ImageGenerationIn,
    Field(discriminator="type"),
]


class HandoffIn(In):
    agent: str = Field(min_length=1, max_length=100)  # the target agent's slug
    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION)


class AgentCapabilitiesPutIn(In):
    """Every part; one left out is set to none."""

    mcp_servers: list[McpServerUseIn] = Field(default_factory=list, max_length=20)
    guardrails: GuardrailsIn = Field(default_factory=GuardrailsIn)
    hosted_tools: list[HostedToolIn] = Field(default_factory=list, max_length=4)
    handoffs: list[HandoffIn] = Field(default_factory=list, max_length=MAX_HANDOFFS)
    tool_approvals: dict[str, ApprovalPolicy] = Field(default_factory=dict, max_length=200)


class AgentCapabilitiesPatchIn(PatchIn):
    """Only the parts sent change; none may be null."""

    mcp_servers: list[McpServerUseIn] | None = Field(default=None, max_length=20)
    guardrails: GuardrailsIn | None = Field(default=None)
    hosted_tools: list[HostedToolIn] | None = Field(default=None, max_length=4)
    handoffs: list[HandoffIn] | None = Field(default=None, max_length=MAX_HANDOFFS)
    tool_approvals: dict[str, ApprovalPolicy] | None = Field(default=None, max_length=200)


class McpServerUseOut(Schema):
    server_id: int
    allowed_tools: list[str]
    approval_tools: list[str]


class HandoffOut(Schema):
    agent: str
    description: str


class AgentCapabilitiesOut(Schema):
    object: Literal["agent.capabilities"]
    agent: str
    mcp_servers: list[McpServerUseOut]
    # {} for none, else {"input": [...], "output": [...], "message": "..."}.
    guardrails: dict[str, Any]
    hosted_tools: list[dict[str, Any]]
    handoffs: list[HandoffOut]
    tool_approvals: dict[str, ApprovalPolicy]
    # When a capability last changed (null: never); tool_approvals change with the agent.
    updated_at: datetime | None


def _read(tenant: Tenant, agent: Agent, response: HttpResponse) -> dict[str, Any]:
    values, changed = agent_capabilities_read(tenant=tenant, agent=agent)
    response["ETag"] = _etag_of(agent, changed)
    return {
        "object": "agent.capabilities",
        "agent": agent.slug,
        "mcp_servers": values["mcp_servers"],
        "guardrails": values["guardrails"],
        "hosted_tools": values["hosted_tools"],
        "handoffs": [
            {"agent": entry["slug"], "description": entry["description"]}
            for entry in values["handoffs"]
        ],
        "tool_approvals": agent.tool_approvals,
        "updated_at": changed,
    }


def _etag_of(agent: Agent, changed: datetime | None) -> str:
    stamp = agent.updated_at.isoformat()
    return etag_digest(agent.pk, stamp, changed.isoformat() if changed else "", "capabilities")


def _current_etag(tenant: Tenant, agent: Agent) -> str:
    return _etag_of(agent, agent_capabilities_read(tenant=tenant, agent=agent)[1])


def _write(
    request: HttpRequest,
    response: HttpResponse,
    slug: str,
    body: AgentCapabilitiesPutIn | AgentCapabilitiesPatchIn,
    *,
    full: bool,
) -> dict[str, Any]:
    tenant = request_tenant(request)
    agent = agent_get(tenant=tenant, slug=slug)
    sent = body.model_dump(exclude_none=True)  # nested defaults spelled out
    changes = {part: value for part, value in sent.items() if full or part in body.model_fields_set}
    if "guardrails" in changes and not changes["guardrails"].get("message"):
        changes["guardrails"].pop("message", None)  # the service's default message
    if "handoffs" in changes:
        changes["handoffs"] = _resolved(tenant, changes["handoffs"])
    etag = functools.partial(_current_etag, tenant)
    with if_match(request, AGENT, tenant=tenant, pk=agent.pk, etag=etag):
        agent_capabilities_update(
            tenant=tenant, agent_id=agent.pk, changes=changes, actor=request_actor(request)
        )
    return _read(tenant, agent_get(tenant=tenant, slug=slug), response)


def _resolved(tenant: Tenant, handoffs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = agent_ids_by_slug(tenant=tenant, slugs=[entry["agent"] for entry in handoffs])
    unknown = [(i, e["agent"]) for i, e in enumerate(handoffs) if e["agent"] not in ids]
    if unknown:
        # Another tenant's agent is named exactly like a missing one.
        raise ValidationError(
            [{"type": "value_error", "loc": ("body", "body", "handoffs", i, "agent"),
              "msg": f"no agent is named {name!r}"} for i, name in unknown]
        )  # fmt: skip
    return [{"agent_id": ids[e["agent"]], "description": e["description"]} for e in handoffs]


@router.get(
    "/agents/{slug}/capabilities", response=AgentCapabilitiesOut, url_name="agent_capabilities"
)
def agent_capabilities_get_operation(
    request: HttpRequest, response: HttpResponse, slug: str
) -> dict[str, Any]:
    tenant = request_tenant(request)
    return _read(tenant, agent_get(tenant=tenant, slug=slug), response)


@router.put(
    "/agents/{slug}/capabilities", response=AgentCapabilitiesOut, url_name="agent_capabilities_put"
)
def agent_capabilities_put_operation(
    request: HttpRequest, response: HttpResponse, slug: str, body: AgentCapabilitiesPutIn
) -> dict[str, Any]:
    return _write(request, response, slug, body, full=True)


@router.patch(
    "/agents/{slug}/capabilities",
    response=AgentCapabilitiesOut,
    url_name="agent_capabilities_patch",
)
def agent_capabilities_patch_operation(
    request: HttpRequest, response: HttpResponse, slug: str, body: AgentCapabilitiesPatchIn
) -> dict[str, Any]:
    return _write(request, response, slug, body, full=False)
