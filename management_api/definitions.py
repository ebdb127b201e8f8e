"""Agents as code: GET and PUT /agents/{slug}/definition, as JSON or YAML.

GET answers YAML for `?format=yaml` or an Accept of `application/yaml`; PUT reads YAML when
its Content-Type says so. The document is `hosted_agents.services.definitions.AgentDefinition`.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from ninja.errors import ValidationError
from pydantic import ValidationError as PydanticError

from hosted_agents.selectors import agent_get
from hosted_agents.services.definitions import (
    AgentDefinition,
    agent_definition,
    agent_definition_apply,
)
from management_api.agents import FieldChangeOut
from management_api.auth import request_actor, request_tenant
from management_api.schemas import has_nul

router = Router(tags=["agents as code"])

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
MAX_DOCUMENT_BYTES = 1024 * 1024


class DefinitionQuery(Schema):
    format: Literal["json", "yaml"] | None = None


class DefinitionPutQuery(Schema):
    dry_run: bool = False
    publish: bool = False


class AgentDefinitionOut(Schema):
    slug: str
    name: str
    instructions: str
    model: str
    model_settings: dict[str, Any]
    provider_credential: str | None
    code_tools: list[str]
    http_tools: list[str]
    client_tools: list[str]
    tool_approvals: dict[str, Literal["auto", "ask"]]
    greeting: str
    starter_prompts: list[str]
    workflow_id: str
    # mcp_servers, guardrails, handoffs, hosted_tools; None when the agent has none.
    capabilities: dict[str, Any] | None


class DefinitionAppliedOut(Schema):
    object: Literal["agent.definition.applied"]
    agent: str
    created: bool
    dry_run: bool
    changes: list[FieldChangeOut]
    published_version: int | None
    definition: AgentDefinitionOut


def _wants_yaml(request: HttpRequest, query: DefinitionQuery) -> bool:
    if query.format is not None:
        return query.format == "yaml"
    accept = request.headers.get("Accept", "")
    return any(kind in accept for kind in YAML_TYPES)


def _invalid(errors: list[dict[str, Any]]) -> ValidationError:
    return ValidationError(
        [{**e, "loc": ("body", "definition", *e.get("loc", ()))} for e in errors]
    )


def _document(request: HttpRequest) -> AgentDefinition:
    if len(request.body) > MAX_DOCUMENT_BYTES:
        raise _invalid([{"type": "too_long", "msg": "the document is too large", "loc": ()}])
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
    try:
        if content_type in YAML_TYPES:
            data = yaml.safe_load(request.body.decode("utf-8"))
        else:
            data = json.loads(request.body or b"null")
    except (ValueError, yaml.YAMLError):
        raise _invalid(
            [{"type": "invalid", "msg": "not a JSON or YAML document", "loc": ()}]
        ) from None
    if not isinstance(data, dict) or has_nul(data):
        raise _invalid([{"type": "invalid", "msg": "must be an object without NUL", "loc": ()}])
    try:
        return AgentDefinition.model_validate(data)
    except PydanticError as error:
        raise _invalid([dict(e) for e in error.errors()]) from None


@router.get(
    "/agents/{slug}/definition",
    response=AgentDefinitionOut,
    url_name="agent_definition_get",
    openapi_extra={
        "responses": {"200": {"content": {"application/yaml": {"schema": {"type": "string"}}}}}
    },
)
def agent_definition_get(request: HttpRequest, slug: str, query: Query[DefinitionQuery]) -> Any:
    document = agent_definition(agent=agent_get(tenant=request_tenant(request), slug=slug))
    if _wants_yaml(request, query):
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
        return HttpResponse(text, content_type="application/yaml; charset=utf-8")
    return document


@router.put(
    "/agents/{slug}/definition",
    response=DefinitionAppliedOut,
    url_name="agent_definition_put",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": AgentDefinition.model_json_schema()}},
        }
    },
)
def agent_definition_put(
    request: HttpRequest, slug: str, query: Query[DefinitionPutQuery]
) -> dict[str, Any]:
    applied = agent_definition_apply(
        tenant=request_tenant(request), slug=slug, definition=_document(request),
        publish=query.publish, dry_run=query.dry_run, actor=request_actor(request),
    )  # fmt: skip
    return {
        "object": "agent.definition.applied",
        "agent": slug,
        "created": applied.created,
        "dry_run": applied.dry_run,
        "changes": applied.changes,
        "published_version": applied.published_version,
        "definition": applied.definition,
    }
