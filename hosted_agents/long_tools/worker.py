"""The worker's side: claim the call, run its tool with progress and heartbeats, record it."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict

from celery.exceptions import SoftTimeLimitExceeded
from django.db import DatabaseError, connections
from django.db.models import F, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from pydantic import ValidationError

from hosted_agents.exceptions import UnknownToolError
from hosted_agents.long_tools.common import (
    HARD_LIMIT_GRACE_SECONDS,
    HEARTBEAT_SECONDS,
    MAX_ATTEMPTS,
    PROGRESS_SECONDS,
    STALE_AFTER,
    Status,
    timed_out_error,
)
from hosted_agents.models import ToolCall
from hosted_agents.tools.registry import get_code_tool

__all__ = [
    "Claim",
    "Outcome",
    "idempotency_key",
    "tool_call_claim",
    "tool_call_execute",
    "tool_call_finish",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    tenant_id: int
    tool_call_id: int
    token: str
    tool_name: str
    arguments: dict[str, Any]
    time_limit_seconds: float
    started_at: datetime
    # The same for every attempt of the call (see `idempotency_key`).
    idempotency_key: str = ""


class _SeenCall(TypedDict):
    """What `tool_call_claim` reads of the call before it tries the claim."""

    status: str
    claim_token: str
    worker_hostname: str
    worker_pid: int | None
    tool_name: str
    arguments: Any
    time_limit_seconds: float
    thread_id: str
    run_id: str
    call_id: str


@dataclass(frozen=True)
class Outcome:
    status: str
    result: Any = None
    error_code: str = ""
    error_message: str = ""


def tool_call_claim(
    *, tenant_id: int, tool_call_id: int, hostname: str, task_id: str
) -> Claim | None:
    """Take the call for this process with one conditional UPDATE; None if it is not free."""
    rows = ToolCall.objects.for_tenant(tenant_id).filter(pk=tool_call_id)
    seen = rows.values(
        "status",
        "claim_token",
        "worker_hostname",
        "worker_pid",
        "tool_name",
        "arguments",
        "time_limit_seconds",
        "thread_id",
        "run_id",
        "call_id",
    ).first()
    if seen is None:
        return None
    now = timezone.now()
    claimable = Q(status=Status.QUEUED) | Q(
        status=Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER
    )
    if seen["status"] == Status.RUNNING and _left_behind_here(seen, hostname):
        claimable |= Q(status=Status.RUNNING, claim_token=seen["claim_token"])
    token = uuid.uuid4().hex
    limit = seen["time_limit_seconds"]
    changed = rows.filter(claimable, attempts__lt=MAX_ATTEMPTS).update(
        status=Status.RUNNING,
        claim_token=token,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        deadline=now + timedelta(seconds=limit + HARD_LIMIT_GRACE_SECONDS),
        worker_hostname=hostname,
        worker_pid=os.getpid(),
        celery_task_id=task_id,
    )
    if changed != 1:
        return None
    key = idempotency_key(tenant_id, seen["thread_id"], seen["run_id"], seen["call_id"])
    return Claim(
        tenant_id, tool_call_id, token, seen["tool_name"], seen["arguments"], limit, now, key
    )


def idempotency_key(tenant_id: int, thread_id: str, run_id: str, call_id: str) -> str:
    """Return the key a tool hands to services that deduplicate (payments, tickets, mail).

    Execution is at least once: a call whose worker died runs again from the start. Every
    attempt of one call gets the same key, and no other call gets it: it is derived from the
    ids that make the call unique, keyed by SECRET_KEY so two installations never collide
    and the ids are not readable from it.
    """
    message = f"{tenant_id}:{thread_id}:{run_id}:{call_id}"
    return salted_hmac("hosted_agents.tool_call", message, algorithm="sha256").hexdigest()[:40]


def _left_behind_here(seen: _SeenCall, hostname: str) -> bool:
    """Return whether the running attempt belongs to a process of this worker that is gone.

    After a pool process is killed, Celery redelivers its task to a new process of the same
    worker; the old attempt's heartbeat is still fresh, but its process no longer exists.
    """
    pid = seen["worker_pid"]
    if not hostname or seen["worker_hostname"] != hostname or pid is None:
        return False
    if pid == os.getpid():
        # A prefork process runs one task at a time: not the attempt recorded before.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def tool_call_execute(*, tenant_id: int, tool_call_id: int, hostname: str, task_id: str) -> None:
    """Claim the call, run its tool with progress and heartbeats, record the outcome."""
    claim = tool_call_claim(
        tenant_id=tenant_id, tool_call_id=tool_call_id, hostname=hostname, task_id=task_id
    )
    if claim is None:
        logger.info("tool call %s/%s is not free to claim; skipped", tenant_id, tool_call_id)
        return
    keeper = _RowKeeper(claim)
    keeper.start()
    try:
        outcome = _invoke(claim, keeper)
    finally:
        keeper.stop()
    tool_call_finish(claim, outcome, progress=keeper.latest)


def _invoke(claim: Claim, progress: _RowKeeper) -> Outcome:
    name = claim.tool_name
    try:
        result = get_code_tool(name).invoke(claim.arguments, progress=progress)
    except SoftTimeLimitExceeded:
        error = timed_out_error(name, claim.time_limit_seconds)
        return Outcome(Status.TIMED_OUT, error_code=error.code, error_message=error.message)
    except UnknownToolError:
        return _failed("unknown_tool", f"The tool '{name}' is not available on the worker.")
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in error.errors()
        )
        return _failed("invalid_arguments", f"The tool '{name}' got invalid arguments: {problems}")
    except Exception as error:
        logger.exception("tool %s failed (tool call %s)", name, claim.tool_call_id)
        return _failed("tool_error", f"The tool '{name}' failed: {_describe(error)}")
    try:
        json.dumps(result)
    except (TypeError, ValueError):
        return _failed("bad_result", f"The tool '{name}' returned a result JSON cannot encode.")
    return Outcome(Status.DONE, result=result)


def _failed(code: str, message: str) -> Outcome:
    return Outcome(Status.FAILED, error_code=code, error_message=message[:2000])


def _describe(error: Exception) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def tool_call_finish(
    claim: Claim, outcome: Outcome, *, progress: tuple[str, float | None] | None = None
) -> bool:
    """Record the outcome if this attempt still holds the claim; return whether it did."""
    now = timezone.now()
    fields: dict[str, Any] = {
        "status": outcome.status,
        "result": outcome.result,
        "error_code": outcome.error_code,
        "error_message": outcome.error_message,
        "finished_at": now,
        "heartbeat_at": now,
        "duration_seconds": (now - claim.started_at).total_seconds(),
    }
    if progress is not None:
        fields["progress_text"], fields["progress_fraction"] = progress
    changed = (
        ToolCall.objects.for_tenant(claim.tenant_id)
        .filter(pk=claim.tool_call_id, claim_token=claim.token, status=Status.RUNNING)
        .update(**fields)
    )
    logger.info(
        "tool call %s/%s %s: %s in %.2fs%s",
        claim.tenant_id,
        claim.tool_call_id,
        claim.tool_name,
        outcome.status,
        fields["duration_seconds"],
        "" if changed else " (claim lost; not recorded)",
    )
    return changed == 1


class _RowKeeper:
    """The attempt's progress reporter; a background thread writes it and the heartbeat.

    `report` only keeps the latest value, so a tool never waits for the database.
    """

    def __init__(self, claim: Claim) -> None:
        self._claim = claim
        self.idempotency_key = claim.idempotency_key
        self._lock = threading.Lock()
        self._latest: tuple[str, float | None] | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"tool-call-{claim.tool_call_id}", daemon=True
        )

    @property
    def latest(self) -> tuple[str, float | None] | None:
        with self._lock:
            return self._latest

    def report(self, text: str, fraction: float | None = None) -> None:
        if fraction is not None:
            fraction = min(max(float(fraction), 0.0), 1.0)
        with self._lock:
            self._latest = (str(text)[:500], fraction)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=HEARTBEAT_SECONDS)

    def _run(self) -> None:
        written: tuple[str, float | None] | None = None
        beat = time.monotonic()
        try:
            while not self._stopping.wait(PROGRESS_SECONDS):
                latest = self.latest
                if latest == written and time.monotonic() - beat < HEARTBEAT_SECONDS:
                    continue
                kept = self._write(latest if latest != written else None)
                if kept is False:
                    return
                if kept:
                    written, beat = latest, time.monotonic()
        finally:
            connections.close_all()

    def _write(self, progress: tuple[str, float | None] | None) -> bool | None:
        """Write the heartbeat (and progress); False once the claim is lost, None on error."""
        fields: dict[str, Any] = {"heartbeat_at": timezone.now()}
        if progress is not None:
            fields["progress_text"], fields["progress_fraction"] = progress
        claim = self._claim
        try:
            changed = (
                ToolCall.objects.for_tenant(claim.tenant_id)
                .filter(pk=claim.tool_call_id, claim_token=claim.token, status=Status.RUNNING)
                .update(**fields)
            )
        except DatabaseError:
            logger.warning("tool call %s: heartbeat not written", claim.tool_call_id, exc_info=True)
            return None
        if not changed:
            logger.warning("tool call %s: claim lost while running", claim.tool_call_id)
        return changed == 1
