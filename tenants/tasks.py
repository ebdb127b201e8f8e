"""Celery tasks of the tenants app (names and queues are declared in settings)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from tenants.services import tenants_purge_due


# Celery ships no type hints, so its decorator hides the signature from mypy. Safe to run
# twice: a purged tenant is gone, and each purge re-checks that the deletion is still due.
@shared_task(name=settings.TENANT_PURGE_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
def purge_deleted_tenants() -> list[str]:
    return tenants_purge_due()
