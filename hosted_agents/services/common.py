"""What the services of this package share."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from hosted_agents.exceptions import AlreadyExists
from tenants.models import TenantOwnedModel

__all__ = ["save_unique"]


def save_unique(
    row: TenantOwnedModel, *, entity: str, field: str, update_fields: list[str] | None = None
) -> None:
    """Save `row`; raise `AlreadyExists` if another request took its `field` value first.

    The services check the name before saving, but two requests can both pass that check;
    the unique constraint then refuses the second save. The savepoint keeps the caller's
    transaction usable, and the re-read tells that race apart from any other integrity error.
    """
    try:
        with transaction.atomic():
            row.save(update_fields=update_fields)
    except IntegrityError:
        value = getattr(row, field)
        rivals = type(row).objects.for_tenant(row.tenant_id).filter(**{field: value})
        if row.pk is not None and not row._state.adding:
            rivals = rivals.exclude(pk=row.pk)
        if rivals.exists():
            raise AlreadyExists(entity, value) from None
        raise
