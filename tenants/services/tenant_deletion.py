"""Deleting a tenant, with a grace period: schedule, cancel, and purge once it is due.

Scheduling suspends the tenant at once (its keys, sessions and endpoints stop working) and
sets when it will be purged; cancelling within the grace period puts back the status it
had. The purge (Celery beat, `tenants_purge_due`) deletes the tenant and everything it
owns, its audit trail included: the database's append-only guard lets through the deletion
of exactly the tenant a purge transaction names (migration tenants 0009). Users are not
deleted: they may belong to other tenants.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from tenants.actors import SYSTEM, Actor
from tenants.exceptions import InvalidInput, ObjectNotFound
from tenants.models import Attachment, AuditEvent, Tenant
from tenants.services.attachments import attachment_rows_delete
from tenants.services.audit import audit_event_record

__all__ = [
    "tenant_deletion_cancel",
    "tenant_deletion_schedule",
    "tenant_purge",
    "tenants_purge_due",
]

logger = logging.getLogger(__name__)


def _locked(tenant: Tenant) -> Tenant:
    row = Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
    if row is None:
        raise ObjectNotFound("tenant", tenant.pk)
    return row


@transaction.atomic
def tenant_deletion_schedule(
    *, tenant: Tenant, grace_days: int | None = None, actor: Actor = SYSTEM
) -> Tenant:
    """Suspend the tenant now and schedule its purge `grace_days` from now."""
    days = settings.TENANT_DELETION_GRACE_DAYS if grace_days is None else grace_days
    if days < 0:
        raise InvalidInput("grace_days", "must be 0 or more")
    row = _locked(tenant)
    if row.deletion_due_at is not None:
        due = row.deletion_due_at.isoformat()
        raise InvalidInput("tenant", f"the deletion of {row.slug} is already scheduled ({due})")
    before = {"status": row.status, "deletion_due_at": None}
    row.status_before_deletion = row.status
    row.status = Tenant.Status.SUSPENDED
    row.deletion_due_at = timezone.now() + timedelta(days=days)
    row.save(update_fields=["status", "status_before_deletion", "deletion_due_at", "updated_at"])
    after = {"status": row.status, "deletion_due_at": row.deletion_due_at.isoformat()}
    audit_event_record(
        tenant=row, actor=actor, action="tenant.deletion_schedule", target=row,
        before=before, after=after,
    )  # fmt: skip
    return row


@transaction.atomic
def tenant_deletion_cancel(*, tenant: Tenant, actor: Actor = SYSTEM) -> Tenant:
    """Cancel a scheduled deletion and give the tenant back the status it had."""
    row = _locked(tenant)
    if row.deletion_due_at is None:
        raise InvalidInput("tenant", f"no deletion of {row.slug} is scheduled")
    before = {"status": row.status, "deletion_due_at": row.deletion_due_at.isoformat()}
    row.status = row.status_before_deletion or Tenant.Status.ACTIVE
    row.status_before_deletion = ""
    row.deletion_due_at = None
    row.save(update_fields=["status", "status_before_deletion", "deletion_due_at", "updated_at"])
    audit_event_record(
        tenant=row, actor=actor, action="tenant.deletion_cancel", target=row,
        before=before, after={"status": row.status, "deletion_due_at": None},
    )  # fmt: skip
    return row


@transaction.atomic
def tenant_purge(*, tenant: Tenant, now: datetime | None = None) -> bool:
    """Delete the tenant and all it owns if its deletion is due; return whether it did."""
    now = now or timezone.now()
    row = (
        Tenant.objects.select_for_update()
        .filter(pk=tenant.pk, deletion_due_at__isnull=False, deletion_due_at__lte=now)
        .first()
    )
    if row is None:
        return False  # cancelled meanwhile, or purged by another run
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('chatkit.purging_tenant', %s, true)", [str(row.pk)])
    # Below the append-only queryset on purpose (see the module docstring).
    events: models.QuerySet[AuditEvent] = models.QuerySet(AuditEvent).filter(tenant_id=row.pk)
    events._raw_delete(events.db)
    slug = row.slug
    # Uploaded files are not rows: they are deleted once the purge commits.
    attachment_rows_delete(Attachment.objects.for_tenant(row))
    row.delete()
    logger.warning("Purged tenant %s (its deletion was due %s)", slug, row.deletion_due_at)
    return True


def tenants_purge_due(*, now: datetime | None = None) -> list[str]:
    """Purge every tenant whose deletion is due (Celery beat); return their slugs."""
    now = now or timezone.now()
    due = Tenant.objects.filter(deletion_due_at__lte=now).order_by("pk")
    return [tenant.slug for tenant in due if tenant_purge(tenant=tenant, now=now)]
