"""The ninja API of /api/v1/: one instance, one router per domain, the shared error shape.

Errors are the sessions API's (chatkit_endpoints/openai_api/errors.py), so that one client
handles both. The docs page (/api/v1/docs) is ninja's Swagger UI from its own static files
("ninja" is an installed app), never from a CDN.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver

from chatkit_endpoints.openai_api.api import OpenAIShapedAPI
from chatkit_endpoints.openai_api.errors import error_response, install_error_handlers
from management_api import (
    activity,
    agents,
    api_keys,
    capabilities,
    credentials,
    definitions,
    mcp_servers,
    origins,
    threads,
    tools,
)
from management_api.auth import ManagementKeyAuth

__all__ = ["api"]


def _refuse_nul(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    # PostgreSQL text cannot hold NUL: a path or query with one is a 400 on every database.
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        values = [request.path, *kwargs.values(), *request.GET.keys()]
        values += [v for vs in request.GET.lists() for v in vs[1]]
        if any("\x00" in str(value) for value in values):
            return error_response(
                400, "The request must not contain NUL characters.", code="invalid_value"
            )
        return view(request, *args, **kwargs)

    return wrapped


# Every operation may answer these, in the one error shape (see errors.py).
_ERRORS = {
    "400": "Invalid input: `errors` has one entry per invalid field.",
    "401": "The key is missing, unknown, revoked, expired or lacks the scope.",
    "404": "No such object in the key's tenant (another tenant's object too).",
    "405": "The path does not take this method.",
    "409": "A name is taken, or an Idempotency-Key was used with another body.",
    "412": "If-Match names an ETag the object no longer has.",
    "429": "A quota or rate limit of the tenant is used up.",
}
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        },
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "param": {"type": ["string", "null"]},
                    "message": {"type": "string"},
                    "code": {"type": "string"},
                },
            },
        },
    },
}


def _merged(responses: dict[Any, Any]) -> dict[str, Any]:
    # ninja keys its responses by int and `openapi_extra` by str: join both, contents too.
    merged: dict[str, Any] = {}
    for status, response in responses.items():
        known = merged.setdefault(str(status), {})
        content = {**known.get("content", {}), **response.get("content", {})}
        known.update(response)
        if content:
            known["content"] = content
    return merged


class ManagementAPI(OpenAIShapedAPI):
    def get_openapi_schema(self, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(**kwargs)
        schema["components"].setdefault("schemas", {})["Error"] = _ERROR_SCHEMA
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for operations in schema["paths"].values():
            for operation in operations.values():
                responses = _merged(operation.get("responses", {}))
                operation["responses"] = responses
                for status, description in _ERRORS.items():
                    responses.setdefault(status, {"description": description, "content": error})
        return schema

    def _get_urls(self) -> list[URLPattern | URLResolver]:
        urls = super()._get_urls()
        for pattern in urls:
            if isinstance(pattern, URLPattern):
                pattern.callback = _refuse_nul(pattern.callback)
        return urls


api = ManagementAPI(
    title="Management API",
    version="v1",
    description=(
        "Everything the console does, for a tenant's own automation. Authenticate with a "
        "tenant API key as 'Authorization: Bearer': GET needs the management:read scope, "
        "every other method management:write; any key that cannot be used answers 401."
    ),
    urls_namespace="management_api",
    auth=ManagementKeyAuth(),
)
install_error_handlers(api, scope_hint="the management:read (GET) or management:write scope")
for module in (
    agents,
    capabilities,
    definitions,
    tools,
    mcp_servers,
    credentials,
    api_keys,
    origins,
    threads,
    activity,
):
    api.add_router("", module.router)
