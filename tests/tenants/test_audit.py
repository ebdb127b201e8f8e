"""Audit events are append-only: they can be added, never changed or deleted."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tenants.exceptions import AppendOnlyError
from tenants.models import AuditEvent, Tenant
from tenants.services import audit_event_record, tenant_update


@pytest.fixture
def event(acme: Tenant, acme_owner) -> AuditEvent:
    return audit_event_record(
        tenant=acme, actor=acme_owner, action="test.event", target=acme, after={"n": 1}, ip="::1"
    )


def test_a_new_event_records_actor_action_target_summary_and_address(
    event: AuditEvent, acme: Tenant
) -> None:
    stored = AuditEvent.objects.for_tenant(acme).get(pk=event.pk)
    assert (stored.actor_label, stored.action, stored.target_type, stored.target_id) == (
        "alice",
        "test.event",
        "tenant",
        str(acme.pk),
    )
    assert (stored.after, stored.ip, stored.created_at is not None) == ({"n": 1}, "::1", True)


def test_saving_an_existing_event_raises(event: AuditEvent) -> None:
    event.action = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()


def test_deleting_an_event_raises(event: AuditEvent) -> None:
    with pytest.raises(AppendOnlyError):
        event.delete()


@pytest.mark.parametrize("manager", ["scoped", "unscoped"])
def test_bulk_update_and_delete_of_events_raise(
    event: AuditEvent, acme: Tenant, manager: str
) -> None:
    rows = AuditEvent.objects.for_tenant(acme) if manager == "scoped" else AuditEvent.unscoped.all()
    with pytest.raises(AppendOnlyError):
        rows.update(action="rewritten")
    with pytest.raises(AppendOnlyError):
        rows.delete()
    assert AuditEvent.objects.for_tenant(acme).get(pk=event.pk).action == "test.event"


def test_deleting_the_actor_keeps_the_event_and_its_label(event: AuditEvent, acme: Tenant) -> None:
    get_user_model()._default_manager.filter(username="alice").delete()
    stored = AuditEvent.objects.for_tenant(acme).get(pk=event.pk)
    assert (stored.actor, stored.actor_label) == (None, "alice")


def test_tenant_changes_are_audited_with_before_and_after(acme: Tenant, acme_owner) -> None:
    tenant_update(
        tenant=acme,
        changes={"allowed_origins": ["https://App.Acme.com/"], "requests_per_minute": 60},
        actor=acme_owner,
        ip="::1",
    )
    event = AuditEvent.objects.for_tenant(acme).filter(action="tenant.update").get()
    assert event.before["allowed_origins"] == [] and event.before["requests_per_minute"] is None
    assert event.after["allowed_origins"] == ["https://app.acme.com"]
    assert event.after["requests_per_minute"] == 60
