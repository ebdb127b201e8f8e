"""The record of each long-running tool call: the database, not the broker, is the truth.

See hosted_agents/long_tools/__init__.py for the life of a call; this module only holds the table.
"""

from __future__ import annotations

from django.db import models

from tenants.models import Tenant, TenantOwnedModel

__all__ = ["ToolCall"]


class ToolCall(TenantOwnedModel):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        TIMED_OUT = "timed_out"

    FINISHED = frozenset({Status.DONE, Status.FAILED, Status.TIMED_OUT})

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="tool_calls")
    # Protocol ids, not foreign keys: the record is kept for audit even if the thread goes.
    thread_id = models.CharField(max_length=100)
    # The run (one respond()) that made the call: providers reuse call ids such as `call_0`
    # across runs, so a call is known by (thread, run, call id). Empty for older rows.
    run_id = models.CharField(max_length=64, blank=True, default="")
    call_id = models.CharField(max_length=200)
    tool_name = models.CharField(max_length=100)
    arguments = models.JSONField(default=dict, blank=True)
    # Per attempt: the Celery soft time limit; the hard limit adds a grace period.
    time_limit_seconds = models.FloatField()

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    # Claims so far; a claim is refused once the limit in long_tools.MAX_ATTEMPTS is reached.
    attempts = models.PositiveSmallIntegerField(default=0)
    # Set by each claim; every later write of that attempt is guarded by it, so an attempt
    # that lost its claim (swept, timed out) can never record a result.
    claim_token = models.CharField(max_length=32, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The end of the current attempt: its start plus the hard time limit.
    deadline = models.DateTimeField(null=True, blank=True)
    worker_hostname = models.CharField(max_length=255, blank=True, default="")
    worker_pid = models.PositiveIntegerField(null=True, blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True, default="")

    progress_text = models.CharField(max_length=500, blank=True, default="")
    progress_fraction = models.FloatField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error_code = models.CharField(max_length=50, blank=True, default="")
    error_message = models.TextField(blank=True, default="")

    created_at = models.DateTimeField(auto_now_add=True)
    # When the call last entered `queued` (first enqueue, or re-queued by the sweep).
    queued_at = models.DateTimeField()
    # When a task message was last sent for it (the sweep re-sends one that may be lost).
    sent_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Run time of the attempt that finished the call.
    duration_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "thread_id", "run_id", "call_id"], name="tool_call_unique_call"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "done", "failed", "timed_out"]),
                name="tool_call_status_valid",
            ),
        ]
        indexes = [
            # The sweep looks across tenants for open calls; finished ones are most rows.
            models.Index(
                fields=["status", "heartbeat_at"],
                name="tool_call_open",
                condition=models.Q(status__in=["queued", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tool_name} {self.call_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED
