"""Forgetting an end user: every thread, item, attachment and feedback of theirs goes."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from tenants.actors import SYSTEM, Actor
from tenants.exceptions import InvalidInput
from tenants.models import Attachment, Feedback, Tenant, Thread, ThreadItem
from tenants.services.attachments import attachment_rows_delete
from tenants.services.audit import audit_event_record


@transaction.atomic
def end_user_forget(*, tenant: Tenant, end_user_id: str, actor: Actor = SYSTEM) -> dict[str, int]:
    """Delete all of one end user's data in the tenant and record it; return the counts.

    The audit event keeps the end user id and the counts, nothing of what was said.
    """
    if not end_user_id.strip():
        raise InvalidInput("end_user_id", "must not be empty")
    threads = Thread.objects.for_tenant(tenant).filter(end_user_id=end_user_id)
    thread_ids = list(threads.values_list("pk", flat=True))
    counts = {
        "threads": len(thread_ids),
        "items": ThreadItem.objects.for_tenant(tenant).filter(thread_id__in=thread_ids).count(),
        "attachments": attachment_rows_delete(
            Attachment.objects.for_tenant(tenant).filter(end_user_id=end_user_id)
            | Attachment.objects.for_tenant(tenant).filter(thread_id__in=thread_ids)
        ),
        "feedback": _delete(
            Feedback.objects.for_tenant(tenant).filter(end_user_id=end_user_id)
            | Feedback.objects.for_tenant(tenant).filter(thread_id__in=thread_ids)
        ),
    }
    ThreadItem.objects.for_tenant(tenant).filter(thread_id__in=thread_ids).delete()
    threads.delete()
    audit_event_record(
        tenant=tenant, actor=actor, action="end_user.forget", target=tenant,
        before={"end_user_id": end_user_id, **counts},
    )  # fmt: skip
    return counts


def _delete(rows: Any) -> int:
    deleted, _ = rows.delete()
    return int(deleted)
