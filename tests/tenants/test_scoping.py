"""Tenant-owned models refuse queries without a tenant, while Django's own machinery
(cascades, forward relations, model validation) keeps working; cache keys and group names
carry the tenant."""

from __future__ import annotations

import asyncio
import inspect
import pickle
from datetime import UTC, datetime
from typing import Any

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, Max, OuterRef, ProtectedError, Subquery

from tenants.exceptions import TenantScopeError
from tenants.models import ApiKey, Feedback, Membership, Tenant, Thread, ThreadItem
from tenants.scoping import QUERYSET_BUILDERS, tenant_cache_key, tenant_group_name

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


def _public_methods(cls: type[Any]) -> set[str]:
    return {
        name
        for name in dir(cls)
        if not name.startswith("_") and inspect.isroutine(getattr(cls, name))
    }


# Public Manager methods that are model set-up, not queries: Django calls them when it builds
# the model class and its migrations. Anything else public on a manager must refuse or build.
MANAGER_MACHINERY = {
    "check",  # system checks
    "contribute_to_class",  # attaches the manager to the model
    "deconstruct",  # migrations
    "from_queryset",  # builds a manager class
    "db_manager",  # a copy of the manager for another database (test below)
    "get_queryset",  # the unscoped queryset itself (every test here uses it)
    "for_tenant",  # the one way in
}
# ... and the one such QuerySet method: a classmethod that builds a manager class.
QUERYSET_MACHINERY = {"as_manager"}
EVERY_QUERY_METHOD = sorted(
    (_public_methods(models.QuerySet) | _public_methods(type(Thread.objects)))
    - MANAGER_MACHINERY
    - QUERYSET_MACHINERY
)
# The few methods that cannot be called without arguments.
ARGUMENTS: dict[str, tuple[Any, ...]] = {
    "complex_filter": ({},),
    "dates": ("created_at", "day"),
    "datetimes": ("created_at", "day"),
    "using": ("default",),
}


def _run(result: Any) -> Any:
    """Run whatever a queryset or manager method returned as far as it goes."""
    if isinstance(result, models.QuerySet):
        return list(result)
    if inspect.iscoroutine(result):
        return asyncio.run(result)
    if inspect.isasyncgen(result):
        return asyncio.run(anext(result))
    return result


def test_the_method_inventory_is_derived_from_django_and_sees_the_async_ones() -> None:
    assert {"aiterator", "acount", "aupdate", "iterator", "get", "raw"} <= set(EVERY_QUERY_METHOD)
    assert set(EVERY_QUERY_METHOD) >= QUERYSET_BUILDERS
    manager_only = _public_methods(type(Thread.objects)) - _public_methods(models.QuerySet)
    assert manager_only == MANAGER_MACHINERY, "classify the new Manager method above"


@pytest.mark.parametrize("name", EVERY_QUERY_METHOD)
@pytest.mark.parametrize("source", ["manager", "queryset"])
def test_every_public_queryset_and_manager_method_refuses_or_only_builds(
    name: str, source: str, acme: Tenant
) -> None:
    _thread(acme)
    owner = Thread.objects if source == "manager" else Thread.objects.filter(title=None)
    if not hasattr(owner, name):  # delete() is queryset-only
        assert source == "manager" and name in _public_methods(models.QuerySet)
        return
    with pytest.raises(TenantScopeError, match=r"for_tenant\(tenant\)"):
        result = getattr(owner, name)(*ARGUMENTS.get(name, ()))
        # Only a builder gets this far, and what it built refuses to run.
        assert name in QUERYSET_BUILDERS and isinstance(result, models.QuerySet), name
        _run(result)


@pytest.mark.parametrize(
    "query",
    [
        lambda: list(Tenant.objects.filter(pk__in=Thread.objects.values("tenant"))),
        lambda: list(Tenant.objects.filter(Exists(Thread.objects.filter(tenant=OuterRef("pk"))))),
        lambda: list(
            Tenant.objects.annotate(
                title=Subquery(Thread.objects.filter(tenant=OuterRef("pk")).values("title")[:1])
            )
        ),
        lambda: list(Thread.objects.for_tenant(1).union(Thread.objects.all())),
        lambda: list(Thread.objects.for_tenant(1).filter(pk__in=Thread.objects.values("pk"))),
        lambda: list(Thread.objects.db_manager("default").all()),
        lambda: list(Thread.objects.all().select_for_update().using("default")),
    ],
    ids=["in", "exists", "subquery", "union", "scoped_outer", "db_manager", "chained"],
)
def test_an_unscoped_queryset_refuses_to_run_inside_another_query_too(query, acme: Tenant) -> None:
    _thread(acme)
    with pytest.raises(TenantScopeError):
        query()


async def test_async_iteration_without_a_tenant_raises(acme: Tenant, globex: Tenant) -> None:
    with pytest.raises(TenantScopeError):
        [thread async for thread in Thread.objects.aiterator()]
    with pytest.raises(TenantScopeError):
        [thread async for thread in Thread.objects.all()]


