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
    credentials,
    definitions,
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


class ManagementAPI(OpenAIShapedAPI):
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
for module in (agents, definitions, tools, credentials, api_keys, origins, threads, activity):
    api.add_router("", module.router)
