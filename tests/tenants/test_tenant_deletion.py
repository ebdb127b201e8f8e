"""Deleting a tenant: suspended at once, purged after the grace period with all it owns
(exactly that tenant), cancellable meanwhile."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone

from tenants.exceptions import ApiKeyRejected, AppendOnlyError, InvalidInput
from tenants.models import AuditEvent, Tenant, TenantOwnedModel
from tenants.services import (
    api_key_authenticate,
    tenant_deletion_cancel,
    tenant_deletion_schedule,
    tenants_purge_due,
)
from tests.support.tenant_data import FilledTenant, tenant_fill


def _owned_rows(tenant_id: int) -> dict[str, int]:
    counts = {}
    for model in apps.get_models():
        if issubclass(model, TenantOwnedModel):
            counts[model.__name__] = model.unscoped.filter(tenant_id=tenant_id).count()
    return counts


@pytest.fixture
def filled(acme: Tenant, globex: Tenant) -> tuple[FilledTenant, FilledTenant]:
    return tenant_fill(acme, marker="acme"), tenant_fill(globex, marker="globex")


def test_scheduling_suspends_at_once_and_the_purge_waits_for_the_grace_period(
    acme: Tenant, filled: tuple[FilledTenant, FilledTenant]
) -> None:
    tenant = tenant_deletion_schedule(tenant=acme, grace_days=7)

    assert tenant.status == Tenant.Status.SUSPENDED
    with pytest.raises(ApiKeyRejected):
        api_key_authenticate(raw_key=filled[0].raw_api_key, required_scope="chat")
    assert tenants_purge_due(now=timezone.now() + timedelta(days=6)) == []
    assert Tenant.objects.filter(pk=acme.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_the_purge_after_the_grace_period_removes_exactly_that_tenant(
    acme: Tenant, globex: Tenant, filled: tuple[FilledTenant, FilledTenant]
) -> None:
    acme_id = acme.pk
    globex_before = _owned_rows(globex.pk)
    assert all(globex_before[name] for name in ("Thread", "AgentVersion", "AuditEvent", "ApiKey"))
    tenant_deletion_schedule(tenant=acme, grace_days=7)

    assert tenants_purge_due(now=timezone.now() + timedelta(days=7, seconds=1)) == ["acme"]

    assert not Tenant.objects.filter(pk=acme_id).exists()
    assert set(_owned_rows(acme_id).values()) == {0}
    assert _owned_rows(globex.pk) == globex_before
    assert Tenant.objects.get(pk=globex.pk).status == Tenant.Status.ACTIVE
    # Users are not the tenant's: they may belong to other tenants.
    assert get_user_model()._default_manager.filter(username="alice").exists()
    # A second run finds nothing to do.
    assert tenants_purge_due(now=timezone.now() + timedelta(days=8)) == []


@pytest.mark.django_db(transaction=True)
def test_the_audit_trail_stays_append_only_outside_a_purge(acme: Tenant) -> None:
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.for_tenant(acme).delete()
    if connection.vendor == "postgresql":
        # The database's own guard, which the purge passes by naming its tenant.
        refused = pytest.raises(IntegrityError, match="append-only")
        with refused, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM tenants_auditevent WHERE tenant_id = %s", [acme.pk])
        refused = pytest.raises(IntegrityError, match="append-only")
        with refused, transaction.atomic(), connection.cursor() as cursor:
            # Naming another tenant does not help.
            cursor.execute("SELECT set_config('chatkit.purging_tenant', '0', true)")
            cursor.execute("DELETE FROM tenants_auditevent WHERE tenant_id = %s", [acme.pk])
    assert AuditEvent.objects.for_tenant(acme).exists()


def test_cancelling_within_the_grace_period_restores_the_status(
    acme: Tenant, filled: tuple[FilledTenant, FilledTenant]
) -> None:
    tenant_deletion_schedule(tenant=acme, grace_days=7)
    tenant = tenant_deletion_cancel(tenant=acme)

    assert (tenant.status, tenant.deletion_due_at) == (Tenant.Status.ACTIVE, None)
    assert tenants_purge_due(now=timezone.now() + timedelta(days=30)) == []
    assert api_key_authenticate(raw_key=filled[0].raw_api_key, required_scope="chat")
    actions = AuditEvent.objects.for_tenant(acme).values_list("action", flat=True)
    assert {"tenant.deletion_schedule", "tenant.deletion_cancel"} <= set(actions)


def test_a_suspended_tenant_stays_suspended_when_its_deletion_is_cancelled(acme: Tenant) -> None:
    acme.status = Tenant.Status.SUSPENDED
    acme.save(update_fields=["status"])
    tenant_deletion_schedule(tenant=acme, grace_days=1)
    assert tenant_deletion_cancel(tenant=acme).status == Tenant.Status.SUSPENDED


def test_scheduling_twice_or_cancelling_nothing_is_refused(acme: Tenant) -> None:
    with pytest.raises(InvalidInput, match="no deletion"):
        tenant_deletion_cancel(tenant=acme)
    tenant_deletion_schedule(tenant=acme, grace_days=1)
    with pytest.raises(InvalidInput, match="already scheduled"):
        tenant_deletion_schedule(tenant=acme, grace_days=1)


def test_the_commands_schedule_and_cancel(acme: Tenant) -> None:
    call_command("delete_tenant", "acme", "--grace-days", "3")
    acme.refresh_from_db()
    assert acme.status == Tenant.Status.SUSPENDED and acme.deletion_due_at is not None
    assert timedelta(days=2, hours=23) < acme.deletion_due_at - timezone.now() <= timedelta(days=3)
    with pytest.raises(CommandError, match="already scheduled"):
        call_command("delete_tenant", "acme")
    call_command("cancel_tenant_deletion", "acme")
    acme.refresh_from_db()
    assert (acme.status, acme.deletion_due_at) == (Tenant.Status.ACTIVE, None)
    with pytest.raises(CommandError, match="tenant"):
        call_command("delete_tenant", "nobody")


def test_the_admin_actions_schedule_and_cancel(acme: Tenant, admin_client: Client) -> None:
    changelist = "/admin/tenants/tenant/"
    admin_client.post(changelist, {"action": "schedule_deletion", "_selected_action": [acme.pk]})
    acme.refresh_from_db()
    assert acme.deletion_due_at is not None and acme.status == Tenant.Status.SUSPENDED
    admin_client.post(changelist, {"action": "cancel_deletion", "_selected_action": [acme.pk]})
    acme.refresh_from_db()
    assert acme.deletion_due_at is None and acme.status == Tenant.Status.ACTIVE
