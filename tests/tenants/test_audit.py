"""Audit events are append-only: they can be added, never changed or deleted."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tenants.actors import Actor
from tenants.exceptions import AppendOnlyError
from tenants.models import AuditEvent, Tenant
from tenants.services import IssuedApiKey, audit_event_record, tenant_update


@pytest.fixture
def event(acme: Tenant, acme_owner) -> AuditEvent:
    return audit_event_record(
        tenant=acme,
        actor=Actor.for_user(acme_owner, ip="::1"),
        action="test.event",
        target=acme,
        after={"n": 1},
    )


def test_a_new_event_records_actor_action_target_summary_and_address(
    event: AuditEvent, acme: Tenant, acme_owner
) -> None:
    stored = AuditEvent.objects.for_tenant(acme).get(pk=event.pk)
    assert (stored.actor_kind, stored.actor_label, stored.actor, stored.action) == (
        "user",
        "alice",
        acme_owner,
        "test.event",
    )
    assert (stored.target_type, stored.target_id) == (
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
        actor=Actor.for_user(acme_owner, ip="::1"),
    )
    event = AuditEvent.objects.for_tenant(acme).filter(action="tenant.update").get()
    assert event.before["allowed_origins"] == [] and event.before["requests_per_minute"] is None
    assert event.after["allowed_origins"] == ["https://app.acme.com"]
    assert event.after["requests_per_minute"] == 60


def test_an_api_key_caller_is_audited_as_that_key_not_as_the_system(
    acme: Tenant, acme_key: IssuedApiKey
) -> None:
    actor = Actor.for_api_key(acme_key.api_key, ip="203.0.113.7")
    tenant_update(tenant=acme, changes={"requests_per_minute": 5}, actor=actor)
    event = AuditEvent.objects.for_tenant(acme).filter(action="tenant.update").get()
    assert (event.actor_kind, event.actor_label, event.actor, event.ip) == (
        "api_key",
        f"api_key:{acme_key.api_key.display}",
        None,
        "203.0.113.7",
    )


def test_a_client_session_and_the_system_are_audited_with_their_kind(acme: Tenant) -> None:
    session = Actor.for_client_session("cs_123", "end-user-9", ip="198.51.100.4")
    tenant_update(tenant=acme, changes={"name": "Acme"}, actor=session)
    tenant_update(tenant=acme, changes={"name": "Acme 2"})
    events = AuditEvent.objects.for_tenant(acme).filter(action="tenant.update").order_by("id")
    assert [(e.actor_kind, e.actor_label, e.ip) for e in events] == [
        ("client_session", "client_session:cs_123/end_user:end-user-9", "198.51.100.4"),
        ("system", "system", None),
    ]
