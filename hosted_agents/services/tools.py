"""HTTP and client tools defined by a tenant admin.

Deleting a tool also removes it from every agent's draft; published versions keep their
frozen copy (an HTTP tool whose row is gone answers the model with an error at call time,
because its header secrets went with the row).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import jsonschema
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction

from hosted_agents import http_fetch
from hosted_agents.exceptions import InvalidInput, ObjectNotFound
from hosted_agents.http_fetch import FetchError, FetchResult, header_check
from hosted_agents.models import Agent, ClientTool, HttpTool
from hosted_agents.models.tools import (
    MAX_HTTP_RESPONSE_BYTES,
    MAX_HTTP_TIME_LIMIT_SECONDS,
    TOOL_NAME_PATTERN,
)
from hosted_agents.services.common import RowSpec, row_create, row_delete, row_update
from hosted_agents.tools.http import (
    HttpToolSpec,
    http_request_build,
    template_check_placeholders,
    template_fields,
)
from tenants.actors import SYSTEM, Actor
from tenants.encryption import decrypt, encrypt, mask_secret
from tenants.models import Tenant
from tenants.services.audit import audit_event_record

MAX_HEADERS = 20
# Framing and routing headers are the fetch's to set (it refuses them too).
_PLATFORM_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "upgrade", "te"}
)
_HTTP_FIELDS = frozenset(
    {
        "name",
        "description",
        "method",
        "url_template",
        "headers",
        "args_schema",
        "time_limit_seconds",
        "max_response_bytes",
    }
)
_CLIENT_FIELDS = frozenset({"name", "description", "args_schema"})


# --------------------------------------------------------------------------- shared checks


def args_schema_normalized(schema: Any) -> dict[str, Any]:
    """Return a valid JSON schema for a tool's arguments (an object), or raise InvalidInput."""
    if schema in (None, {}):
        return {"type": "object", "properties": {}}
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise InvalidInput("args_schema", 'must be a JSON schema with "type": "object"')
    if not isinstance(schema.get("properties", {}), dict):
        raise InvalidInput("args_schema", '"properties" must be an object')
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as error:
        raise InvalidInput("args_schema", error.message) from None
    return {"properties": {}, **schema}


def _check_common(tool: HttpTool | ClientTool) -> None:
    if not TOOL_NAME_PATTERN.match(tool.name):
        raise InvalidInput("name", "use 1 to 64 letters, digits, '_' or '-'")
    if not tool.description.strip():
        raise InvalidInput("description", "must not be empty: the model reads it")
    tool.args_schema = args_schema_normalized(tool.args_schema)


def _drop_from_drafts(tenant: Tenant, field: str, tool_id: int) -> None:
    # Few agents per tenant, and JSON containment differs between SQLite and PostgreSQL.
    for agent in Agent.objects.for_tenant(tenant).select_for_update():
        ids = getattr(agent, field)
        if tool_id in ids:
            setattr(agent, field, [i for i in ids if i != tool_id])
            agent.save(update_fields=[field, "updated_at"])


# --------------------------------------------------------------------------- HTTP tools


def _http_summary(tool: HttpTool) -> dict[str, Any]:
    # Header names and masked hints only: never a value, not even encrypted.
    return {
        "name": tool.name,
        "method": tool.method,
        "url_template": tool.url_template,
        "header_hints": tool.header_hints,
        "time_limit_seconds": tool.time_limit_seconds,
        "max_response_bytes": tool.max_response_bytes,
    }


