"""The long tool calls of a thread, for the console's transcript."""

from __future__ import annotations

from django.db.models import QuerySet

from hosted_agents.models import ToolCall
from tenants.models import Tenant

__all__ = ["tool_call_list_for_thread"]


def tool_call_list_for_thread(*, tenant: Tenant, thread_id: str) -> QuerySet[ToolCall]:
    """Return the thread's long tool calls, oldest first; `thread_id` is its public id."""
    rows = ToolCall.objects.for_tenant(tenant).filter(thread_id=thread_id)
    return rows.order_by("created_at", "id")
