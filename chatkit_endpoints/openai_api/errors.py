"""The one error shape of the platform's REST APIs (/v1/chatkit/ and /api/v1/), OpenAI's.

    {"error": {"message": str, "type": str, "param": str | None, "code": str | None},
     "errors": [{"param", "message", "code"}, ...]}    (400 only: one entry per bad field)

    ninja ValidationError          400  invalid_request_error  param: the field, dotted
    DomainError by its kind (tenants/exceptions.py), in one place:
      INVALID                      400  invalid_request_error  param: the field
      UNAUTHENTICATED              401  invalid_request_error  code: invalid_api_key
        and ninja AuthenticationError   (every reason alike, a missing scope included)
      FORBIDDEN                    403  permission_error
      NOT_FOUND                    404  invalid_request_error  (another tenant's object too)
        and Django Http404, unknown URL
      CONFLICT                     409  invalid_request_error
      LIMIT                        429  rate_limit_error
    a method the path lacks        405  invalid_request_error  (with its Allow header)
    ninja HttpError                its status, `code` from `ApiError`

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

from tenants.exceptions import DomainError, ErrorKind, InvalidInput, ObjectNotFound

__all__ = [
    "ApiError",
    "error_response",
    "install_error_handlers",
    "json_method_not_allowed",
    "unknown_url",
]

INVALID_REQUEST = "invalid_request_error"


def error_response(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    error_type: str = INVALID_REQUEST,
    errors: list[dict[str, Any]] | None = None,
) -> JsonResponse:
    body: dict[str, Any] = {
        "error": {"message": message, "type": error_type, "param": param, "code": code}
    }
    if errors is not None:
        body["errors"] = errors
    return JsonResponse(body, status=status)


class ApiError(HttpError):
    """An answer an interface gives itself (a stale If-Match, a reused Idempotency-Key)."""

    def __init__(self, status_code: int, message: str, *, code: str | None = None) -> None:
        super().__init__(status_code, message)
        self.code = code


def _not_authenticated(scope_hint: str) -> HttpResponse:
    response = error_response(
        401,
        f"Invalid API key. Send a tenant API key with {scope_hint} as 'Authorization: Bearer'.",
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


def _field_error(error: dict[str, Any]) -> dict[str, Any]:
    param = _field(error.get("loc", ()))
    kind = error.get("type", "")
    if kind == "missing":
        return {"param": param, "code": "missing_required_parameter",
                "message": f"Missing required parameter: '{param}'."}  # fmt: skip
    if kind == "extra_forbidden":
        return {"param": param, "code": "unknown_parameter",
                "message": f"Unknown parameter: '{param}'."}  # fmt: skip
    if param is None:
        reason = str(error.get("msg", "")).removeprefix("Value error, ")
        message = (
            f"The body of the request is not valid: {reason}."
            if reason
            else ("The body of the request is not valid.")
        )
        return {"param": None, "code": "invalid_body", "message": message}
    message = f"Invalid value for '{param}': {error.get('msg', 'invalid value')}."
    return {"param": param, "code": "invalid_value", "message": message}


def _invalid(exc: ValidationError) -> HttpResponse:
    errors = [_field_error(error) for error in exc.errors] or [_field_error({})]
    first = errors[0]
    return error_response(
        400, first["message"], param=first["param"], code=first["code"], errors=errors
    )


def _input_errors(exc: InvalidInput) -> HttpResponse:
    errors = [
        {"param": field, "code": "invalid_value", "message": f"Invalid value for '{field}': {m}."}
        for field, messages in exc.field_errors.items()
        for m in messages
    ]
    first = errors[0]
    return error_response(
        400, first["message"], param=first["param"], code="invalid_value", errors=errors
    )


_STATUS = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.LIMIT: 429,
}
_TYPE = {ErrorKind.FORBIDDEN: "permission_error", ErrorKind.LIMIT: "rate_limit_error"}


def _domain(exc: DomainError, scope_hint: str) -> HttpResponse:
    if exc.kind == ErrorKind.UNAUTHENTICATED:
        return _not_authenticated(scope_hint)
    if isinstance(exc, InvalidInput):
        return _input_errors(exc)
    if exc.kind == ErrorKind.INVALID:
        return error_response(400, str(exc), code="invalid_value", errors=[])
    if isinstance(exc, ObjectNotFound):
        message = f"No {exc.entity} found with id '{exc.identifier}'."
    elif exc.kind == ErrorKind.CONFLICT and hasattr(exc, "entity"):
        message = f"The {exc.entity} '{getattr(exc, 'identifier', '')}' already exists."
    else:
        message = str(exc)
    return error_response(
        _STATUS[exc.kind],
        message,
        error_type=_TYPE.get(exc.kind, INVALID_REQUEST),
        code=getattr(exc, "code", None),
    )


def _handler(scope_hint: str) -> Callable[[HttpRequest, Any], HttpResponse]:
    def handle(request: HttpRequest, exc: Any) -> HttpResponse:
        if isinstance(exc, ValidationError):
            return _invalid(exc)
        if isinstance(exc, DomainError):
            return _domain(exc, scope_hint)
        if isinstance(exc, AuthenticationError):
            return _not_authenticated(scope_hint)
        if isinstance(exc, Http404):
            return error_response(404, "Not found.")
        if isinstance(exc, HttpError):
            return error_response(exc.status_code, str(exc), code=getattr(exc, "code", None))
        raise exc  # not ours to answer: Django logs it and answers 500

    return handle


_HANDLED = (ValidationError, DomainError, AuthenticationError, Http404, HttpError)


def install_error_handlers(api: NinjaAPI, *, scope_hint: str = "the chat scope") -> None:
    """Answer every 4xx of `api` in the one error shape, replacing ninja's own handlers."""
    handle = _handler(scope_hint)
    for exc_class in _HANDLED:
        api.add_exception_handler(exc_class, handle)


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
