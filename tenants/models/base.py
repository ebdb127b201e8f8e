from __future__ import annotations

from typing import Any, ClassVar, Generic, NoReturn, Self, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, router

from tenants.exceptions import TenantScopeError
from tenants.scoping import (
    TenantScopedManager,
    check_pinned_parents,
    parents_of_other_tenants,
)

_M = TypeVar("_M", bound=models.Model)


class FrozenQuerySet(models.QuerySet[_M], Generic[_M]):
    """A queryset that adds rows but never changes or deletes them: for history tables.

    A model whose rows must not change gives every manager this queryset, Django's base
    manager included (`Meta.base_manager_name`), so that neither `objects`, `unscoped` nor
    `_base_manager` can `update()`, `delete()` or `bulk_update()` (sync or async, which
    call the sync ones). Two things still work, on purpose:

    * Django's SET_NULL when a referenced user is deleted, which runs
      `update(<field>=None)` on the base manager: the fields named in `detachable_fields`
      may be set to None, and nothing else;
    * cascading deletes of a parent (see each model for which ones it allows): Django's
      deletion collector deletes the collected rows by primary key below the queryset API.
    """

    frozen_error: ClassVar[type[Exception]] = RuntimeError
    detachable_fields: ClassVar[frozenset[str]] = frozenset()

    def _refuse_change(self) -> NoReturn:
        raise self.frozen_error(f"{self.model._meta.verbose_name_plural} cannot be changed")

    def update(self, **kwargs: Any) -> int:
        detaching = set(kwargs) <= self.detachable_fields and all(
            value is None for value in kwargs.values()
        )
        if not kwargs or not detaching:
            self._refuse_change()
        return super().update(**kwargs)

    def _update(self, values: Any) -> NoReturn:
        self._refuse_change()

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse_change()

    def delete(self) -> NoReturn:
        self._refuse_change()


class TenantOwnedModel(models.Model):
    """Base of every tenant-owned model: scoped `objects`, explicit `unscoped`.

    Subclasses declare their own `tenant` foreign key (non-null) so that its deletion rule
    and related name stay visible where the model is defined.
    """

    tenant_id: int

    objects = TenantScopedManager()
    # Operator code only; see tenants/scoping.py for where unscoped access is allowed.
    unscoped = models.Manager()

    class Meta:
        abstract = True

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any, **kwargs: Any) -> Self:
        row = super().from_db(db, field_names, values, **kwargs)
        # Remembered so that save() can refuse to move the row to another tenant.
        row._state.saved_tenant_id = row.__dict__.get("tenant_id")  # type: ignore[attr-defined]
        return row

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Checks in Python only (no query); the database checks ids (tenants/scoping.py).
        saved_tenant_id = getattr(self._state, "saved_tenant_id", None)
        if saved_tenant_id is not None and self.tenant_id != saved_tenant_id:
            raise TenantScopeError(
                f"{type(self).__name__} {self.pk} belongs to tenant {saved_tenant_id} "
                f"and cannot move to tenant {self.tenant_id}"
            )
        check_pinned_parents(self)
        super().save(*args, **kwargs)
        self._state.saved_tenant_id = self.tenant_id  # type: ignore[attr-defined]

    def validate_unique(self, exclude: Any = None) -> None:
        # Django checks unique fields through the default manager, which refuses unscoped
        # queries. Tenant-owned models declare uniqueness only as UniqueConstraints that
        # include the tenant (tests/tenants/test_tenant_isolation_rules.py checks it), and
        # validate_constraints below checks those within the tenant.
        return None

    def validate_constraints(self, exclude: Any = None) -> None:
        # Django's UniqueConstraint.validate queries the default manager, which refuses
        # unscoped queries; unique constraints are checked here within the row's tenant.
        excluded = set(exclude or ())
        using = router.db_for_write(type(self), instance=self)
        errors: dict[str, list[ValidationError]] = {}
        # A parent of another tenant answers like a missing one; a form (the admin's)
        # then shows it on the field rather than failing in save().
        for field in parents_of_other_tenants(self):
            if field.name not in excluded:
                message = f"no such {field.verbose_name} in this tenant"
                errors.setdefault(field.name, []).append(
                    ValidationError(message, code="other_tenant")
                )
        for constraint in self._meta.constraints:
            try:
                if isinstance(constraint, models.UniqueConstraint):
                    self._validate_unique_in_tenant(constraint, excluded)
                else:
                    constraint.validate(type(self), self, exclude=excluded, using=using)
            except ValidationError as error:
                errors = error.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def _validate_unique_in_tenant(
        self, constraint: models.UniqueConstraint, excluded: set[str]
    ) -> None:
        fields = tuple(constraint.fields)
        if (
            "tenant" not in fields
            or constraint.condition is not None
            or excluded.intersection(fields)
            or self.tenant_id is None
        ):
            return  # The database still enforces it.
        # Constraint fields are concrete fields; get_field is typed to return relations too,
        # which have no attname.
        lookup = {name: getattr(self, self._meta.get_field(name).attname) for name in fields}  # type: ignore[union-attr]
        rows = type(self).objects.for_tenant(self.tenant_id).filter(**lookup)
        if not self._state.adding:
            rows = rows.exclude(pk=self.pk)
        if rows.exists():
            raise self.unique_error_message(type(self), fields)
