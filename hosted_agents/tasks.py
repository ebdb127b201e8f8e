"""Celery tasks of the hosted_agents app: thin over the services in long_tools.py.

Failure policy: `run_long_tool` never retries through Celery. A tool's own failure or time
limit is recorded on its row; a worker that dies mid-task has its message redelivered
(late acknowledgement, rejection on worker loss) or, if the broker lost it, the sweep sends
it again. The claim makes every repeat harmless.

The task names (and their queues) are declared in settings: `LONG_TOOL_TASK`,
`LONG_TOOL_SWEEP_TASK`, `CELERY_TASK_ROUTES`.
"""

from __future__ import annotations

import socket
from dataclasses import asdict

from celery import Task, shared_task
from django.conf import settings

from hosted_agents.long_tools import tool_call_execute, tool_call_sweep
from hosted_agents.services.retention import retention_enforce


# Celery ships no type hints, so its decorator hides each task's signature from mypy.
@shared_task(  # type: ignore[untyped-decorator]
    bind=True,
    name=settings.LONG_TOOL_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def run_long_tool(self: Task, tenant_id: int, tool_call_id: int) -> None:
    tool_call_execute(
        tenant_id=tenant_id,
        tool_call_id=tool_call_id,
        hostname=self.request.hostname or socket.gethostname(),
        task_id=self.request.id or "",
    )


# Untyped like the one above.
@shared_task(name=settings.LONG_TOOL_SWEEP_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
def sweep_long_tools() -> dict[str, int]:
    return asdict(tool_call_sweep())


# Untyped like the ones above. Each is scheduled by beat (settings.CELERY_BEAT_SCHEDULE) on
# the platform queue; each is safe to run twice (a second run finds nothing left to do).
@shared_task(name=settings.RETENTION_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
def enforce_retention() -> dict[str, object]:
    return asdict(retention_enforce())
