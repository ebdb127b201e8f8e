from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, router

from tenants.scoping import TenantScopedManager


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
        errors: list[ValidationError] = []
        for constraint in self._meta.constraints:
            try:
                if isinstance(constraint, models.UniqueConstraint):
                    self._validate_unique_in_tenant(constraint, excluded)
                else:
                    constraint.validate(type(self), self, exclude=excluded, using=using)
            except ValidationError as error:
                errors.append(error)
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
