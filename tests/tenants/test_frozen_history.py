"""Audit events and published agent versions never change, whichever manager or queryset
method is tried (Django's base manager included), while the cascades and SET_NULLs that
must work still do; on PostgreSQL the database itself refuses to change audit events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, models, transaction

from hosted_agents.exceptions import ImmutableVersionError
from hosted_agents.models import Agent, AgentVersion
from hosted_agents.services import agent_create, agent_delete, agent_publish
from tenants.actors import Actor
from tenants.exceptions import AppendOnlyError
from tenants.models import AuditEvent, Tenant
from tenants.services import audit_event_record

MANAGERS: dict[str, Callable[[type[models.Model], Tenant], models.QuerySet[Any]]] = {
    "objects": lambda model, tenant: model.objects.for_tenant(tenant),
    "unscoped": lambda model, tenant: model.unscoped.all(),  # type: ignore[attr-defined]
    "base_manager": lambda model, tenant: model._base_manager.all(),
}
CHANGES: dict[str, Callable[[models.QuerySet[Any], str, Any], Any]] = {
    "update": lambda rows, field, value: rows.update(**{field: value}),
    "delete": lambda rows, field, value: rows.delete(),
    "bulk_update": lambda rows, field, value: rows.bulk_update(
        [setattr(row, field, value) or row for row in rows], [field]
    ),
    "aupdate": lambda rows, field, value: asyncio.run(rows.aupdate(**{field: value})),
    "adelete": lambda rows, field, value: asyncio.run(rows.adelete()),
    "abulk_update": lambda rows, field, value: asyncio.run(
        rows.abulk_update([setattr(row, field, value) or row for row in rows], [field])
    ),
    "detach_and_change": lambda rows, field, value: rows.update(
        **{field: value, "created_by" if field == "config" else "actor": None}
    ),
}


@pytest.fixture
def history(acme: Tenant, acme_owner) -> dict[str, Any]:
    """An audit event and a published version, with what each may never become."""
    event = audit_event_record(
        tenant=acme, actor=Actor.for_user(acme_owner), action="test.event", target=acme
    )
    agent = agent_create(
        tenant=acme, slug="support", name="Support", actor=Actor.for_user(acme_owner)
    )
    version = agent_publish(tenant=acme, agent_id=agent.pk, actor=Actor.for_user(acme_owner))
    return {
        "AuditEvent": (event, "action", "rewritten", AppendOnlyError),
        "AgentVersion": (version, "config", {"model": "evil"}, ImmutableVersionError),
    }


def _stored(row: models.Model) -> dict[str, Any]:
    return type(row)._base_manager.filter(pk=row.pk).values().get()


@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize("manager", sorted(MANAGERS))
@pytest.mark.parametrize("model", ["AuditEvent", "AgentVersion"])
def test_no_manager_can_change_or_delete_a_frozen_row(
    model: str, manager: str, change: str, history: dict[str, Any], acme: Tenant
) -> None:
    row, field, value, error = history[model]
    before = _stored(row)
    rows = MANAGERS[manager](type(row), acme).filter(pk=row.pk)
    with pytest.raises(error):
        CHANGES[change](rows, field, value)
    assert _stored(row) == before


def test_the_base_manager_of_each_frozen_model_is_the_guarded_one() -> None:
    for model in (AuditEvent, AgentVersion):
        assert model._meta.base_manager_name == "unscoped"
        assert model._base_manager is model.unscoped  # type: ignore[attr-defined]


def test_a_saved_version_cannot_be_saved_again_or_deleted_on_its_own(
    history: dict[str, Any],
) -> None:
    version = history["AgentVersion"][0]
    version.note = "rewritten"
    with pytest.raises(ImmutableVersionError):
        version.save()
    with pytest.raises(ImmutableVersionError):
        version.delete()


def test_deleting_an_agent_deletes_its_versions_and_is_audited(
    history: dict[str, Any], acme: Tenant
) -> None:
    version: AgentVersion = history["AgentVersion"][0]
    agent_delete(tenant=acme, agent_id=version.agent_id)
    assert not AgentVersion.objects.for_tenant(acme).exists()
    assert not Agent.objects.for_tenant(acme).exists()
    assert AuditEvent.objects.for_tenant(acme).filter(action="agent.delete").exists()


def test_deleting_a_user_detaches_them_from_events_and_versions_and_keeps_the_rest(
    history: dict[str, Any], acme: Tenant
) -> None:
    event, version = history["AuditEvent"][0], history["AgentVersion"][0]
    event_before, version_before = _stored(event), _stored(version)

    get_user_model()._default_manager.filter(username="alice").delete()

    assert _stored(event) == {**event_before, "actor_id": None}
    assert _stored(version) == {**version_before, "created_by_id": None}
    assert AuditEvent.objects.for_tenant(acme).get(pk=event.pk).actor_label == "alice"


def _raw(sql: str, pk: int) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [pk])


def test_the_database_refuses_to_change_audit_events_on_postgresql(
    history: dict[str, Any],
) -> None:
    event = history["AuditEvent"][0]
    before = _stored(event)
    statements = (
        "UPDATE tenants_auditevent SET action = 'rewritten' WHERE id = %s",
        "UPDATE tenants_auditevent SET actor_id = NULL, action = 'x' WHERE id = %s",
        "DELETE FROM tenants_auditevent WHERE id = %s",
    )
    if connection.vendor == "postgresql":
        for sql in statements:
            with pytest.raises(IntegrityError, match="append-only"):
                _raw(sql, event.pk)
        _raw("UPDATE tenants_auditevent SET actor_id = NULL WHERE id = %s", event.pk)
        assert _stored(event) == {**before, "actor_id": None}
    else:
        # SQLite: the migration adds no trigger there; the ORM guards above still hold.
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            assert cursor.fetchall() == []