def test_a_join_from_a_model_that_is_not_tenant_owned_is_the_documented_limit(
    acme: Tenant, globex: Tenant
) -> None:
    # tenants/scoping.py documents this: the Tenant query is not scoped, so its joins run.
    _thread(acme)
    assert list(Tenant.objects.filter(threads__public_id="thr_1")) == [acme]


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


# --- a scoped queryset stays within its tenant ------------------------------------------


@pytest.mark.parametrize(
    "combine",
    [
        lambda mine, other: mine | other,
        lambda mine, other: mine ^ other,
        lambda mine, other: mine & other,
        lambda mine, other: mine.union(other),
        lambda mine, other: mine.intersection(other),
        lambda mine, other: mine.difference(other),
    ],
    ids=["or", "xor", "and", "union", "intersection", "difference"],
)
@pytest.mark.parametrize(
    "other",
    [
        lambda acme: Thread.objects.all(),
        lambda acme: Thread.unscoped.all(),
        lambda acme: Thread.objects.for_tenant(acme),
        lambda acme: Thread.objects.for_tenant(acme.pk).filter(title=None),
    ],
    ids=["unscoped", "operator", "other_tenant", "other_tenant_by_id"],
)
def test_scoped_rows_cannot_be_combined_with_rows_of_another_tenant(
    combine, other, acme: Tenant, globex: Tenant
) -> None:
    _thread(acme, "thr_acme")
    _thread(globex, "thr_globex")
    with pytest.raises(TenantScopeError, match="cannot be combined"):
        list(combine(Thread.objects.for_tenant(globex), other(acme)))


def test_scoped_rows_of_one_tenant_combine_and_the_result_stays_scoped(
    acme: Tenant, globex: Tenant
) -> None:
    _thread(acme, "thr_acme")
    first, second = _thread(globex, "thr_1"), _thread(globex, "thr_2")
    rows = Thread.objects.for_tenant(globex)
    either = rows.filter(public_id="thr_1") | rows.filter(public_id="thr_2")
    assert set(either) == {first, second}
    # A slice is combined through the base manager, and the result is still scoped.
    sliced = rows.order_by("pk")[:1] | rows.filter(public_id="thr_2")
    assert set(sliced) == {first, second}
    with pytest.raises(TenantScopeError, match="cannot be combined"):
        list(sliced | Thread.objects.all())
    with pytest.raises(TenantScopeError, match="only"):
        sliced.update(tenant=acme)


def test_a_scoped_queryset_refuses_raw_sql(acme: Tenant, globex: Tenant) -> None:
    _thread(acme)
    with pytest.raises(TenantScopeError, match="raw"):
        list(Thread.objects.for_tenant(globex).raw("SELECT * FROM tenants_thread"))


def test_a_scoped_queryset_refuses_sql_fragments_that_could_undo_its_filter(
    acme: Tenant, globex: Tenant
) -> None:
    _thread(acme)
    with pytest.raises(TenantScopeError, match="extra"):
        list(Thread.objects.for_tenant(globex).extra(where=["1=1) OR (1=1"]))


@pytest.mark.parametrize(
    "tenant",
    [True, False, "1", 1.0, 0, -1, lambda acme: acme.pk == acme.pk, "acme_owner", "thread"],
    ids=["true", "false", "str", "float", "zero", "negative", "bool_expr", "user", "row"],
)
def test_for_tenant_takes_only_a_tenant_or_a_tenant_id(tenant, acme: Tenant, acme_owner) -> None:
    thread = _thread(acme)
    value = {"acme_owner": acme_owner, "thread": thread}.get(tenant, tenant)
    if callable(value):
        value = value(acme)
    with pytest.raises(TenantScopeError, match="needs a saved Tenant or a tenant id"):
        Thread.objects.for_tenant(value)


# --- writes through a scoped queryset are pinned to its tenant -------------------------


def _item(tenant: Tenant, thread: Thread, public_id: str = "msg_1") -> ThreadItem:
    return ThreadItem(
        tenant=tenant, thread=thread, public_id=public_id, type="x", created_at=NOW, data={}
    )


def test_a_scoped_create_cannot_write_into_another_tenant(acme: Tenant, globex: Tenant) -> None:
    rows = Thread.objects.for_tenant(globex)
    with pytest.raises(TenantScopeError, match=f"tenant {globex.pk} only"):
        rows.create(tenant=acme, public_id="thr_x", created_at=NOW)
    with pytest.raises(TenantScopeError, match=f"tenant {globex.pk} only"):
        rows.get_or_create(public_id="thr_x", defaults={"tenant": acme, "created_at": NOW})
    with pytest.raises(TenantScopeError, match=f"tenant {globex.pk} only"):
        rows.bulk_create([Thread(tenant=acme, public_id="thr_x", created_at=NOW)])
    assert not Thread.objects.for_tenant(acme).exists()
    # Without a tenant, a scoped create writes into its own.
    assert rows.create(public_id="thr_x", created_at=NOW).tenant_id == globex.pk
    (bulk,) = rows.bulk_create([Thread(public_id="thr_y", created_at=NOW)])
    assert bulk.tenant_id == globex.pk