def http_tool_check(tool: HttpTool) -> None:
    """Raise `InvalidInput` unless the tool's definition is valid."""
    _check_common(tool)
    tool.method = tool.method.upper()
    if tool.method not in HttpTool.Method.values:
        raise InvalidInput("method", f"must be one of {', '.join(HttpTool.Method.values)}")
    try:
        fields = template_fields(tool.url_template)
        example = tool.url_template.format_map({name: "x" for name in fields})
    except (ValueError, KeyError, IndexError) as error:
        raise InvalidInput("url_template", f"not a valid template: {error}") from None
    try:
        template_check_placeholders(tool.url_template)
    except ValueError as error:
        raise InvalidInput("url_template", str(error)) from None
    parts = urlsplit(example)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url_template", "must be an http(s) URL with a host")
    unknown = [name for name in fields if name not in tool.args_schema["properties"]]
    if unknown:
        raise InvalidInput("url_template", f"{{{unknown[0]}}} is not an argument in args_schema")
    if not 0.5 <= float(tool.time_limit_seconds) <= MAX_HTTP_TIME_LIMIT_SECONDS:
        raise InvalidInput("time_limit_seconds", f"must be 0.5 to {MAX_HTTP_TIME_LIMIT_SECONDS:g}")
    if not 256 <= int(tool.max_response_bytes) <= MAX_HTTP_RESPONSE_BYTES:
        raise InvalidInput("max_response_bytes", f"must be 256 to {MAX_HTTP_RESPONSE_BYTES}")


def http_tool_set_headers(tool: HttpTool, headers: dict[str, str]) -> None:
    """Encrypt `headers` into the (unsaved) tool, replacing the old ones; keep their hints."""
    if not isinstance(headers, dict) or len(headers) > MAX_HEADERS:
        raise InvalidInput("headers", f"must be an object of at most {MAX_HEADERS} headers")
    for name, value in headers.items():
        if isinstance(name, str) and name.lower() in _PLATFORM_HEADERS:
            raise InvalidInput("headers", f"{name} is set by the platform")
        try:
            header_check(name, value)
        except FetchError as error:
            raise InvalidInput("headers", str(error)) from None
    tool.headers_encrypted = encrypt(json.dumps(headers)) if headers else ""
    tool.header_hints = {name: mask_secret(value) for name, value in headers.items()}


def _headers_setter(tool: HttpTool, headers: Any) -> list[str]:
    # None (or no `headers` at all) keeps the stored header values.
    if headers is None:
        return []
    http_tool_set_headers(tool, headers)
    return ["headers_encrypted", "header_hints"]


HTTP_TOOL: RowSpec[HttpTool] = RowSpec(
    model=HttpTool,
    entity="HTTP tool",
    action="http_tool",
    fields=_HTTP_FIELDS,
    summary=_http_summary,
    check=http_tool_check,
    unique="name",
    setters={"headers": _headers_setter},
)


@transaction.atomic
def http_tool_create(
    *,
    tenant: Tenant,
    name: str,
    description: str,
    url_template: str,
    method: str = HttpTool.Method.GET,
    headers: dict[str, str] | None = None,
    args_schema: dict[str, Any] | None = None,
    time_limit_seconds: float = 10.0,
    max_response_bytes: int = 64 * 1024,
    actor: Actor = SYSTEM,
) -> HttpTool:
    """Define an HTTP tool; header values are encrypted and only their hints shown again."""
    tool = HttpTool(
        tenant=tenant,
        name=name.strip(),
        description=description.strip(),
        method=method,
        url_template=url_template.strip(),
        args_schema=args_schema,
        time_limit_seconds=time_limit_seconds,
        max_response_bytes=max_response_bytes,
    )
    http_tool_set_headers(tool, headers or {})
    return row_create(HTTP_TOOL, tenant=tenant, row=tool, actor=actor)


@transaction.atomic
def http_tool_update(
    *,
    tenant: Tenant,
    tool_id: int,
    changes: dict[str, Any],
    actor: Actor = SYSTEM,
) -> HttpTool:
    """Change an HTTP tool; `headers` (if given and not None) replaces all header values."""
    return row_update(HTTP_TOOL, tenant=tenant, pk=tool_id, changes=changes, actor=actor)


@transaction.atomic
def http_tool_delete(*, tenant: Tenant, tool_id: int, actor: Actor = SYSTEM) -> None:
    row_delete(
        HTTP_TOOL, tenant=tenant, pk=tool_id, actor=actor,
        before_delete=lambda tool: _drop_from_drafts(tenant, "http_tools", tool.pk),
    )  # fmt: skip


