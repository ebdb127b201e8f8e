"""Every scoped queryset, selector and service of the tenants app answers Acme's request for
Globex's rows exactly as for rows that do not exist, and never changes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.apps import apps
from django.db import models

from tenants import selectors
from tenants.exceptions import ObjectNotFound
from tenants.models import (
    Attachment,
    AuditEvent,
    Feedback,
    Membership,
    ProviderCredential,
    Tenant,
    Thread,
    ThreadItem,
)
from tenants.services import (
    IssuedApiKey,
    api_key_revoke,
    feedback_create,
    membership_remove,
    provider_credential_create,
    provider_credential_delete,
    provider_credential_update,
)

NOW = datetime(2025, 6, 1, tzinfo=UTC)
TENANTS_MODELS = [
    model
    for model in apps.get_app_config("tenants").get_models()
    if any(field.name == "tenant" for field in model._meta.get_fields())
]


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


@pytest.fixture
def both(
    acme: Tenant, globex: Tenant, acme_key: IssuedApiKey, globex_key: IssuedApiKey, acme_viewer
) -> tuple[Tenant, Tenant]:
    """Give both tenants a row of every tenant-owned model of the tenants app."""
    _conversation(acme)
    _conversation(globex)
    return acme, globex


def _pks(model: type[models.Model], tenant: Tenant) -> set[int]:
    return set(model.objects.for_tenant(tenant).values_list("pk", flat=True))


@pytest.mark.parametrize("model", TENANTS_MODELS, ids=lambda m: m.__name__)
def test_a_scoped_queryset_holds_only_its_tenants_rows(
    model: type[models.Model], both: tuple[Tenant, Tenant]
) -> None:
    acme, globex = both
    mine, theirs = _pks(model, acme), _pks(model, globex)
    assert mine and theirs, "the fixture must give both tenants a row"
    assert not mine & theirs
    every = set(model.unscoped.values_list("pk", flat=True))
    assert mine | theirs == every


@pytest.mark.parametrize(
    "model", [m for m in TENANTS_MODELS if m is not AuditEvent], ids=lambda m: m.__name__
)
def test_a_scoped_queryset_cannot_reach_another_tenants_row_to_change_or_delete_it(
    model: type[models.Model], both: tuple[Tenant, Tenant]
) -> None:
    acme, globex = both
    target = min(_pks(model, globex))
    rows = model.objects.for_tenant(acme).filter(pk=target)
    assert rows.first() is None
    assert rows.update(tenant=acme) == 0
    assert rows.delete()[0] == 0
    assert model.objects.for_tenant(globex).filter(pk=target).exists()


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
}


@pytest.mark.parametrize("name", sorted(READS_AND_WRITES))
def test_selectors_and_services_answer_another_tenants_id_like_a_missing_one(
    name: str, both: tuple[Tenant, Tenant], globex_owner, outsider
) -> None:
    acme, globex = both
    Thread.objects.for_tenant(acme).update(public_id="thr_acme_only")
    foreign = {m.__name__: _globex_pk(m, globex) for m in TENANTS_MODELS}
    foreign["thread_public_id"] = "thr_shared"
    missing = {key: 987_654 for key in foreign} | {"thread_public_id": "thr_missing"}
    before = {m.__name__: list(m.objects.for_tenant(globex).values()) for m in TENANTS_MODELS}
    call = READS_AND_WRITES[name]

    with pytest.raises(ObjectNotFound) as for_foreign:
        call(acme, foreign, {"globex": globex_owner})
    with pytest.raises(ObjectNotFound) as for_missing:
        call(acme, missing, {"globex": outsider})

    assert for_foreign.value.entity == for_missing.value.entity
    after = {m.__name__: list(m.objects.for_tenant(globex).values()) for m in TENANTS_MODELS}
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


def test_every_tenants_model_is_covered_by_the_fixture() -> None:
    names = {model.__name__ for model in TENANTS_MODELS}
    assert names == {
        "ApiKey",
        "Attachment",
        "AuditEvent",
        "Feedback",
        "Membership",
        "ProviderCredential",
        "Thread",
        "ThreadItem",
    }
    assert ProviderCredential in TENANTS_MODELS
