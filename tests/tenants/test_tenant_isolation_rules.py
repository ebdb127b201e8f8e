"""Every model of our apps is either tenant-owned (non-null tenant, scoped manager, tenant in
every unique constraint) or on a short allow-list of models that are not tenant-owned.

Every tenant-owned model, found by walking the installed models, also gets the same attacks:
its scoped queryset combined with other rows or run as raw SQL, writes that name another
tenant, and every link to another tenant-owned row pointed at another tenant's row. A new
model is covered the day it is added; `_sample` says so if it meets a field it cannot fill.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, models, transaction

from hosted_agents.exceptions import ImmutableVersionError
from tenants.exceptions import AppendOnlyError, TenantScopeError
from tenants.models import Tenant
from tenants.scoping import is_tenant_scoped, pinned_relations

ROOT = Path(settings.BASE_DIR).resolve()

# Models of our apps that are deliberately not tenant-owned, each with its reason.
NOT_TENANT_OWNED = {
    "tenants.Tenant": "the tenant itself",
}


def _our_models() -> list[type[models.Model]]:
    """Return the models of apps that live in this repository (not Django, not third-party)."""
    ours = []
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if path.is_relative_to(ROOT) and ".venv" not in path.parts:
            ours.extend(config.get_models())
    return ours


def _label(model: type[models.Model]) -> str:
    return model._meta.label


def test_the_inventory_finds_our_models_and_skips_djangos() -> None:
    labels = {_label(model) for model in _our_models()}
    assert {"tenants.Tenant", "tenants.Thread", "tenants.ApiKey"} <= labels
    assert not any(label.startswith(("auth.", "admin.", "sessions.")) for label in labels)


@pytest.mark.parametrize("model", _our_models(), ids=_label)
def test_every_model_of_our_apps_is_tenant_owned_or_allow_listed(
    model: type[models.Model],
) -> None:
    fields = {field.name for field in model._meta.get_fields()}
    assert "tenant" in fields or _label(model) in NOT_TENANT_OWNED, (
        f"{_label(model)} has no tenant field: give it one, or add it to NOT_TENANT_OWNED "
        "with the reason it holds no tenant data"
    )


def _tenant_owned() -> list[type[models.Model]]:
    return [
        model
        for model in apps.get_models()
        if any(field.name == "tenant" for field in model._meta.get_fields())
    ]


@pytest.mark.parametrize("model", _tenant_owned(), ids=_label)
def test_every_tenant_field_is_a_non_null_foreign_key_to_tenant(
    model: type[models.Model],
) -> None:
    field = model._meta.get_field("tenant")
    assert isinstance(field, models.ForeignKey)
    assert field.related_model is apps.get_model("tenants", "Tenant")
    assert not field.null, f"{_label(model)}.tenant is nullable"


@pytest.mark.parametrize("model", _tenant_owned(), ids=_label)
def test_every_tenant_owned_model_refuses_unscoped_queries(model: type[models.Model]) -> None:
    assert is_tenant_scoped(model), (
        f"{_label(model)}.objects must be a TenantScopedManager and the default manager"
    )


@pytest.mark.parametrize("model", _tenant_owned(), ids=_label)
def test_every_uniqueness_rule_of_a_tenant_owned_model_includes_the_tenant(
    model: type[models.Model],
) -> None:
    unique_fields = [f.name for f in model._meta.local_fields if f.unique and not f.primary_key]
    assert unique_fields == [], f"{_label(model)}: use a UniqueConstraint with the tenant instead"
    assert not model._meta.unique_together
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint):
            assert "tenant" in constraint.fields, f"{constraint.name} lacks the tenant"


def test_the_allow_list_names_only_models_that_exist() -> None:
    labels = {_label(model) for model in _our_models()}
    assert set(NOT_TENANT_OWNED) <= labels


# --- the same attacks on every tenant-owned model -------------------------------------

NOW = datetime(2025, 7, 1, tzinfo=UTC)
_unique = itertools.count(1)


def _sample(field: models.Field[Any, Any]) -> Any:
    """Return a valid value for a required field (unique enough for two rows per test)."""
    if field.choices:
        return field.choices[0][0]  # type: ignore[index]
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, models.DateTimeField):
        return NOW
    if isinstance(field, models.DateField):
        return NOW.date()
    if isinstance(field, models.IntegerField | models.FloatField):
        return 1
    if isinstance(field, models.CharField | models.TextField):
        return f"x{next(_unique)}"
    raise AssertionError(f"teach _sample to fill {field!r}")


def _values(model: type[models.Model], tenant: Tenant) -> dict[str, Any]:
    """Return what a minimal `model` row of `tenant` needs, its required parents saved."""
    values: dict[str, Any] = {"tenant": tenant}
    for field in model._meta.concrete_fields:
        if (
            field.name == "tenant"
            or field.primary_key
            or field.null
            or field.has_default()
            or getattr(field, "auto_now", False)
            or getattr(field, "auto_now_add", False)
        ):
            continue
        if isinstance(field, models.ForeignKey):
            values[field.name] = _parent(field.related_model, tenant)  # type: ignore[arg-type]
        else:
            values[field.name] = _sample(field)
    return values


def _parent(model: type[models.Model], tenant: Tenant) -> models.Model:
    if model is get_user_model():
        return get_user_model()._default_manager.create_user(username=f"user{next(_unique)}")
    assert is_tenant_scoped(model), f"teach _parent to make a {_label(model)}"
    return _row(model, tenant)


def _row(model: type[models.Model], tenant: Tenant) -> models.Model:
    row = model(**_values(model, tenant))
    row.save()
    return row


def _tenant_rows(model: type[models.Model], tenant: Tenant) -> set[Any]:
    return set(model.unscoped.filter(tenant=tenant).values_list("pk", flat=True))  # type: ignore[attr-defined]


COMBINATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "or": operator.or_,
    "and": operator.and_,
    "xor": operator.xor,
    "union": lambda mine, other: mine.union(other),
    "intersection": lambda mine, other: mine.intersection(other),
    "difference": lambda mine, other: mine.difference(other),
}
# Querysets a tenant's scoped rows must never be combined with.
OUTSIDERS: dict[str, Callable[[Any, Tenant], Any]] = {
    "unscoped": lambda model, other: model.objects.all(),
    "operator": lambda model, other: model.unscoped.all(),
    "other_tenant": lambda model, other: model.objects.for_tenant(other),
}


@pytest.mark.parametrize("outsider", OUTSIDERS)
@pytest.mark.parametrize("combination", COMBINATIONS)
@pytest.mark.parametrize("model", _tenant_owned(), ids=_label)
def test_every_tenant_owned_model_refuses_to_combine_its_rows_with_rows_outside_the_tenant(
    model: type[models.Model], combination: str, outsider: str, acme: Tenant, globex: Tenant
) -> None:
    _row(model, acme)
    mine = model.objects.for_tenant(globex)  # type: ignore[attr-defined]
    with pytest.raises(TenantScopeError, match="cannot be combined"):
        list(COMBINATIONS[combination](mine, OUTSIDERS[outsider](model, acme)))


@pytest.mark.parametrize("model", _tenant_owned(), ids=_label)
def test_every_tenant_owned_model_combines_rows_of_one_tenant_and_stays_in_it(
    model: type[models.Model], acme: Tenant, globex: Tenant
) -> None:
    _row(model, acme)
    theirs = _tenant_rows(model, acme)
    mine = model.objects.for_tenant(globex)  # type: ignore[attr-defined]
    _row(model, globex)
    combined = mine | model.objects.for_tenant(globex.pk)  # type: ignore[attr-defined]
    assert set(combined.values_list("pk", flat=True)) == _tenant_rows(model, globex)
    # Sliced rows are combined through the base manager; the result is still scoped.
    with pytest.raises(TenantScopeError, match="cannot be combined"):
        list((mine[:1] | mine) | model.unscoped.all())  # type: ignore[attr-defined]
    unordered = mine.order_by()  # SQLite allows no ORDER BY inside a UNION
    assert not theirs & set(unordered.union(unordered).values_list("pk", flat=True))


@pytest.mark.parametrize("model", _tenant_owned(), ids=_label)
def test_every_tenant_owned_model_refuses_raw_sql_on_a_scoped_queryset(
    model: type[models.Model], acme: Tenant, globex: Tenant
) -> None:
    _row(model, acme)
    rows = model.objects.for_tenant(globex)  # type: ignore[attr-defined]
    with pytest.raises(TenantScopeError, match="raw"):
        list(rows.raw(f"SELECT * FROM {model._meta.db_table}"))
    with pytest.raises(TenantScopeError, match="extra"):
        list(rows.extra(where=["1=1) OR (1=1"]))


# Each write through globex's scoped queryset that names acme; none may land in acme.
PINNED_WRITES: dict[str, Callable[[Any, Any, dict[str, Any], Tenant], Any]] = {
    "create": lambda rows, row, values, other: rows.create(**values, tenant=other),
    "create_by_id": lambda rows, row, values, other: rows.create(**values, tenant_id=other.pk),
    "bulk_create": lambda rows, row, values, other: rows.bulk_create(
        [rows.model(**values, tenant=other)]
    ),
    "get_or_create": lambda rows, row, values, other: rows.get_or_create(
        pk=-1, defaults={**values, "tenant": other}
    ),
    "update_or_create": lambda rows, row, values, other: rows.update_or_create(
        pk=row.pk, defaults={"tenant": other}
    ),
    "update_or_create_new": lambda rows, row, values, other: rows.update_or_create(
        pk=-1, defaults={**values, "tenant": other}
    ),
    "update": lambda rows, row, values, other: rows.update(tenant=other),
    "update_by_id": lambda rows, row, values, other: rows.update(tenant_id=other.pk),
    "bulk_update": lambda rows, row, values, other: rows.bulk_update(
        [_moved(row, other)], ["tenant"]
    ),
}


def _moved(row: models.Model, tenant: Tenant) -> models.Model:
    row.tenant = tenant  # type: ignore[attr-defined]
    return row


@pytest.mark.parametrize("write", PINNED_WRITES)
@pytest.mark.parametrize("model", _tenant_owned(), ids=_label)
def test_every_tenant_owned_model_pins_scoped_writes_to_the_tenant(
    model: type[models.Model], write: str, acme: Tenant, globex: Tenant
) -> None:
    row = _row(model, globex)
    values = _values(model, globex)
    del values["tenant"]
    before = {tenant: _tenant_rows(model, tenant) for tenant in (acme, globex)}
    rows = model.objects.for_tenant(globex)  # type: ignore[attr-defined]
    with pytest.raises(TenantScopeError, match=f"tenant {globex.pk} only"):
        PINNED_WRITES[write](rows, row, values, acme)
    assert {tenant: _tenant_rows(model, tenant) for tenant in (acme, globex)} == before


@pytest.mark.parametrize("model", _tenant_owned(), ids=_label)
def test_every_tenant_owned_model_fills_in_the_tenant_of_a_scoped_create(
    model: type[models.Model], globex: Tenant
) -> None:
    values = _values(model, globex)
    del values["tenant"]
    row = model.objects.for_tenant(globex).create(**values)  # type: ignore[attr-defined]
    assert row.tenant_id == globex.pk


@pytest.mark.parametrize("model", _tenant_owned(), ids=_label)
def test_every_tenant_owned_row_stays_in_its_tenant_when_saved_again(
    model: type[models.Model], acme: Tenant, globex: Tenant
) -> None:
    row = _row(model, globex)
    loaded = model.objects.for_tenant(globex).get(pk=row.pk)  # type: ignore[attr-defined]
    loaded.tenant = acme
    # History tables refuse any change first, with their own error.
    with pytest.raises((TenantScopeError, AppendOnlyError, ImmutableVersionError)):
        loaded.save()
    assert model.unscoped.get(pk=row.pk).tenant_id == globex.pk  # type: ignore[attr-defined]


PINNED = [(model, field) for model in _tenant_owned() for field in pinned_relations(model)]


def _relation_label(value: Any) -> str:
    return _label(value) if isinstance(value, type) else value.name


def test_the_parent_links_between_tenant_owned_models_are_all_found() -> None:
    found = {f"{_label(model)}.{field.name}" for model, field in PINNED}
    assert {"tenants.ThreadItem.thread", "hosted_agents.AgentVersion.agent"} <= found
    assert "tenants.ThreadItem.tenant" not in found


def _child_of(model: type[models.Model], field: Any, tenant: Tenant, parent: Any) -> Any:
    values = _values(model, tenant)
    values.pop(field.name, None)
    return {**values, field.name: parent}


@pytest.mark.parametrize(("model", "field"), PINNED, ids=_relation_label)
def test_no_tenant_owned_row_can_point_at_a_parent_of_another_tenant(
    model: type[models.Model], field: Any, acme: Tenant, globex: Tenant
) -> None:
    theirs = _row(field.related_model, acme)
    values = _child_of(model, field, globex, theirs)
    rows = model.objects.for_tenant(globex)  # type: ignore[attr-defined]
    existing = _row(model, globex)
    attacks = [
        lambda: model(**values).save(),
        lambda: rows.create(**values),
        lambda: rows.bulk_create([model(**values)]),
        lambda: rows.get_or_create(pk=-1, defaults=values),
        lambda: rows.filter(pk=existing.pk).update(**{field.name: theirs}),
    ]
    for attack in attacks:
        with pytest.raises(TenantScopeError, match="cannot point at"):
            attack()
    assert not model.unscoped.filter(**{field.attname: theirs.pk}).exists()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("model", "field"), PINNED, ids=_relation_label)
def test_the_database_refuses_a_parent_of_another_tenant_given_only_by_its_id(
    model: type[models.Model], field: Any, acme: Tenant, globex: Tenant
) -> None:
    theirs = _row(field.related_model, acme)
    values = _child_of(model, field, globex, theirs)
    del values[field.name]
    row = model(**values, **{field.attname: theirs.pk})
    if connection.vendor != "postgresql":
        # The documented limit (tenants/scoping.py): on SQLite, for development only, a
        # parent given by its id alone is not checked, since that would cost a query.
        row.save()
        return
    with pytest.raises(IntegrityError, match=f"{field.column}"), transaction.atomic():
        row.save()
        connection.check_constraints()  # the composite foreign keys are deferred
