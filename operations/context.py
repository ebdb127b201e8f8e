"""The ids every log line carries where known: request, tenant, agent, run.

They live in context variables, so each request, asyncio task and Celery task has its own:
`asyncio.create_task` copies the context (a detached run keeps its request's ids), and
asgiref's `sync_to_async` carries it into the ORM thread. Interfaces set what they learn
(`log_context_bind`); `LogContextFilter` copies the values onto each record.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar, Token
from typing import Any

__all__ = [
    "FIELDS",
    "LogContextFilter",
    "log_context",
    "log_context_bind",
    "log_context_reset",
    "request_id_from_header",
]

FIELDS = ("request_id", "tenant", "agent", "run_id")
_vars: dict[str, ContextVar[str]] = {name: ContextVar(f"ckp_{name}", default="") for name in FIELDS}
# A client's id is echoed into logs and headers: keep it short and printable.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,100}$")


def request_id_from_header(value: bytes | str | None) -> str:
    """Return the client's X-Request-ID when it is a sane token, else a new id."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if value and _REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


def log_context_bind(**values: Any) -> dict[str, Token[str]]:
    """Set some of the ids (request_id, tenant, agent, run_id); return tokens to reset them."""
    tokens = {}
    for name, value in values.items():
        if value is not None:
            tokens[name] = _vars[name].set(str(value))
    return tokens


def log_context_reset(tokens: dict[str, Token[str]]) -> None:
    for name, token in tokens.items():
        _vars[name].reset(token)


def log_context() -> dict[str, str]:
    """Return the ids set in this context (those not set are left out)."""
    return {name: value for name, var in _vars.items() if (value := var.get())}


class LogContextFilter(logging.Filter):
    """Copy the context's ids onto every record (empty strings where unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        known = []
        for name, var in _vars.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
            if value := getattr(record, name):
                known.append(f"{name}={value}")
        # For the text format: " [request_id=... tenant=...]", or nothing.
        record.log_context = f" [{' '.join(known)}]" if known else ""
        return True
