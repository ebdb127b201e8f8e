"""The one error shape of the sessions and threads API, OpenAI's, and what maps to it.

    {"error": {"message": str, "type": str, "param": str | None, "code": str | None}}

    ninja ValidationError          400  invalid_request_error  param: the field, dotted
    tenants InvalidInput           400  invalid_request_error  param: the field
    ninja AuthenticationError,     401  invalid_request_error  code: invalid_api_key
      tenants ApiKeyRejected            (every reason alike: see tenants/exceptions.py)
    tenants ObjectNotFound,        404  invalid_request_error  (another tenant's object too)
      Django Http404, unknown URL
    a method the path lacks        405  invalid_request_error  (with its Allow header)
    tenants AlreadyExists          409  invalid_request_error
    ninja HttpError                its status

The official `openai` client raises its own exception class for each status (BadRequestError,
AuthenticationError, NotFoundError, ...) and reads `message`, `type`, `param` and `code`.
Anything else is a bug: it is not caught here, Django logs it and answers 500.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from tenants.exceptions import AlreadyExists, ApiKeyRejected, InvalidInput, ObjectNotFound

__all__ = ["error_response", "install_error_handlers", "json_method_not_allowed", "unknown_url"]

INVALID_REQUEST = "invalid_request_error"


def error_response(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    error_type: str = INVALID_REQUEST,
) -> JsonResponse:
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return JsonResponse(body, status=status)


def _not_authenticated() -> HttpResponse:
    response = error_response(
        401,
        "Invalid API key. Send a tenant API key with the chat scope as 'Authorization: Bearer'.",
        code="invalid_api_key",
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


def _field(location: Iterable[Any]) -> str | None:
    # ninja locates an error as (source, [body parameter name,] field, subfield, ...).
    parts = [str(part) for part in location]
    if parts and parts[0] == "body":
        parts = parts[2:]
    elif parts:
        parts = parts[1:]
    if "[key]" in parts:
        # pydantic places a bad mapping key at (..., mapping, key, "[key]"): name the mapping.
        parts = parts[: parts.index("[key]") - 1]
    return ".".join(parts) or None


def _invalid(exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    param = _field(first.get("loc", ()))
    kind = first.get("type", "")
    if kind == "missing":
        message = f"Missing required parameter: '{param}'."
        return error_response(400, message, param=param, code="missing_required_parameter")
    if kind == "extra_forbidden":
        message = f"Unknown parameter: '{param}'."
        return error_response(400, message, param=param, code="unknown_parameter")
    if param is None:
        return error_response(400, "The body of the request is not valid.", code="invalid_body")
    message = f"Invalid value for '{param}': {first.get('msg', 'invalid value')}."
    return error_response(400, message, param=param, code="invalid_value")


def _handle(request: HttpRequest, exc: Any) -> HttpResponse:
    if isinstance(exc, ValidationError):
        return _invalid(exc)
    if isinstance(exc, InvalidInput):
        message = f"Invalid value for '{exc.field}': {exc.message}."
        return error_response(400, message, param=exc.field, code="invalid_value")
    if isinstance(exc, AuthenticationError | ApiKeyRejected):
        return _not_authenticated()
    if isinstance(exc, ObjectNotFound):
        return error_response(404, f"No {exc.entity} found with id '{exc.identifier}'.")
    if isinstance(exc, Http404):
        return error_response(404, "Not found.")
    if isinstance(exc, AlreadyExists):
        return error_response(409, f"The {exc.entity} '{exc.identifier}' already exists.")
    if isinstance(exc, HttpError):
        return error_response(exc.status_code, str(exc))
    raise exc  # not ours to answer: Django logs it and answers 500


_HANDLED = (
    ValidationError,
    InvalidInput,
    AuthenticationError,
    ApiKeyRejected,
    ObjectNotFound,
    Http404,
    AlreadyExists,
    HttpError,
)


def install_error_handlers(api: NinjaAPI) -> None:
    """Answer every 4xx of `api` in OpenAI's shape, replacing ninja's own handlers."""
    for exc_class in _HANDLED:
        api.add_exception_handler(exc_class, _handle)


def unknown_url(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Answer a URL (or a method) this API does not have, as OpenAI's API does."""
    return error_response(404, f"Invalid URL ({request.method} {request.path}).")


def json_method_not_allowed(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap a ninja path view so that a method it lacks gets a 405 in the error shape.

    ninja answers such a request itself, with a plain-text 405 that no exception handler
    sees.
    """

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            message = f"{request.method} is not allowed on {request.path}."
            allowed = error_response(405, message)
            allowed["Allow"] = response["Allow"]
            return allowed
        return response

    return wrapped
