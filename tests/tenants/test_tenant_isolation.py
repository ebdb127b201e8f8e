"""Every scoped queryset, of every tenant-owned model of every app, and every selector and
service of the tenants app answers Acme's request for Globex's rows exactly as for rows that
do not exist, and never changes them. (hosted_agents' selectors and services: see
tests/hosted_agents/test_isolation.py.)"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.apps import apps
from django.db import models

from hosted_agents.capabilities.services import agent_capabilities_set, mcp_server_create
from hosted_agents.exceptions import ImmutableVersionError
from hosted_agents.metering import usage_record
from hosted_agents.models import PendingApproval, RunSpan, ToolCall
from hosted_agents.services import (
    agent_create,
    agent_publish,
    client_tool_create,
    http_tool_create,
)
from tenants import selectors
from tenants.exceptions import AppendOnlyError, ObjectNotFound
from tenants.models import (
    Attachment,
    ClientSession,
    Feedback,
    Membership,
    ProviderCredential,
    Tenant,
    Thread,
    ThreadItem,
)
from tenants.models.base import FrozenQuerySet
from tenants.services import (
    IssuedApiKey,
    api_key_revoke,
    client_session_cancel,
    client_session_create,
    feedback_create,
    idempotent_call,
    membership_remove,
    provider_credential_create,
    provider_credential_delete,
    provider_credential_update,
    thread_delete,
)

NOW = datetime(2025, 6, 1, tzinfo=UTC)
# Every tenant-owned model of every installed app, found through the app registry.
TENANT_OWNED = [
    model
    for model in apps.get_models()
    if any(field.name == "tenant" for field in model._meta.get_fields())
]
TENANTS_MODELS = [model for model in TENANT_OWNED if model._meta.app_label == "tenants"]


def _conversation(tenant: Tenant) -> None:
    thread = Thread(tenant=tenant, public_id="thr_shared", created_at=NOW, title=tenant.slug)
    thread.save()
    ThreadItem(
        tenant=tenant, thread=thread, public_id="msg_1", type="end_of_turn", created_at=NOW, data={}
    ).save()
    Attachment(
        tenant=tenant, public_id="atc_1", thread=thread, name="a", mime_type="text/plain", data={}
    ).save()
    feedback_create(tenant=tenant, thread_id="thr_shared", item_ids=["msg_1"], kind="positive")
    provider_credential_create(tenant=tenant, name="p", kind="openai", secret="sk-" + "x" * 30)
    idempotent_call(
        tenant=tenant, key="k1", operation="POST /api/v1/agents", request_hash="h",
        produce=lambda: (201, {"id": "bot"}),
    )  # fmt: skip


def _agent_with_tools(tenant: Tenant) -> None:
    """Give the tenant a row of every tenant-owned model of hosted_agents."""
    http = http_tool_create(
        tenant=tenant,
        name="weather",
        description="Weather.",
        url_template="https://api.example.com/weather",
        headers={"X-Api-Key": "k-0123456789abcdef"},
    )
    client = client_tool_create(tenant=tenant, name="pick_date", description="Pick a date.")
    agent = agent_create(
        tenant=tenant, slug="bot", name="Bot", http_tools=[http.pk], client_tools=[client.pk]
    )
    mcp = mcp_server_create(tenant=tenant, name="weather", url="https://mcp.example.com/mcp")
    agent_capabilities_set(
        tenant=tenant,
        agent_id=agent.pk,
        changes={"mcp_servers": [{"server_id": mcp.pk, "allowed_tools": []}]},
    )
    agent_publish(tenant=tenant, agent_id=agent.pk)
    agent.refresh_from_db()
    client_session_create(tenant=tenant, agent=agent, user="user-1", workflow_ref="bot")
    usage_record(tenant_id=tenant.pk, agent_id=agent.pk, input_tokens=3, output_tokens=4)
    ToolCall(
        tenant=tenant,
        thread_id="thr_shared",
        call_id="call_1",
        tool_name="slow",
        time_limit_seconds=5,
        queued_at=NOW,
    ).save()
    thread = Thread.objects.for_tenant(tenant).get(public_id="thr_shared")
    RunSpan(
        tenant=tenant, thread=thread, trace_id="trace_1", span_id="span_1", kind="model",
        started_at=NOW,
    ).save()  # fmt: skip
    PendingApproval(
        tenant=tenant, thread=thread, public_id="apr_1", agent_version=1,
        widget_item_id="wdg_1", state={},
    ).save()  # fmt: skip


@pytest.fixture
def both(
    acme: Tenant, globex: Tenant, acme_key: IssuedApiKey, globex_key: IssuedApiKey, acme_viewer
) -> tuple[Tenant, Tenant]:
    """Give both tenants a row of every tenant-owned model of every app."""
    for tenant in (acme, globex):
        _conversation(tenant)
        _agent_with_tools(tenant)
    return acme, globex


def _pks(model: type[models.Model], tenant: Tenant) -> set[int]:
    return set(model.objects.for_tenant(tenant).values_list("pk", flat=True))


@pytest.mark.parametrize("model", TENANT_OWNED, ids=lambda m: m._meta.label)
def test_a_scoped_queryset_holds_only_its_tenants_rows(
    model: type[models.Model], both: tuple[Tenant, Tenant]
) -> None:
    acme, globex = both
    mine, theirs = _pks(model, acme), _pks(model, globex)
    assert mine and theirs, "the fixture must give both tenants a row"
    assert not mine & theirs
    every = set(model.unscoped.values_list("pk", flat=True))
    assert mine | theirs == every


@pytest.mark.parametrize("model", TENANT_OWNED, ids=lambda m: m._meta.label)
def test_a_scoped_queryset_cannot_reach_another_tenants_row_to_change_or_delete_it(
    model: type[models.Model], both: tuple[Tenant, Tenant]
) -> None:
    acme, globex = both
    target = min(_pks(model, globex))
    before = list(model.objects.for_tenant(globex).filter(pk=target).values())
    rows = model.objects.for_tenant(acme).filter(pk=target)
    assert rows.first() is None
    assert list(rows.values_list("pk", flat=True)) == []
    if isinstance(rows, FrozenQuerySet):  # history tables refuse every change, found or not
        with pytest.raises((AppendOnlyError, ImmutableVersionError)):
            rows.update(tenant=acme)
        with pytest.raises((AppendOnlyError, ImmutableVersionError)):
            rows.delete()
    else:
        assert rows.update(tenant=acme) == 0
        assert rows.delete()[0] == 0
    assert list(model.objects.for_tenant(globex).filter(pk=target).values()) == before


def _globex_pk(model: type[models.Model], globex: Tenant) -> int:
    return model.objects.for_tenant(globex).values_list("pk", flat=True).first()


READS_AND_WRITES = {
    "api_key_get": lambda acme, pk, users: selectors.api_key_get(tenant=acme, key_id=pk["ApiKey"]),
    "api_key_revoke": lambda acme, pk, users: api_key_revoke(tenant=acme, key_id=pk["ApiKey"]),
    "provider_credential_get": lambda acme, pk, users: selectors.provider_credential_get(
        tenant=acme, credential_id=pk["ProviderCredential"]
    ),
    "provider_credential_secret": lambda acme, pk, users: selectors.provider_credential_secret(
        tenant=acme, credential_id=pk["ProviderCredential"]
    ),
    "provider_credential_update": lambda acme, pk, users: provider_credential_update(
        tenant=acme, credential_id=pk["ProviderCredential"], changes={"name": "stolen"}
    ),
    "provider_credential_delete": lambda acme, pk, users: provider_credential_delete(
        tenant=acme, credential_id=pk["ProviderCredential"]
    ),
    "membership_get": lambda acme, pk, users: selectors.membership_get(
        tenant=acme, user=users["globex"]
    ),
    "membership_remove": lambda acme, pk, users: membership_remove(
        tenant=acme, user=users["globex"]
    ),
    "thread_get": lambda acme, pk, users: selectors.thread_get(
        tenant=acme, thread_id=pk["thread_public_id"]
    ),
    "feedback_create": lambda acme, pk, users: feedback_create(
        tenant=acme, thread_id=pk["thread_public_id"], item_ids=["msg_1"], kind="negative"
    ),
    "thread_delete": lambda acme, pk, users: thread_delete(
        tenant=acme, thread_id=pk["thread_public_id"]
    ),
    "client_session_get": lambda acme, pk, users: selectors.client_session_get(
        tenant=acme, session_id=pk["session_public_id"]
    ),
    "client_session_cancel": lambda acme, pk, users: client_session_cancel(
        tenant=acme, session_id=pk["session_public_id"]
    ),
}


@pytest.mark.parametrize("name", sorted(READS_AND_WRITES))
def test_selectors_and_services_answer_another_tenants_id_like_a_missing_one(
    name: str, both: tuple[Tenant, Tenant], globex_owner, outsider
) -> None:
    acme, globex = both
    Thread.objects.for_tenant(acme).update(public_id="thr_acme_only")
    foreign = {m.__name__: _globex_pk(m, globex) for m in TENANTS_MODELS}
    foreign["thread_public_id"] = "thr_shared"
    foreign["session_public_id"] = (
        ClientSession.objects.for_tenant(globex).values_list("public_id", flat=True).get()
    )
    missing = {key: 987_654 for key in foreign} | {
        "thread_public_id": "thr_missing",
        "session_public_id": "cksess_missing",
    }
    before = {m._meta.label: list(m.objects.for_tenant(globex).values()) for m in TENANT_OWNED}
    call = READS_AND_WRITES[name]

    with pytest.raises(ObjectNotFound) as for_foreign:
        call(acme, foreign, {"globex": globex_owner})
    with pytest.raises(ObjectNotFound) as for_missing:
        call(acme, missing, {"globex": outsider})

    assert for_foreign.value.entity == for_missing.value.entity
    after = {m._meta.label: list(m.objects.for_tenant(globex).values()) for m in TENANT_OWNED}
    assert after == before


@pytest.mark.parametrize(
    "listing",
    [
        selectors.api_key_list,
        selectors.provider_credential_list,
        selectors.audit_event_list,
        selectors.membership_list,
        selectors.feedback_list,
    ],
    ids=lambda f: f.__name__,
)
def test_listings_hold_only_the_tenants_own_rows(listing, both: tuple[Tenant, Tenant]) -> None:
    acme, _ = both
    rows = list(listing(tenant=acme))
    assert rows and {row.tenant_id for row in rows} == {acme.pk}


def test_feedback_of_a_thread_lists_only_the_tenants_own(both: tuple[Tenant, Tenant]) -> None:
    acme, globex = both
    [mine] = selectors.feedback_list(tenant=acme, thread_id="thr_shared")
    assert mine.tenant_id == acme.pk
    assert Feedback.objects.for_tenant(globex).count() == 1


def test_a_user_sees_only_the_tenants_they_belong_to(
    both: tuple[Tenant, Tenant], acme_viewer, outsider
) -> None:
    acme, _ = both
    assert list(selectors.tenant_list_for_user(user=acme_viewer)) == [acme]
    assert list(selectors.tenant_list_for_user(user=outsider)) == []
    assert Membership.objects.for_tenant(acme).filter(user=acme_viewer).get().role == "viewer"


def test_the_models_are_found_through_the_registry_in_every_app() -> None:
    # The fixture gives each of them rows (the first test above fails on one it misses);
    # this only checks that discovery reaches beyond the tenants app.
    labels = {model._meta.label for model in TENANT_OWNED}
    assert labels >= {
        "tenants.ApiKey",
        "tenants.Attachment",
        "tenants.AuditEvent",
        "tenants.ClientSession",
        "tenants.Feedback",
        "tenants.Membership",
        "tenants.ProviderCredential",
        "tenants.Thread",
        "tenants.ThreadItem",
        "hosted_agents.Agent",
        "hosted_agents.AgentVersion",
        "hosted_agents.ClientTool",
        "hosted_agents.HttpTool",
        "hosted_agents.ToolCall",
        "hosted_agents.UsageDaily",
    }
    assert ProviderCredential in TENANTS_MODELS
