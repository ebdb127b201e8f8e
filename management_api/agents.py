"""Agents: drafts, publishing, versions and their diffs, rollback, duplicates.

An agent is addressed by its slug. Updates take `If-Match` (the ETag of GET), creates take
`Idempotency-Key` (management_api/preconditions.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from hosted_agents.models import DEFAULT_MODEL, Agent, AgentVersion
from hosted_agents.selectors import agent_get, agent_list, agent_version_get, agent_version_list
from hosted_agents.services import (
    agent_create,
    agent_delete,
    agent_publish,
    agent_rollback,
    agent_update,
)
from hosted_agents.services.agents import AGENT
from hosted_agents.services.definitions import agent_duplicate, agent_version_diff
from management_api.auth import request_actor, request_tenant
from management_api.pagination import PageQuery, list_out, page_out
from management_api.preconditions import idempotent, if_match, set_etag
from management_api.schemas import MAX_ID, In, PatchIn, number_path

router = Router(tags=["agents"])


SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


# Per tool name: "ask" waits for the end user's approval before each call; "auto" runs it.
ApprovalPolicy = Literal["auto", "ask"]


class AgentCreateIn(In):
    slug: str = Field(min_length=1, max_length=100, pattern=SLUG)
    name: str = Field(min_length=1, max_length=200)
    instructions: str = Field(default="", max_length=100_000)
    model: str = Field(default=DEFAULT_MODEL, min_length=1, max_length=200)
    model_settings: dict[str, Any] = Field(default_factory=dict)
    provider_credential_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    code_tools: list[str] = Field(default_factory=list)
    http_tools: list[int] = Field(default_factory=list)
    client_tools: list[int] = Field(default_factory=list)
    tool_approvals: dict[str, ApprovalPolicy] = Field(default_factory=dict)
    greeting: str = Field(default="", max_length=500)
    starter_prompts: list[str] = Field(default_factory=list)


class AgentUpdateIn(PatchIn):
    """Only the fields sent change; none of them may be null but the credential."""

    nullable = frozenset({"provider_credential_id"})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    instructions: str | None = Field(default=None, max_length=100_000)
    model: str | None = Field(default=None, min_length=1, max_length=200)
    model_settings: dict[str, Any] | None = Field(default=None)
    provider_credential_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    code_tools: list[str] | None = Field(default=None)
    http_tools: list[int] | None = Field(default=None)
    client_tools: list[int] | None = Field(default=None)
    tool_approvals: dict[str, ApprovalPolicy] | None = Field(default=None)
    greeting: str | None = Field(default=None, max_length=500)
    starter_prompts: list[str] | None = Field(default=None)


class AgentPublishIn(In):
    note: str = Field(default="", max_length=200)


class AgentRollbackIn(In):
    number: int = Field(ge=1)


class AgentDuplicateIn(In):
    slug: str = Field(min_length=1, max_length=100, pattern=SLUG)
    name: str | None = Field(default=None, min_length=1, max_length=200)


class AgentOut(Schema):
    id: str
    object: Literal["agent"]
    slug: str
    name: str
    instructions: str
    model: str
    model_settings: dict[str, Any]
    provider_credential_id: int | None
    code_tools: list[str]
    http_tools: list[int]
    client_tools: list[int]
    tool_approvals: dict[str, ApprovalPolicy]
    greeting: str
    starter_prompts: list[str]
    workflow_id: str
    published_version: int | None
    created_at: datetime
    updated_at: datetime


class AgentListOut(Schema):
    object: Literal["list"]
    data: list[AgentOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


class AgentDeleteOut(Schema):
    id: str
    object: Literal["agent.deleted"]
    deleted: bool


class AgentVersionOut(Schema):
    id: str
    object: Literal["agent.version"]
    agent: str
    number: int
    note: str
    config: dict[str, Any]
    created_at: datetime


class AgentVersionListOut(Schema):
    object: Literal["list"]
    data: list[AgentVersionOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


class FieldChangeOut(Schema):
    field: str
    before: Any
    after: Any


class AgentVersionDiffOut(Schema):
    object: Literal["agent.version.diff"]
    agent: str
    first: int
    second: int
    changes: list[FieldChangeOut]


def agent_out(agent: Agent, published: int | None = None) -> dict[str, Any]:
    return {
        "id": agent.slug,
        "object": "agent",
        "slug": agent.slug,
        "name": agent.name,
        "instructions": agent.instructions,
        "model": agent.model,
        "model_settings": agent.model_settings,
        "provider_credential_id": agent.provider_credential_id,
        "code_tools": agent.code_tools,
        "http_tools": agent.http_tools,
        "client_tools": agent.client_tools,
        "tool_approvals": agent.tool_approvals,
        "greeting": agent.greeting,
        "starter_prompts": agent.starter_prompts,
        "workflow_id": agent.workflow_id,
        "published_version": published,
        "created_at": agent.created_at,
        "updated_at": agent.updated_at,
    }


def _with_version(agent: Agent) -> dict[str, Any]:
    version = agent.published_version
    return agent_out(agent, version.number if version is not None else None)


def version_out(agent: Agent, version: AgentVersion) -> dict[str, Any]:
    return {
        "id": str(version.number),
        "object": "agent.version",
        "agent": agent.slug,
        "number": version.number,
        "note": version.note,
        "config": version.config,
        "created_at": version.created_at,
    }


def _changes(body: AgentCreateIn | AgentUpdateIn) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True)


@router.get("/agents", response=AgentListOut, url_name="agent_list")
def agent_list_operation(request: HttpRequest, query: Query[PageQuery]) -> dict[str, Any]:
    rows = agent_list(tenant=request_tenant(request)).select_related("published_version")
    return page_out(rows, query, _with_version, cursor_field="slug")


@router.post("/agents", response={201: AgentOut}, url_name="agent_create")
def agent_create_operation(request: HttpRequest, body: AgentCreateIn) -> Status[Any]:
    def create() -> tuple[int, Any]:
        fields = _changes(body)
        agent = agent_create(
            tenant=request_tenant(request), actor=request_actor(request),
            slug=fields.pop("slug"), name=fields.pop("name"), **fields,
        )  # fmt: skip
        return 201, agent_out(agent)

    return Status(*idempotent(request, body.model_dump(), create))


@router.get("/agents/{slug}", response=AgentOut, url_name="agent_get")
def agent_get_operation(request: HttpRequest, response: HttpResponse, slug: str) -> dict[str, Any]:
    agent = agent_get(tenant=request_tenant(request), slug=slug)
    set_etag(response, agent)
    return _with_version(agent)


@router.patch("/agents/{slug}", response=AgentOut, url_name="agent_update")
def agent_update_operation(
    request: HttpRequest, response: HttpResponse, slug: str, body: AgentUpdateIn
) -> dict[str, Any]:
    tenant = request_tenant(request)
    agent = agent_get(tenant=tenant, slug=slug)
    with if_match(request, AGENT, tenant=tenant, pk=agent.pk):
        agent = agent_update(
            tenant=tenant, agent_id=agent.pk, changes=_changes(body), actor=request_actor(request)
        )
    set_etag(response, agent)
    return _with_version(agent)


@router.delete("/agents/{slug}", response=AgentDeleteOut, url_name="agent_delete")
def agent_delete_operation(request: HttpRequest, slug: str) -> dict[str, Any]:
    tenant = request_tenant(request)
    agent = agent_get(tenant=tenant, slug=slug)
    with if_match(request, AGENT, tenant=tenant, pk=agent.pk):
        agent_delete(tenant=tenant, agent_id=agent.pk, actor=request_actor(request))
    return {"id": slug, "object": "agent.deleted", "deleted": True}


@router.post("/agents/{slug}/publish", response={201: AgentVersionOut}, url_name="agent_publish")
def agent_publish_operation(request: HttpRequest, slug: str, body: AgentPublishIn) -> Status[Any]:
    tenant = request_tenant(request)
    agent = agent_get(tenant=tenant, slug=slug)
    with if_match(request, AGENT, tenant=tenant, pk=agent.pk):
        version = agent_publish(
            tenant=tenant, agent_id=agent.pk, note=body.note, actor=request_actor(request)
        )
    return Status(201, version_out(agent, version))


@router.post("/agents/{slug}/rollback", response={201: AgentVersionOut}, url_name="agent_rollback")
def agent_rollback_operation(request: HttpRequest, slug: str, body: AgentRollbackIn) -> Status[Any]:
    tenant = request_tenant(request)
    agent = agent_get(tenant=tenant, slug=slug)
    version = agent_rollback(
        tenant=tenant, agent_id=agent.pk, number=body.number, actor=request_actor(request)
    )
    return Status(201, version_out(agent, version))


@router.post("/agents/{slug}/duplicate", response={201: AgentOut}, url_name="agent_duplicate")
def agent_duplicate_operation(
    request: HttpRequest, slug: str, body: AgentDuplicateIn
) -> Status[Any]:
    tenant = request_tenant(request)
    source = agent_get(tenant=tenant, slug=slug)

    def create() -> tuple[int, Any]:
        copy = agent_duplicate(
            tenant=tenant, agent_id=source.pk, slug=body.slug, name=body.name,
            actor=request_actor(request),
        )  # fmt: skip
        return 201, agent_out(copy)

    return Status(*idempotent(request, body.model_dump(), create))


@router.get("/agents/{slug}/versions", response=AgentVersionListOut, url_name="agent_versions")
def agent_version_list_operation(
    request: HttpRequest, slug: str, query: Query[PageQuery]
) -> dict[str, Any]:
    tenant = request_tenant(request)
    agent = agent_get(tenant=tenant, slug=slug)
    rows = agent_version_list(tenant=tenant, agent=agent)
    if query.after is not None and not query.after.isdigit():
        return list_out([], False)
    return page_out(rows, query, lambda v: version_out(agent, v), cursor_field="number")


@router.get(
    "/agents/{slug}/versions/{number}", response=AgentVersionOut, url_name="agent_version_get"
)
def agent_version_get_operation(
    request: HttpRequest, slug: str, number: int = number_path()
) -> dict[str, Any]:
    tenant = request_tenant(request)
    agent = agent_get(tenant=tenant, slug=slug)
    return version_out(agent, agent_version_get(tenant=tenant, agent=agent, number=number))


@router.get(
    "/agents/{slug}/versions/{first}/diff/{second}",
    response=AgentVersionDiffOut,
    url_name="agent_version_diff",
)
def agent_version_diff_operation(
    request: HttpRequest, slug: str, first: int = number_path(), second: int = number_path()
) -> dict[str, Any]:
    tenant = request_tenant(request)
    agent = agent_get(tenant=tenant, slug=slug)
    older = agent_version_get(tenant=tenant, agent=agent, number=first)
    newer = agent_version_get(tenant=tenant, agent=agent, number=second)
    return {
        "object": "agent.version.diff",
        "agent": agent.slug,
        "first": first,
        "second": second,
        "changes": agent_version_diff(first=older, second=newer),
    }
