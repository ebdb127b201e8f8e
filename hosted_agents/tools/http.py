"""HTTP tools as openai-agents `FunctionTool`s, calling out through the SSRF-safe fetch.

The URL template's `{placeholders}` are filled from the arguments, each URL-encoded as one
segment (so a value cannot add path segments or a query). The client session's state
variables fill `{{ state.name }}` placeholders in the URL (URL-encoded the same way, and
allowed in the same places) and in header values (control characters and non-ASCII
percent-encoded, so a value cannot add a header); a missing variable is empty. The other
arguments become the query string of a GET or DELETE and the JSON body of the other
methods. Header values are secrets: they are decrypted only when the tool is called
(`load_headers`). Whatever fails, the model gets a message it can relay, never an exception.
"""

from __future__ import annotations

import json
import logging
import re
import string
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import jsonschema
from agents import FunctionTool
from agents.tool_context import ToolContext

from hosted_agents import http_fetch
from hosted_agents.instructions import state_fill, state_placeholders_mark
from hosted_agents.tools.code import parse_arguments, tool_output

__all__ = [
    "HeaderLoader",
    "HttpToolSpec",
    "fill_headers",
    "fill_url",
    "http_function_tool",
    "http_request_build",
    "state_of",
    "template_check_placeholders",
    "template_fields",
]

logger = logging.getLogger(__name__)

HeaderLoader = Callable[[int], Awaitable[dict[str, str]]]
Fetcher = Callable[..., Awaitable[http_fetch.FetchResult]]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class HttpToolSpec:
    """An HTTP tool as frozen in a published agent version (no header values)."""

    id: int
    name: str
    description: str
    method: str
    url_template: str
    args_schema: dict[str, Any]
    time_limit_seconds: float
    max_response_bytes: int

    @classmethod
    def from_config(cls, entry: dict[str, Any]) -> HttpToolSpec:
        return cls(**{name: entry[name] for name in cls.__dataclass_fields__})


def template_fields(url_template: str) -> list[str]:
    """Return the placeholder names of a URL template, or raise ValueError if malformed."""
    names = [name for _, name, _, _ in string.Formatter().parse(url_template) if name is not None]
    for name in names:
        if not name.isidentifier():
            raise ValueError(f"placeholder {{{name}}} must be a plain name")
    return names


# What a template must fix before its first placeholder: scheme, host and port, then the
# start of the path or the query. So the model's arguments never choose where a call (and
# the tool's secret headers) go.
_FIXED_ORIGIN = re.compile(r"^https?://[^/?#{}]+[/?]", re.IGNORECASE)


def template_check_placeholders(url_template: str) -> None:
    """Raise ValueError unless every placeholder is in the URL's path or query."""
    # A state placeholder obeys the rules of an argument's.
    url_template = state_placeholders_mark(url_template, "{state}")
    before_first = ""
    in_fragment = False
    seen_placeholder = False
    for literal, name, _, _ in string.Formatter().parse(url_template):
        in_fragment = in_fragment or "#" in literal
        if not seen_placeholder:
            before_first += literal
        if name is None:
            continue
        if in_fragment:
            raise ValueError("a placeholder cannot be in the fragment (after #)")
        if not seen_placeholder and not _FIXED_ORIGIN.match(before_first):
            raise ValueError(
                "placeholders may appear only in the path and the query: write the scheme, "
                "host and port out, as in https://api.example.com/items/{id}"
            )
        seen_placeholder = True


def _url_escape(text: str) -> str:
    return quote(text, safe="")


def _header_escape(text: str) -> str:
    return quote(text, safe=_HEADER_SAFE)


_HEADER_SAFE = "".join(chr(code) for code in range(0x20, 0x7F) if chr(code) != "%")


def state_of(ctx: ToolContext[Any]) -> Mapping[str, Any]:
    """Return the run's state variables ({} outside a client session)."""
    request_context = getattr(ctx.context, "request_context", None)
    state = getattr(request_context, "state_variables", None)
    return state if isinstance(state, Mapping) else {}


def fill_headers(headers: dict[str, str], state: Mapping[str, Any]) -> dict[str, str]:
    """Return the header values with their state placeholders filled (and trimmed: an empty
    variable at the end must not leave a trailing space, which HTTP refuses)."""
    return {
        name: state_fill(value, state, _header_escape).strip() for name, value in headers.items()
    }


def fill_url(
    url_template: str, arguments: dict[str, Any], state: Mapping[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """Return the URL with its placeholders filled, and the arguments left over."""
    # State values are URL-encoded, so they bring no braces for format_map to read.
    url_template = state_fill(url_template, state or {}, _url_escape)
    names = template_fields(url_template)
    missing = [name for name in names if name not in arguments]
    if missing:
        raise ValueError(f"missing argument(s) for the URL: {', '.join(missing)}")
    values = {name: quote(_text(arguments[name]), safe="") for name in names}
    rest = {key: value for key, value in arguments.items() if key not in values}
    return url_template.format_map(values), rest


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value) if value is not None else ""


def _with_query(url: str, arguments: dict[str, Any]) -> str:
    if not arguments:
        return url
    query = urlencode([(key, _text(value)) for key, value in arguments.items()])
    return f"{url}{'&' if '?' in url else '?'}{query}"


def http_request_build(
    spec: HttpToolSpec, arguments: dict[str, Any], state: Mapping[str, Any] | None = None
) -> tuple[str, dict[str, Any] | None]:
    """Return the URL and JSON body (None for GET and DELETE) of a call with `arguments`,
    the session's `state` variables filled into the URL.

    Raise `ValueError` with a message for the model when the arguments do not fit.
    """
    try:
        jsonschema.validate(arguments, spec.args_schema)
    except jsonschema.ValidationError as error:
        raise ValueError(error.message) from None
    url, rest = fill_url(spec.url_template, arguments, state)
    body = rest if spec.method in _BODY_METHODS else None
    if body is None:
        url = _with_query(url, rest)
    return url, body


def http_function_tool(
    spec: HttpToolSpec,
    *,
    load_headers: HeaderLoader,
    allow_private: bool,
    fetcher: Fetcher = http_fetch.fetch,
) -> FunctionTool:
    """Return a FunctionTool that calls the tool's URL and answers with status and body."""

    async def invoke(ctx: ToolContext[Any], raw: str) -> str:
        try:
            state = state_of(ctx)
            url, body = http_request_build(spec, parse_arguments(raw), state)
        except ValueError as error:
            return f"Invalid arguments for {spec.name}: {error}"
        try:
            headers = fill_headers(await load_headers(spec.id), state)
            result = await fetcher(
                spec.method,
                url,
                headers=headers,
                json_body=body,
                timeout_seconds=spec.time_limit_seconds,
                max_response_bytes=spec.max_response_bytes,
                allow_private=allow_private,
            )
        except http_fetch.FetchError as error:
            return f"The HTTP tool {spec.name} failed ({error.reason}): {error}"
        except Exception:
            logger.exception("HTTP tool %s failed", spec.name)
            return f"The HTTP tool {spec.name} failed with an internal error."
        answer = {
            "status": result.status,
            "body": result.body_json if result.body_json is not None else result.body_text,
            "truncated": result.truncated,
        }
        return tool_output(answer)

    return FunctionTool(
        name=spec.name,
        description=spec.description,
        params_json_schema=spec.args_schema,
        on_invoke_tool=invoke,
        # Tenant-written schemas rarely meet strict mode's rules (every property required).
        strict_json_schema=False,
    )
