"""The Celery app. Workers start with `celery -A chatkit_platform worker`.

Task names, queues and the beat schedule are settings (`CELERY_TASK_ROUTES`,
`CELERY_BEAT_SCHEDULE` in settings.py); apps send tasks by name through `current_app`.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatkit_platform.settings")

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
    # hosted_agents/long_tools makes a needless rerun harmless.
    worker_lost_wait=2.0,
    task_track_started=False,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks()
