"""The run's side: record the call, send it on commit, await the row without blocking."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from channels.db import aclose_old_connections, database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from hosted_agents.long_tools.common import (
    DEADLINE_SLACK,
    PICKUP_TIMEOUT_SECONDS,
    POLL_SECONDS,
    LongToolError,
    Status,
    send_on_commit,
    timed_out_error,
)
from hosted_agents.models import ToolCall

__all__ = ["long_tool_run", "tool_call_enqueue"]

logger = logging.getLogger(__name__)


def tool_call_enqueue(
    *,
    tenant_id: int,
    thread_id: str,
    run_id: str,
    call_id: str,
    tool_name: str,
    arguments: dict[str, Any],
    time_limit_seconds: float,
) -> ToolCall:
    """Record the call, or find the one recorded before; send it to a worker on commit.

    A call is known by its thread, the run that made it and its call id: providers reuse
    call ids across runs, so the call id alone would hand a new call an old result. Raises
    `LongToolError` if the ids were used before for another tool or other arguments.
    """
    limit = min(float(time_limit_seconds), float(settings.LONG_TOOL_TIMEOUT_SECONDS))
    now = timezone.now()
    with transaction.atomic():
        call, created = ToolCall.objects.for_tenant(tenant_id).get_or_create(
            thread_id=thread_id,
            run_id=run_id,
            call_id=call_id,
            defaults={
                "tenant_id": tenant_id,
                "tool_name": tool_name,
                "arguments": arguments,
                "time_limit_seconds": limit,
                "queued_at": now,
                "sent_at": now,
            },
        )
        if created:
            send_on_commit(call.tenant_id, call.pk, limit)
        elif (call.tool_name, call.arguments) != (tool_name, arguments):
            raise LongToolError(
                "call_id_reused",
                f"The tool call id {call_id} was already used for another call in this run.",
            )
    return call


_enqueue = database_sync_to_async(tool_call_enqueue)


_WATCHED = (
    "status",
    "tool_name",
    "time_limit_seconds",
    "progress_text",
    "progress_fraction",
    "result",
    "error_code",
    "error_message",
    "queued_at",
    "deadline",
    "claim_token",
)


async def long_tool_run(
    *,
    tenant_id: int,
    thread_id: str,
    run_id: str,
    call_id: str,
    tool_name: str,
    arguments: dict[str, Any],
    time_limit_seconds: float,
    on_progress: Callable[[str, float | None], Awaitable[None]],
    pickup_timeout_seconds: float = PICKUP_TIMEOUT_SECONDS,
    poll_seconds: float = POLL_SECONDS,
) -> Any:
    """Run a long-running code tool on a worker; return its result or raise `LongToolError`.

    Calling again with the same ids awaits (or returns) the call recorded the first time.
    Cancelling only stops the wait: the worker still runs the call and records its result.
    """
    call = await _enqueue(
        tenant_id=tenant_id,
        thread_id=thread_id,
        run_id=run_id,
        call_id=call_id,
        tool_name=tool_name,
        arguments=arguments,
        time_limit_seconds=time_limit_seconds,
    )
    try:
        return await _await_outcome(
            tenant_id, call.pk, on_progress, timedelta(seconds=pickup_timeout_seconds), poll_seconds
        )
    finally:
        # The polls keep one connection in the ORM's thread; hand it back after the wait.
        await aclose_old_connections()


async def _await_outcome(
    tenant_id: int,
    tool_call_id: int,
    on_progress: Callable[[str, float | None], Awaitable[None]],
    pickup: timedelta,
    poll_seconds: float,
) -> Any:
    waiting_since = timezone.now()
    shown: tuple[str, float | None] = ("", None)
    rows = ToolCall.objects.for_tenant(tenant_id).filter(pk=tool_call_id)
    while True:
        row = await rows.values(*_WATCHED).aget()
        progress = (row["progress_text"], row["progress_fraction"])
        if progress != shown and progress[0]:
            shown = progress
            await on_progress(*progress)
        if row["status"] in ToolCall.FINISHED:
            return _outcome(row)
        problem = _overdue(row, pickup_from=max(row["queued_at"], waiting_since), pickup=pickup)
        if problem is not None and await _agive_up(tenant_id, tool_call_id, row, problem):
            raise problem
        await asyncio.sleep(poll_seconds)


def _outcome(row: dict[str, Any]) -> Any:
    if row["status"] == Status.DONE:
        return row["result"]
    raise LongToolError(
        row["error_code"] or "tool_error",
        row["error_message"] or f"The tool '{row['tool_name']}' failed.",
    )


def _overdue(
    row: dict[str, Any], *, pickup_from: datetime, pickup: timedelta
) -> LongToolError | None:
    now = timezone.now()
    name = row["tool_name"]
    if row["status"] == Status.QUEUED and now > pickup_from + pickup:
        return LongToolError(
            "no_worker",
            f"No worker is available to run the tool '{name}': none picked it up within "
            f"{pickup.total_seconds():g} seconds. Please try again later.",
        )
    if (
        row["status"] == Status.RUNNING
        and row["deadline"]
        and now > row["deadline"] + DEADLINE_SLACK
    ):
        return timed_out_error(name, row["time_limit_seconds"])
    return None


def _give_up(tenant_id: int, tool_call_id: int, row: dict[str, Any], error: LongToolError) -> bool:
    """Record `error` unless the call moved on since `row` was read; return whether it did."""
    status = Status.TIMED_OUT if error.code == "timed_out" else Status.FAILED
    changed = (
        ToolCall.objects.for_tenant(tenant_id)
        .filter(pk=tool_call_id, status=row["status"], claim_token=row["claim_token"])
        .update(
            status=status,
            claim_token="",
            error_code=error.code,
            error_message=error.message,
            finished_at=timezone.now(),
        )
    )
    if changed:
        logger.warning("tool call %s/%s gave up: %s", tenant_id, tool_call_id, error.code)
    return changed == 1


_agive_up = database_sync_to_async(_give_up)
