"""The Celery app. Workers start with `celery -A chatkit_platform worker`."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatkit_platform.settings")

LONG_TOOL_TASK = "hosted_agents.tasks.run_long_tool"
LONG_TOOL_SWEEP_TASK = "hosted_agents.tasks.sweep_long_tools"
# Well under the stale-heartbeat threshold in hosted_agents/long_tools.py (30 s).
LONG_TOOL_SWEEP_SECONDS = 15.0


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> Any:
    """Send long tool calls to their own queue (read from settings when sent)."""
    if name == LONG_TOOL_TASK:
        from django.conf import settings

        return {"queue": settings.CELERY_LONG_TOOL_QUEUE}
    return None


app = Celery("chatkit_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    # A task is acknowledged only when it finishes, and a task whose worker dies
    # is put back on the queue: together they make a killed worker's task run again.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    # How long a dead pool process's job waits for a result in flight before it counts as
    # lost and is requeued (default 10 s). Results are ignored here, and the claim in
    # hosted_agents/long_tools.py makes a needless rerun harmless.
    worker_lost_wait=2.0,
    task_track_started=False,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    task_routes=(route_task,),
    beat_schedule={
        "sweep-long-tool-calls": {
            "task": LONG_TOOL_SWEEP_TASK,
            "schedule": LONG_TOOL_SWEEP_SECONDS,
            # A sweep no worker took in time is replaced by the next one, not piled up.
            "options": {"expires": LONG_TOOL_SWEEP_SECONDS - 1},
        }
    },
)
app.autodiscover_tasks()