def http_tool_try(
    *,
    tenant: Tenant,
    tool_id: int,
    arguments: dict[str, Any],
    actor: Actor = SYSTEM,
    fetcher: Any = http_fetch.fetch,
) -> FetchResult:
    """Call the saved tool with `arguments` as a run would, and return the whole answer.

    The same request as the model's call: arguments checked against the schema, the URL
    filled, the header secrets decrypted, the fetch held to the address policy
    (`CHATKIT_ALLOW_PRIVATE_NETWORK`). Bad arguments raise `InvalidInput("arguments")`; a
    refused or failed fetch raises `FetchError`. Both outcomes are audited (never a header
    value). Sync: call it from a view, not from the event loop.
    """
    tool = HttpTool.objects.for_tenant(tenant).filter(pk=tool_id).first()
    if tool is None:
        raise ObjectNotFound("HTTP tool", tool_id)
    spec = HttpToolSpec(
        id=tool.pk, name=tool.name, description=tool.description, method=tool.method,
        url_template=tool.url_template, args_schema=tool.args_schema,
        time_limit_seconds=tool.time_limit_seconds, max_response_bytes=tool.max_response_bytes,
    )  # fmt: skip
    try:
        url, body = http_request_build(spec, arguments)
    except ValueError as error:
        raise InvalidInput("arguments", str(error)) from None
    headers = json.loads(decrypt(tool.headers_encrypted)) if tool.headers_encrypted else {}
    outcome: dict[str, Any] = {"method": tool.method, "url": url}
    try:
        result: FetchResult = async_to_sync(fetcher)(
            tool.method, url, headers=headers, json_body=body,
            timeout_seconds=tool.time_limit_seconds, max_response_bytes=tool.max_response_bytes,
            allow_private=settings.CHATKIT_ALLOW_PRIVATE_NETWORK,
        )  # fmt: skip
    except FetchError as error:
        outcome |= {"error": error.reason}
        raise
    else:
        outcome |= {"status": result.status, "truncated": result.truncated}
    finally:
        audit_event_record(
            tenant=tenant, actor=actor, action="http_tool.try", target=tool, after=outcome
        )
    return result


# --------------------------------------------------------------------------- client tools


def client_tool_check(tool: ClientTool) -> None:
    """Raise `InvalidInput` unless name, description and schema are valid (normalises it)."""
    _check_common(tool)


def _client_summary(tool: ClientTool) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "args_schema": tool.args_schema}


CLIENT_TOOL: RowSpec[ClientTool] = RowSpec(
    model=ClientTool,
    entity="client tool",
    action="client_tool",
    fields=_CLIENT_FIELDS,
    summary=_client_summary,
    check=client_tool_check,
    unique="name",
)


@transaction.atomic
def client_tool_create(
    *,
    tenant: Tenant,
    name: str,
    description: str,
    args_schema: dict[str, Any] | None = None,
    actor: Actor = SYSTEM,
) -> ClientTool:
    """Define a tool that the ChatKit client runs (a `client_tool_call` item)."""
    tool = ClientTool(
        tenant=tenant, name=name.strip(), description=description.strip(), args_schema=args_schema
    )
    return row_create(CLIENT_TOOL, tenant=tenant, row=tool, actor=actor)


@transaction.atomic
def client_tool_update(
    *,
    tenant: Tenant,
    tool_id: int,
    changes: dict[str, Any],
    actor: Actor = SYSTEM,
) -> ClientTool:
    return row_update(CLIENT_TOOL, tenant=tenant, pk=tool_id, changes=changes, actor=actor)


@transaction.atomic
def client_tool_delete(*, tenant: Tenant, tool_id: int, actor: Actor = SYSTEM) -> None:
    row_delete(
        CLIENT_TOOL, tenant=tenant, pk=tool_id, actor=actor,
        before_delete=lambda tool: _drop_from_drafts(tenant, "client_tools", tool.pk),
    )  # fmt: skip
