"""The migrations that pin children to their parent's tenant (tenants 0004, hosted_agents
0005): they bring existing rows along, and stop, naming the rows, on data that already
breaks the rule."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from hosted_agents.models import Agent
from tenants.migration_operations import PinToParentTenant
from tenants.models import Tenant, Thread, ThreadItem

NOW = datetime(2025, 8, 1, tzinfo=UTC)
BEFORE = [
    ("tenants", "0003_link_threads_to_agents"),
    ("hosted_agents", "0004_agent_version_immutable"),
]
PINNED = [
    ("tenants", "0004_tenant_pinned_children"),
    ("hosted_agents", "0005_tenant_pinned_children"),
]


def _item(tenant: Tenant, thread_pk: int, public_id: str) -> ThreadItem:
    item = ThreadItem(
        tenant=tenant, thread_id=thread_pk, public_id=public_id, type="x", created_at=NOW, data={}
    )
    item.save()
    return item


def test_a_child_that_already_names_another_tenants_parent_stops_the_migration(
    acme: Tenant, globex: Tenant
) -> None:
    theirs = Thread.objects.for_tenant(acme).create(public_id="thr_a", created_at=NOW)
    mine = Thread.objects.for_tenant(globex).create(public_id="thr_g", created_at=NOW)
    _item(globex, mine.pk, "msg_fine")
    operation = PinToParentTenant("tenants_threaditem", "thread_id", "tenants_thread")
    # On PostgreSQL the constraint is deferred: the bad row exists until this savepoint ends,
    # the way a row written before the migration would.
    with transaction.atomic():
        bad = _item(globex, theirs.pk, "msg_bad")
        # Only the editor's connection is used before the refusal.
        editor = SimpleNamespace(connection=connection)
        with pytest.raises(RuntimeError, match=rf"tenants_threaditem rows \[{bad.pk}\] .* bug"):
            operation.database_forwards("tenants", editor, None, None)  # type: ignore[arg-type]
        transaction.set_rollback(True)


@pytest.mark.django_db(transaction=True)
def test_existing_rows_are_brought_along_back_and_forth(acme: Tenant, globex: Tenant) -> None:
    agent = Agent.objects.for_tenant(acme).create(slug="support", name="Support")
    thread = Thread.objects.for_tenant(acme).create(public_id="thr_a", agent=agent, created_at=NOW)
    _item(acme, thread.pk, "msg_1")
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    executor.loader.build_graph()
    executor.migrate(PINNED)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert ThreadItem.objects.for_tenant(acme).get().thread_id == thread.pk
    assert Thread.objects.for_tenant(acme).get().agent_id == agent.pk
    if connection.vendor == "postgresql":  # the constraint is back after the round trip
        refused = pytest.raises(IntegrityError, match="tenants_threaditem_thread_tenant")
        with refused, transaction.atomic():
            _item(globex, thread.pk, "msg_bad")
            connection.check_constraints()
