"""The stuck-run sweep (Celery beat): end turns whose run died before it answered.

A turn writes the user's message when it starts and the run's items when it ends (see
runtime.py), so a run whose process died (a web process killed mid-answer, a detached run
in chatkit_endpoints/runs.py that never finished) leaves a thread whose last item is the
user's message, with no answer ever coming. The sweep finds such messages older than
`STUCK_RUN_AFTER_SECONDS` whose thread has no run in progress (asked of the run registry
by the caller, `is_running`) and no long tool call still open or recently finished, and
appends an assistant message saying so: a client that reloads the thread sees an end, and
the audit trail records it. Long tool calls whose worker died are the long-tool sweep's
(long_tools/sweep.py).

Safe to run twice: the thread row is locked and the message re-checked as the last item
before the note is added.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from chatkit_core.store import default_generate_id
from chatkit_core.types import AssistantMessageContent, AssistantMessageItem
from hosted_agents.models import ToolCall
from tenants.actors import Actor
from tenants.models import Tenant, Thread, ThreadItem
from tenants.services import audit_event_record

__all__ = ["INTERRUPTED_TEXT", "StuckRunReport", "run_sweep_stuck"]

logger = logging.getLogger(__name__)

SWEEP_ACTOR = Actor.system(label="system:stuck-run-sweep")
# Messages older than this are left alone: the sweep looks at recent turns only.
LOOK_BACK = timedelta(days=2)
# Neutral on purpose: a refused turn (a quota, a misconfigured agent) also leaves the
# user's message last, and its client was told why at the time.
INTERRUPTED_TEXT = (
    "This message got no answer: the run was refused or stopped before it finished "
    "(for instance when the server restarted). Send it again to get an answer."
)

# (tenant id, agent id or None, end user id, thread public id) -> a run is registered.
IsRunning = Callable[[list[tuple[int, int | None, str, str]]], list[bool]]


@dataclass
class StuckRunReport:
    ended: int = 0


@dataclass(frozen=True)
class _Candidate:
    tenant_id: int
    thread_pk: int
    thread_id: str
    agent_id: int | None
    end_user_id: str
    item_pk: int


def _candidates(now: datetime, stuck_after: timedelta) -> list[_Candidate]:
    # Spans tenants (operator code, like the long-tool sweep); each change re-scopes below.
    later = ThreadItem.unscoped.filter(thread_id=OuterRef("thread_id"), pk__gt=OuterRef("pk"))
    recent_call = ToolCall.unscoped.filter(
        tenant_id=OuterRef("tenant_id"), thread_id=OuterRef("thread__public_id")
    ).filter(
        Q(status__in=[ToolCall.Status.QUEUED, ToolCall.Status.RUNNING])
        | Q(finished_at__gte=now - stuck_after)
    )
    fields = [
        "tenant_id", "thread_id", "thread__public_id", "thread__agent_id",
        "thread__end_user_id", "pk",
    ]  # fmt: skip
    rows = ThreadItem.unscoped.filter(
        type="user_message",
        created_at__lt=now - stuck_after,
        created_at__gte=now - stuck_after - LOOK_BACK,
    ).filter(~Exists(later), ~Exists(recent_call))
    return [_Candidate(*row) for row in rows.values_list(*fields)]


def _end_turn(candidate: _Candidate, now: datetime) -> bool:
    tenant = Tenant.objects.get(pk=candidate.tenant_id)
    with transaction.atomic():
        thread = (
            Thread.objects.for_tenant(tenant)
            .select_for_update()
            .filter(pk=candidate.thread_pk)
            .first()
        )
        items = ThreadItem.objects.for_tenant(tenant).filter(thread_id=candidate.thread_pk)
        if thread is None or items.filter(pk__gt=candidate.item_pk).exists():
            return False  # deleted, or answered meanwhile
        note = AssistantMessageItem(
            id=default_generate_id("message") + uuid.uuid4().hex[:16],
            thread_id=thread.public_id,
            created_at=now,
            content=[AssistantMessageContent(text=INTERRUPTED_TEXT)],
        )
        ThreadItem.objects.for_tenant(tenant).create(
            tenant=tenant, thread=thread, public_id=note.id, type=note.type,
            created_at=now, data=note.model_dump(mode="json"),
        )  # fmt: skip
        audit_event_record(
            tenant=tenant, actor=SWEEP_ACTOR, action="thread.run_interrupted", target=thread,
            after={"thread": thread.public_id, "item": note.id},
        )  # fmt: skip
    return True


def run_sweep_stuck(
    *,
    is_running: IsRunning,
    now: datetime | None = None,
    stuck_after: timedelta | None = None,
) -> StuckRunReport:
    """End every recent turn whose run died without answering; return how many."""
    now = now or timezone.now()
    stuck_after = stuck_after or timedelta(seconds=settings.STUCK_RUN_AFTER_SECONDS)
    candidates = _candidates(now, stuck_after)
    if not candidates:
        return StuckRunReport()
    keys = [(c.tenant_id, c.agent_id, c.end_user_id, c.thread_id) for c in candidates]
    running = is_running(keys)
    report = StuckRunReport()
    for candidate, alive in zip(candidates, running, strict=True):
        if not alive and _end_turn(candidate, now):
            report.ended += 1
    if report.ended:
        logger.warning("stuck-run sweep: ended %s turns whose run had died", report.ended)
    return report
