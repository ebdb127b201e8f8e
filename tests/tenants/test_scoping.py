"""Tenant-owned models refuse queries without a tenant, while Django's own machinery
(cascades, forward relations, model validation) keeps working; cache keys and group names
carry the tenant."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Max, ProtectedError

from tenants.exceptions import TenantScopeError
from tenants.models import ApiKey, Feedback, Membership, Tenant, Thread, ThreadItem
from tenants.scoping import tenant_cache_key, tenant_group_name

NOW = datetime(2025, 5, 1, tzinfo=UTC)


def _thread(tenant: Tenant, public_id: str = "thr_1") -> Thread:
    thread = Thread(tenant=tenant, public_id=public_id, created_at=NOW)
    thread.save()
    return thread


@pytest.mark.parametrize(
    "query",
    [
        lambda: list(Thread.objects.all()),
        lambda: Thread.objects.filter(public_id="thr_1").first(),
        lambda: Thread.objects.get(pk=1),
        lambda: Thread.objects.count(),
        lambda: Thread.objects.create(public_id="thr_x", created_at=NOW),
        lambda: Thread.objects.get_or_create(public_id="thr_x", created_at=NOW),
        lambda: Thread.objects.bulk_create([Thread(public_id="thr_x", created_at=NOW)]),
        lambda: Thread.objects.filter(public_id="thr_1").update(title="x"),
        lambda: Thread.objects.filter(public_id="thr_1").delete(),
        lambda: Thread.objects.aggregate(Max("created_at")),
        lambda: next(Thread.objects.iterator()),
        lambda: Thread.objects.in_bulk([1]),
        lambda: ApiKey.objects.filter(lookup_id="abc").exists(),
        lambda: list(Membership.objects.values_list("role")),
        lambda: list(Thread.objects.raw("SELECT * FROM tenants_thread")),
    ],
    ids=[
        "all", "filter", "get", "count", "create", "get_or_create", "bulk_create", "update",
        "delete", "aggregate", "iterator", "in_bulk", "exists", "values_list", "raw",
    ],
)  # fmt: skip
def test_a_query_without_a_tenant_raises_instead_of_returning_every_tenants_rows(
    query, acme: Tenant
) -> None:
    with pytest.raises(TenantScopeError, match=r"for_tenant\(tenant\)"):
        query()


def test_filtering_on_the_tenant_by_hand_is_not_enough(acme: Tenant) -> None:
    _thread(acme)
    with pytest.raises(TenantScopeError):
        list(Thread.objects.filter(tenant=acme))


async def test_async_queries_without_a_tenant_raise_too(acme: Tenant) -> None:
    with pytest.raises(TenantScopeError):
        await Thread.objects.acount()
    with pytest.raises(TenantScopeError):
        await Thread.objects.filter(public_id="thr_1").afirst()


def test_a_form_may_be_built_on_an_unscoped_queryset_but_not_used_before_scoping(
    acme: Tenant, globex: Tenant
) -> None:
    mine, theirs = _thread(acme, "thr_a"), _thread(globex, "thr_b")
    field = forms.ModelChoiceField(queryset=Thread.objects.all())
    with pytest.raises(TenantScopeError):
        field.clean(theirs.pk)
    field.queryset = Thread.objects.for_tenant(acme)
    assert field.clean(mine.pk) == mine
    with pytest.raises(ValidationError):
        field.clean(theirs.pk)


def test_related_managers_refuse_too_so_no_path_skips_the_tenant(acme: Tenant) -> None:
    thread = _thread(acme)
    with pytest.raises(TenantScopeError):
        list(thread.items.all())
    with pytest.raises(TenantScopeError):
        list(acme.threads.all())


def test_for_tenant_returns_only_that_tenants_rows(acme: Tenant, globex: Tenant) -> None:
    mine, theirs = _thread(acme, "thr_same"), _thread(globex, "thr_same")
    assert list(Thread.objects.for_tenant(acme)) == [mine]
    assert list(Thread.objects.for_tenant(globex.pk)) == [theirs]


def test_for_tenant_refuses_a_missing_or_unsaved_tenant(db: None) -> None:
    with pytest.raises(TenantScopeError):
        Thread.objects.for_tenant(None)  # type: ignore[arg-type]
    with pytest.raises(TenantScopeError):
        Thread.objects.for_tenant(Tenant(slug="unsaved"))


def test_deleting_a_thread_cascades_to_its_items_and_feedback(acme: Tenant) -> None:
    thread = _thread(acme)
    ThreadItem(
        tenant=acme, thread=thread, public_id="msg_1", type="end_of_turn", created_at=NOW, data={}
    ).save()
    Feedback(tenant=acme, thread=thread, item_ids=["msg_1"], kind="positive").save()
    thread.delete()
    assert not ThreadItem.objects.for_tenant(acme).exists()
    assert not Feedback.objects.for_tenant(acme).exists()


def test_forward_relations_load_through_the_base_manager(acme: Tenant) -> None:
    thread = _thread(acme)
    item = ThreadItem(
        tenant=acme, thread=thread, public_id="msg_1", type="end_of_turn", created_at=NOW, data={}
    )
    item.save()
    loaded = ThreadItem.objects.for_tenant(acme).get(pk=item.pk)
    assert loaded.thread.public_id == "thr_1"


def test_a_tenant_with_an_audit_trail_cannot_be_deleted(acme: Tenant) -> None:
    with pytest.raises(ProtectedError):
        acme.delete()


def test_model_validation_finds_a_duplicate_within_the_tenant_only(
    acme: Tenant, globex: Tenant, acme_owner, globex_owner
) -> None:
    duplicate = Membership(tenant=acme, user=acme_owner, role="viewer")
    with pytest.raises(ValidationError, match="already exists"):
        duplicate.full_clean()
    Membership(tenant=globex, user=acme_owner, role="viewer").full_clean()


def test_a_cache_key_starts_with_the_tenant() -> None:
    assert tenant_cache_key(42, "ratelimit", "key", 7) == "t:42:ratelimit:key:7"
    assert tenant_cache_key(42, "x") != tenant_cache_key(43, "x")


@pytest.mark.parametrize("tenant_id", [None, "", True, "4:2"])
def test_a_cache_key_without_a_real_tenant_is_refused(tenant_id) -> None:
    with pytest.raises(ValueError):
        tenant_cache_key(tenant_id, "ratelimit")


def test_a_group_name_starts_with_the_tenant_and_is_valid_for_channels() -> None:
    from channels.layers import InMemoryChannelLayer

    name = tenant_group_name(42, "thread", "thr_ab12")
    assert name == "t42.thread.thr_ab12"
    assert InMemoryChannelLayer().require_valid_group_name(name)
    assert tenant_group_name(43, "thread", "thr_ab12") != name


@pytest.mark.parametrize(
    ("tenant_id", "parts"),
    [(None, ("thread",)), (42, ()), (42, ("has space",)), (42, ("x" * 120,))],
)
def test_a_group_name_that_channels_would_refuse_is_refused_early(tenant_id, parts) -> None:
    with pytest.raises(ValueError):
        tenant_group_name(tenant_id, *parts)
