"""What the run's side, the worker's side and the sweep share: timings, errors, sending."""

from __future__ import annotations

from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction

from hosted_agents.models import ToolCall

__all__ = [
    "DEADLINE_SLACK",
    "HARD_LIMIT_GRACE_SECONDS",
    "HEARTBEAT_SECONDS",
    "MAX_ATTEMPTS",
    "PICKUP_TIMEOUT_SECONDS",
    "POLL_SECONDS",
    "PROGRESS_SECONDS",
    "QUEUED_GIVE_UP_AFTER",
    "RESEND_AFTER",
    "STALE_AFTER",
    "LongToolError",
    "Status",
    "send_on_commit",
    "timed_out_error",
    "tool_call_send",
]

MAX_ATTEMPTS = 3
# A message lost with its worker (taken, not yet claimed, when the worker died: Redis hands
# it back only after the visibility timeout) is re-sent by the sweep after RESEND_AFTER, at
# the sweep after that (every LONG_TOOL_SWEEP_SECONDS, 15): so the run waits longer than
# both together, with time for a worker to take the copy.
PICKUP_TIMEOUT_SECONDS = 45.0
POLL_SECONDS = 0.25
PROGRESS_SECONDS = 0.2
HEARTBEAT_SECONDS = 5.0
HARD_LIMIT_GRACE_SECONDS = 5.0
DEADLINE_SLACK = timedelta(seconds=5)
STALE_AFTER = timedelta(seconds=30)
RESEND_AFTER = timedelta(seconds=10)
QUEUED_GIVE_UP_AFTER = timedelta(minutes=10)

Status = ToolCall.Status


class LongToolError(Exception):
    """A long tool call ended without a result; `message` is fit for the model and the user.

    Codes: no_worker, timed_out, interrupted, tool_error, invalid_arguments, unknown_tool,
    bad_result, call_id_reused.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def tool_call_send(*, tenant_id: int, tool_call_id: int, time_limit_seconds: float) -> None:
    """Send the task message for a recorded call (ids only, tenant first).

    The task goes by name (settings.LONG_TOOL_TASK) to the queue the settings name when it
    is sent, so a deployment, or a test, can move long calls without touching this code.
    """
    current_app.send_task(
        settings.LONG_TOOL_TASK,
        args=[tenant_id, tool_call_id],
        queue=settings.CELERY_LONG_TOOL_QUEUE,
        soft_time_limit=time_limit_seconds,
        time_limit=time_limit_seconds + HARD_LIMIT_GRACE_SECONDS,
    )


def send_on_commit(tenant_id: int, tool_call_id: int, limit: float) -> None:
    # robust: if the broker is down the row stays queued; the sweep re-sends it later.
    transaction.on_commit(
        lambda: tool_call_send(
            tenant_id=tenant_id, tool_call_id=tool_call_id, time_limit_seconds=limit
        ),
        robust=True,
    )


def timed_out_error(name: str, limit: float) -> LongToolError:
    return LongToolError("timed_out", f"The tool '{name}' did not finish within {limit:g} seconds.")
