"""The sweep (Celery beat): re-queue calls whose worker died, re-send lost messages."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict

from django.db import transaction
from django.utils import timezone

from hosted_agents.long_tools.common import (
    MAX_ATTEMPTS,
    QUEUED_GIVE_UP_AFTER,
    RESEND_AFTER,
    STALE_AFTER,
    Status,
    send_on_commit,
    timed_out_error,
)
from hosted_agents.models import ToolCall

__all__ = ["SweepReport", "tool_call_sweep"]

logger = logging.getLogger(__name__)


@dataclass
class SweepReport:
    requeued: int = 0
    resent: int = 0
    failed: int = 0
    timed_out: int = 0


class _StaleCall(TypedDict):
    tenant_id: int
    pk: int
    claim_token: str
    attempts: int
    deadline: datetime | None
    tool_name: str
    time_limit_seconds: float


class _WaitingCall(TypedDict):
    tenant_id: int
    pk: int
    sent_at: datetime | None
    queued_at: datetime
    tool_name: str
    time_limit_seconds: float


def tool_call_sweep(
    *,
    stale_after: timedelta = STALE_AFTER,
    resend_after: timedelta = RESEND_AFTER,
    give_up_after: timedelta = QUEUED_GIVE_UP_AFTER,
) -> SweepReport:
    """Re-queue calls whose worker died, re-send calls whose message may be lost."""
    now = timezone.now()
    report = SweepReport()
    # Finding the calls spans tenants (operator code, like the admin); every change below goes
    # through the call's own tenant scope and is conditional on what was read.
    stale = ToolCall.unscoped.filter(
        status=Status.RUNNING, heartbeat_at__lt=now - stale_after
    ).values(
        "tenant_id", "pk", "claim_token", "attempts", "deadline", "tool_name", "time_limit_seconds"
    )
    for stale_call in stale:
        _sweep_stale(stale_call, now=now, cutoff=now - stale_after, report=report)
    waiting = ToolCall.unscoped.filter(status=Status.QUEUED, sent_at__lt=now - resend_after).values(
        "tenant_id", "pk", "sent_at", "queued_at", "tool_name", "time_limit_seconds"
    )
    for waiting_call in waiting:
        _sweep_queued(waiting_call, now=now, give_up_before=now - give_up_after, report=report)
    if report != SweepReport():
        logger.warning("long tool sweep: %s", report)
    return report


def _sweep_stale(row: _StaleCall, *, now: datetime, cutoff: datetime, report: SweepReport) -> None:
    name = row["tool_name"]
    calls = ToolCall.objects.for_tenant(row["tenant_id"]).filter(
        pk=row["pk"], status=Status.RUNNING, claim_token=row["claim_token"], heartbeat_at__lt=cutoff
    )
    ended = {"claim_token": "", "finished_at": now}
    if row["attempts"] >= MAX_ATTEMPTS:
        message = f"The tool '{name}' was interrupted {row['attempts']} times and was given up."
        report.failed += calls.update(
            status=Status.FAILED, error_code="interrupted", error_message=message, **ended
        )
    elif row["deadline"] is not None and row["deadline"] < now:
        error = timed_out_error(name, row["time_limit_seconds"])
        report.timed_out += calls.update(
            status=Status.TIMED_OUT, error_code=error.code, error_message=error.message, **ended
        )
    else:
        with transaction.atomic():
            changed = calls.update(status=Status.QUEUED, claim_token="", queued_at=now, sent_at=now)
            if changed:
                send_on_commit(row["tenant_id"], row["pk"], row["time_limit_seconds"])
        report.requeued += changed


def _sweep_queued(
    row: _WaitingCall, *, now: datetime, give_up_before: datetime, report: SweepReport
) -> None:
    calls = ToolCall.objects.for_tenant(row["tenant_id"]).filter(
        pk=row["pk"], status=Status.QUEUED, sent_at=row["sent_at"]
    )
    if row["queued_at"] < give_up_before:
        message = f"No worker picked up the tool '{row['tool_name']}'; it was given up."
        report.failed += calls.update(
            status=Status.FAILED, error_code="no_worker", error_message=message, finished_at=now
        )
        return
    with transaction.atomic():
        changed = calls.update(sent_at=now)
        if changed:
            send_on_commit(row["tenant_id"], row["pk"], row["time_limit_seconds"])
    report.resent += changed
