"""Each agent's workflow id: generated, settable, unique per tenant, and backfilled."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from hosted_agents.exceptions import AlreadyExists, InvalidInput, ObjectNotFound
from hosted_agents.models import Agent
from hosted_agents.selectors import agent_get_by_workflow
from hosted_agents.services import agent_create, agent_set_workflow_id
from tenants.models import AuditEvent, Tenant

BUILDER_ID = "wf_68df4b13b3588190a09d19288d4610ec0df388c3983f58d1"


def test_a_new_agent_has_a_workflow_id_of_its_own(acme: Tenant) -> None:
    first = agent_create(tenant=acme, slug="one", name="One")
    second = agent_create(tenant=acme, slug="two", name="Two")
    assert re.fullmatch(r"wf_[0-9a-f]{48}", first.workflow_id)
    assert first.workflow_id != second.workflow_id


def test_the_tenant_may_set_the_agent_builder_id_it_replaces(
    acme: Tenant, acme_agent: Agent
) -> None:
    agent_set_workflow_id(tenant=acme, agent_id=acme_agent.pk, workflow_id=BUILDER_ID)
    assert agent_get_by_workflow(tenant=acme, workflow=BUILDER_ID).pk == acme_agent.pk
    assert AuditEvent.objects.for_tenant(acme).filter(action="agent.set_workflow_id").exists()


def test_workflow_names_the_agent_by_slug_too(acme: Tenant, acme_agent: Agent) -> None:
    assert agent_get_by_workflow(tenant=acme, workflow="support").pk == acme_agent.pk


def test_a_workflow_id_wins_over_a_slug_of_the_same_text(acme: Tenant, acme_agent: Agent) -> None:
    other = agent_create(tenant=acme, slug="wf_x", name="Named like an id")
    agent_set_workflow_id(tenant=acme, agent_id=acme_agent.pk, workflow_id="wf_x")
    assert agent_get_by_workflow(tenant=acme, workflow="wf_x").pk == acme_agent.pk
    assert other.pk != acme_agent.pk


def test_another_tenants_workflow_is_not_found(globex: Tenant, acme_agent: Agent) -> None:
    for workflow in (acme_agent.workflow_id, "support"):
        with pytest.raises(ObjectNotFound):
            agent_get_by_workflow(tenant=globex, workflow=workflow)


def test_a_workflow_id_is_unique_within_a_tenant_only(
    acme: Tenant, globex: Tenant, acme_agent: Agent
) -> None:
    second = agent_create(tenant=acme, slug="sales", name="Sales")
    theirs = agent_create(tenant=globex, slug="support", name="Support")
    agent_set_workflow_id(tenant=acme, agent_id=acme_agent.pk, workflow_id=BUILDER_ID)
    with pytest.raises(AlreadyExists):
        agent_set_workflow_id(tenant=acme, agent_id=second.pk, workflow_id=BUILDER_ID)
    agent_set_workflow_id(tenant=globex, agent_id=theirs.pk, workflow_id=BUILDER_ID)


@pytest.mark.parametrize("bad", ["", "support", "wf_", "wf_has space", "wf_" + "x" * 98])
def test_a_badly_shaped_workflow_id_is_refused(acme: Tenant, acme_agent: Agent, bad: str) -> None:
    with pytest.raises(InvalidInput):
        agent_set_workflow_id(tenant=acme, agent_id=acme_agent.pk, workflow_id=bad)


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_agents_distinct_workflow_ids(acme: Tenant) -> None:
    before = [("hosted_agents", "0004_agent_version_immutable")]
    after = [("hosted_agents", "0005_agent_workflow_id")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        OldAgent = executor.loader.project_state(before).apps.get_model("hosted_agents", "Agent")
        for slug in ("a", "b", "c"):
            OldAgent.objects.create(tenant_id=acme.pk, slug=slug, name=slug)
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(after)
        # Then on to the latest migrations, which the tests that follow expect.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    ids = list(Agent.unscoped.filter(tenant=acme).values_list("workflow_id", flat=True))
    assert len(ids) == 3 and len(set(ids)) == 3
    assert all(re.fullmatch(r"wf_[0-9a-f]{48}", i) for i in ids)
