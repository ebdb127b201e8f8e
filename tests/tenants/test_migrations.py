"""The data migrations: threads and attachments linked to their agents, audit events given
the kind of their actor."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.migrations.loader import MigrationLoader

from hosted_agents.models import Agent
from tenants.actors import Actor, ActorKind
from tenants.models import Attachment, AuditEvent, Tenant, Thread
from tenants.services import audit_event_record

NOW = datetime(2025, 6, 1, tzinfo=UTC)
MIGRATION = "0003_link_threads_to_agents"


def _thread(tenant: Tenant, public_id: str, agent_slug: str) -> None:
    Thread(tenant=tenant, public_id=public_id, agent_slug=agent_slug, created_at=NOW).save()


def test_existing_records_are_linked_to_the_agent_their_slug_names_in_their_tenant(
    acme: Tenant, globex: Tenant, acme_agent: Agent
) -> None:
    # Rows as the store wrote them before threads had an agent: a slug only.
    _thread(acme, "thr_support", "support")
    _thread(globex, "thr_globex", "support")  # globex has no agent "support"
    _thread(acme, "thr_gone", "deleted-bot")
    _thread(acme, "thr_console", "")
    Attachment(
        tenant=acme, public_id="atc_1", agent_slug="support", name="a", mime_type="t", data={}
    ).save()
    state = MigrationLoader(connection).project_state(("tenants", MIGRATION))
    migration = importlib.import_module(f"tenants.migrations.{MIGRATION}")

    migration.link_to_agents(state.apps, None)

    linked = dict(Thread.unscoped.values_list("public_id", "agent_id"))
    assert linked == {
        "thr_support": acme_agent.pk,
        "thr_globex": None,
        "thr_gone": None,
        "thr_console": None,
    }
    assert Attachment.objects.for_tenant(acme).get().agent_id == acme_agent.pk


def test_existing_audit_events_get_the_kind_of_actor_their_row_shows(
    acme: Tenant, acme_owner
) -> None:
    # Rows as written before `actor_kind` existed: every one of them had the default.
    unknown = ActorKind.SYSTEM
    for actor in (
        Actor(kind=unknown, label="alice", user=acme_owner),
        Actor(kind=unknown, label="api_key:ckp_live_ab12cd34..."),
        Actor(kind=unknown, label="end_user:u1"),
    ):
        audit_event_record(tenant=acme, actor=actor, action="old.event", target=acme)
    migration = importlib.import_module("tenants.migrations.0004_auditevent_actor_kind")

    if connection.vendor == "postgresql":
        # As in a real migration, no foreign key checks of this transaction still pending:
        # PostgreSQL alters no table that has some.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    migration.backfill(None, SimpleNamespace(connection=connection))

    kinds = AuditEvent.objects.for_tenant(acme).filter(action="old.event").order_by("id")
    assert [e.actor_kind for e in kinds] == ["user", "api_key", "system"]
    if connection.vendor == "postgresql":  # the append-only trigger is back on
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE tenants_auditevent SET action = 'changed'")
