"""Every model of our apps is either tenant-owned (non-null tenant, scoped manager, tenant in
every unique constraint) or on a short allow-list of models that are not tenant-owned."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db import models

from tenants.scoping import is_tenant_scoped

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
