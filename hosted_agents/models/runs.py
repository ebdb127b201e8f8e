"""What a run leaves beside the thread's items: its trace spans, and a run paused for approval.

Both belong to a thread (CASCADE): deleting a thread, by hand, by forgetting an end user or
by retention, deletes its spans and approvals with it. See hosted_agents/tracing.py for how
spans are collected, and hosted_agents/approvals.py for the life of an approval.
"""

from __future__ import annotations

from django.db import models

from tenants.models import Tenant, TenantOwnedModel, Thread

__all__ = ["PendingApproval", "RunSpan"]


class RunSpan(TenantOwnedModel):
    """One span of one run's trace: a model call, a tool call, a handoff, a guardrail, ...

    Written in one multi-row INSERT in the hop that writes the run's items, at the end of
    the run (on PostgreSQL inside the statement that records the run's usage). The spans
    of a run share `trace_id`; `item_id` names the answer the run produced (the thread
    item's public id: the item is written in the same hop, so no foreign key to it).
    """

    class Kind(models.TextChoices):
        AGENT = "agent"
        MODEL = "model"
        TOOL = "tool"
        HANDOFF = "handoff"
        GUARDRAIL = "guardrail"
        MCP_TOOLS = "mcp_tools"
        OTHER = "other"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="run_spans")
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="+")
    trace_id = models.CharField(max_length=64)
    span_id = models.CharField(max_length=64)
    parent_id = models.CharField(max_length=64, blank=True, default="")
    item_id = models.CharField(max_length=100, blank=True, default="")
    agent_version = models.PositiveIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=200, blank=True, default="")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    # Model spans only.
    model = models.CharField(max_length=200, blank=True, default="")
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    # Per kind: a tool's arguments and result, a handoff's agents, a guardrail's verdict.
    data = models.JSONField(default=dict, blank=True)
    error = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "thread", "started_at"], name="run_span_thread"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} ({self.trace_id})"


class PendingApproval(TenantOwnedModel):
    """A run paused until the end user approves or rejects its tool calls.

    `state` is openai-agents' serialized `RunState`: any web process or worker resumes the
    run from it. A decision is claimed by a conditional UPDATE (pending -> decided), so a
    second click, in any process, changes nothing and is refused.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="pending_approvals")
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="+")
    public_id = models.CharField(max_length=64)
    # Denormalised from the thread: only this end user may decide.
    end_user_id = models.CharField(max_length=200, blank=True, default="")
    # The version that paused: the run resumes with the same tools.
    agent_version = models.PositiveIntegerField()
    widget_item_id = models.CharField(max_length=100)
    # [{"call_id", "tool", "arguments"}]: what the user is asked about.
    calls = models.JSONField(default=list)
    state = models.JSONField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "public_id"], name="pending_approval_unique_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.status})"
