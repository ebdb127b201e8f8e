"""Deleting a thread with everything that belongs to it."""

from __future__ import annotations

from django.db import transaction

from tenants.actors import SYSTEM, Actor
from tenants.exceptions import ObjectNotFound
from tenants.models import Attachment, Tenant, Thread
from tenants.services.attachments import attachment_rows_delete
from tenants.services.audit import audit_event_record


@transaction.atomic
def thread_delete(
    *,
    tenant: Tenant,
    thread_id: str,
    actor: Actor = SYSTEM,
) -> None:
    """Delete the thread, its items, feedback and attachments; another tenant's is missing."""
    thread = Thread.objects.for_tenant(tenant).filter(public_id=thread_id).first()
    if thread is None:
        raise ObjectNotFound("thread", thread_id)
    # Attachments only lose their thread link when a thread is deleted (SET_NULL, which
    # suits the store's own delete); deleting a thread through the API takes them along.
    attachment_rows_delete(Attachment.objects.for_tenant(tenant).filter(thread_id=thread.pk))
    audit_event_record(
        tenant=tenant,
        actor=actor,
        action="thread.delete",
        target=thread,
        before={"id": thread.public_id, "user": thread.end_user_id, "title": thread.title},
    )
    thread.delete()  # items and feedback go by CASCADE