def test_a_scoped_insert_compiled_for_another_statement_refuses_another_tenants_rows(
    acme: Tenant, globex: Tenant
) -> None:
    rows = Thread.objects.for_tenant(globex)
    fields = [Thread._meta.get_field(name) for name in ("tenant", "public_id", "created_at")]
    with pytest.raises(TenantScopeError, match=f"tenant {globex.pk} only"):
        rows.insert_sql([Thread(tenant=acme, public_id="thr_x", created_at=NOW)], fields)

    sql, params = rows.insert_sql(
        [Thread(tenant=globex, public_id="thr_x", created_at=NOW)], fields
    )
    assert sql.startswith("INSERT INTO") and globex.pk in params and "thr_x" in params


def test_a_scoped_update_cannot_move_rows_into_another_tenant(acme: Tenant, globex: Tenant) -> None:
    thread = _thread(globex)
    rows = Thread.objects.for_tenant(globex)
    for attack in (
        lambda: rows.update(tenant=acme),
        lambda: rows.update(tenant_id=acme.pk),
        lambda: rows.update(tenant_id=models.F("tenant_id") - 1),
        lambda: rows.update_or_create(public_id="thr_1", defaults={"tenant": acme}),
        lambda: rows.bulk_update([thread], ["tenant"]),
    ):
        with pytest.raises(TenantScopeError, match=f"tenant {globex.pk} only"):
            attack()
    assert list(Thread.unscoped.values_list("tenant_id", flat=True)) == [globex.pk]


def test_a_saved_row_cannot_be_moved_to_another_tenant(acme: Tenant, globex: Tenant) -> None:
    thread = Thread.objects.for_tenant(globex).get(pk=_thread(globex).pk)
    thread.tenant = acme
    with pytest.raises(TenantScopeError, match="cannot move"):
        thread.save()
    assert Thread.unscoped.get().tenant_id == globex.pk


def test_an_upsert_must_conflict_within_the_tenant(acme: Tenant, globex: Tenant) -> None:
    theirs = _thread(acme)
    rows = Thread.objects.for_tenant(globex)
    forged = Thread(pk=theirs.pk, public_id="thr_f", title="forged", created_at=NOW)
    with pytest.raises(TenantScopeError, match="includes the tenant"):
        rows.bulk_create(
            [forged], update_conflicts=True, unique_fields=["id"], update_fields=["title"]
        )
    assert Thread.objects.for_tenant(acme).get().title is None


def test_a_child_cannot_name_a_parent_of_another_tenant(acme: Tenant, globex: Tenant) -> None:
    theirs = Thread.objects.for_tenant(acme).create(
        public_id="thr_a", title="Acme's secret plan", created_at=NOW
    )
    mine = _thread(globex, "thr_g")
    items = ThreadItem.objects.for_tenant(globex)
    for attack in (
        lambda: _item(globex, theirs).save(),
        lambda: items.create(thread=theirs, public_id="m", type="x", created_at=NOW, data={}),
        lambda: items.bulk_create([_item(globex, theirs)]),
        lambda: Feedback(tenant=globex, thread=theirs, kind="positive").save(),
    ):
        with pytest.raises(TenantScopeError, match="cannot point at thread"):
            attack()
    item = _item(globex, mine)
    item.save()
    with pytest.raises(TenantScopeError, match="cannot point at thread"):
        items.filter(pk=item.pk).update(thread=theirs)
    item.thread = theirs
    with pytest.raises(TenantScopeError, match="cannot point at thread"):
        item.save()
    # So globex, joining from its own rows, never reads acme's thread.
    titles = items.select_related("thread").values_list("thread__title", flat=True)
    assert list(titles) == [None]


def test_model_validation_reports_a_parent_of_another_tenant(acme: Tenant, globex: Tenant) -> None:
    theirs = _thread(acme, "thr_a")
    with pytest.raises(ValidationError) as refused:
        _item(globex, theirs).full_clean(exclude=["data"])
    # Like a missing thread: nothing about the other tenant's row.
    assert refused.value.message_dict == {"thread": ["no such thread in this tenant"]}
    _item(acme, theirs).full_clean(exclude=["data"])


def test_a_scoped_queryset_survives_pickling_with_its_tenant(acme: Tenant, globex: Tenant) -> None:
    _thread(acme, "thr_a")
    mine = _thread(globex, "thr_g")
    rows = pickle.loads(pickle.dumps(Thread.objects.for_tenant(globex).filter(title=None)))
    assert list(rows) == [mine]
    with pytest.raises(TenantScopeError, match="cannot be combined"):
        list(rows | Thread.objects.for_tenant(acme))
