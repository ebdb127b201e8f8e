"""Retention: delete threads that had no activity for longer than their policy allows.

A policy is a number of days on the tenant and, optionally, on an agent; None keeps threads
forever. A thread of an agent follows the shorter of the agent's and the tenant's policy
(the tenant's is a ceiling for compliance; an agent may keep less, never more); a thread
with no agent (whole-tenant store, deleted agent) follows the tenant's. Last activity is
the later of the thread's own update and its newest item.

Threads go in batches, each in its own transaction with one audit event that lists them;
their items and feedback go by cascade, their attachments explicitly.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from hosted_agents.models import Agent
from tenants.actors import Actor
from tenants.models import Attachment, Tenant, Thread, ThreadItem
from tenants.services import audit_event_record
from tenants.services.attachments import attachment_rows_delete

__all__ = ["RetentionReport", "retention_enforce", "retention_policies", "tenant_retention_enforce"]

logger = logging.getLogger(__name__)

RETENTION_ACTOR = Actor.system(label="system:retention")


@dataclass
class RetentionReport:
    threads_deleted: int = 0
    batches: int = 0
    tenants: list[str] = field(default_factory=list)


def retention_policies(*, tenant: Tenant) -> list[tuple[int, Q]]:
    """Return (days, which threads) pairs: every thread of the tenant under a policy."""
    tenant_days = tenant.retention_days
    by_days: dict[int, list[int]] = defaultdict(list)
    for agent_id, agent_days in Agent.objects.for_tenant(tenant).values_list(
        "pk", "retention_days"
    ):
        limits = [d for d in (agent_days, tenant_days) if d is not None]
        if limits:
            by_days[min(limits)].append(agent_id)
    policies = [(days, Q(agent_id__in=agent_ids)) for days, agent_ids in sorted(by_days.items())]
    if tenant_days is not None:
        orphans = Q(agent__isnull=True)
        for index, (days, which) in enumerate(policies):
            if days == tenant_days:
                policies[index] = (days, which | orphans)
                break
        else:
            policies.append((tenant_days, orphans))
    return policies


def _expired(tenant: Tenant, which: Q, cutoff: datetime) -> QuerySet[Thread]:
    newest_item = (
        ThreadItem.objects.for_tenant(tenant)
        .filter(thread_id=OuterRef("pk"))
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    return (
        Thread.objects.for_tenant(tenant)
        .filter(which)
        .annotate(
            last_activity=Greatest(
                F("updated_at"), Coalesce(Subquery(newest_item), F("created_at"))
            )
        )
        .filter(last_activity__lt=cutoff)
    )


def _delete_batch(tenant: Tenant, which: Q, days: int, cutoff: datetime, size: int) -> int:
    with transaction.atomic():
        rows = list(
            _expired(tenant, which, cutoff).order_by("pk").values_list("pk", "public_id")[:size]
        )
        if not rows:
            return 0
        pks = [pk for pk, _ in rows]
        # The rows now, their stored files once the batch commits.
        attachment_rows_delete(Attachment.objects.for_tenant(tenant).filter(thread_id__in=pks))
        # Items and feedback go by CASCADE.
        Thread.objects.for_tenant(tenant).filter(pk__in=pks).delete()
        audit_event_record(
            tenant=tenant,
            actor=RETENTION_ACTOR,
            action="thread.retention_delete",
            target=tenant,
            after={
                "retention_days": days,
                "inactive_before": cutoff.isoformat(),
                "count": len(rows),
                "threads": [public_id for _, public_id in rows],
            },
        )
    logger.info(
        "retention deleted %s threads of tenant %s inactive for %s days",
        len(rows),
        tenant.slug,
        days,
    )
    return len(rows)


def tenant_retention_enforce(
    *, tenant: Tenant, now: datetime | None = None, batch_size: int | None = None
) -> RetentionReport:
    """Delete the tenant's threads past their policy, in audited batches."""
    now = now or timezone.now()
    size = batch_size or settings.RETENTION_BATCH_SIZE
    report = RetentionReport()
    for days, which in retention_policies(tenant=tenant):
        cutoff = now - timedelta(days=days)
        while deleted := _delete_batch(tenant, which, days, cutoff, size):
            report.threads_deleted += deleted
            report.batches += 1
            if deleted < size:
                break
    if report.threads_deleted:
        report.tenants.append(tenant.slug)
    return report


def retention_enforce(
    *, now: datetime | None = None, batch_size: int | None = None
) -> RetentionReport:
    """Enforce every tenant's policies (Celery beat); operator code, so it spans tenants."""
    total = RetentionReport()
    tenants = Tenant.objects.filter(
        Q(retention_days__isnull=False) | Q(agents__retention_days__isnull=False)
    ).distinct()
    for tenant in tenants.order_by("pk"):
        report = tenant_retention_enforce(tenant=tenant, now=now, batch_size=batch_size)
        total.threads_deleted += report.threads_deleted
        total.batches += report.batches
        total.tenants += report.tenants
    return total
