"""Carry the log context into Celery tasks: a task's lines name the request that queued it.

The publishing process adds its ids to the message headers (`before_task_publish`); the
worker binds them around the task (`task_prerun` / `task_postrun`). Tasks queued by beat
carry none and log without them.
"""

from __future__ import annotations

from contextvars import Token
from typing import Any

from celery import signals

from operations.context import FIELDS, log_context, log_context_bind, log_context_reset

__all__ = ["HEADER", "connect"]

HEADER = "ckp_log_context"
# Keyed by task id: prerun and postrun are separate signal calls in the same worker thread.
_tokens: dict[str, dict[str, Token[str]]] = {}


def _on_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
    context = log_context()
    if headers is not None and context:
        headers[HEADER] = context


def _on_prerun(task_id: str = "", task: Any = None, **_: Any) -> None:
    request = getattr(task, "request", None)
    context = getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(
        HEADER
    )
    if isinstance(context, dict):
        ids = {name: context[name] for name in FIELDS if isinstance(context.get(name), str)}
        _tokens[task_id] = log_context_bind(**ids)


def _on_postrun(task_id: str = "", **_: Any) -> None:
    tokens = _tokens.pop(task_id, None)
    if tokens:
        log_context_reset(tokens)


def connect() -> None:
    """Connect the receivers (idempotent: Celery keeps one per dispatch_uid)."""
    signals.before_task_publish.connect(_on_publish, dispatch_uid="ckp_log_publish", weak=False)
    signals.task_prerun.connect(_on_prerun, dispatch_uid="ckp_log_prerun", weak=False)
    signals.task_postrun.connect(_on_postrun, dispatch_uid="ckp_log_postrun", weak=False)
