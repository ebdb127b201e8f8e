"""The data migration that links existing threads and attachments to their agents."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

from django.db import connection
from django.db.migrations.loader import MigrationLoader

from hosted_agents.models import Agent
from tenants.models import Attachment, Tenant, Thread

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
