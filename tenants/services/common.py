"""The shape every audited change of a tenant's row takes, written once.

An update is: lock the row or answer "not found", refuse fields that may not change,
snapshot, apply, validate, save (a unique name or slug taken by a concurrent request becomes
`AlreadyExists`), audit the difference. A create skips the lock and the snapshot; a delete
locks, audits what was there and deletes. Each entity describes itself once in a `RowSpec`;
`tenants.services` and `hosted_agents.services` call these with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.db import IntegrityError, models, transaction

from tenants.actors import Actor
from tenants.exceptions import AlreadyExists, InvalidInput, ObjectNotFound
from tenants.models import Tenant
from tenants.services.audit import audit_event_record

__all__ = [
    "RowSpec",
    "fields_check_length",
    "row_apply",
    "row_apply_and_save",
    "row_create",
    "row_delete",
    "row_locked",
    "row_update",
    "save_unique",
]

_R = TypeVar("_R", bound=models.Model)

# Sets one field from a change and returns the model fields it wrote (for `update_fields`).
Setter = Callable[[Any, Any], list[str]]


@dataclass(frozen=True)
class RowSpec(Generic[_R]):
    """How the skeleton handles one entity."""

    model: type[_R]
    entity: str  # names the row in errors: "HTTP tool"
    action: str  # prefix of its audit actions: "http_tool" -> "http_tool.update"
    fields: frozenset[str]  # what an update may change
    summary: Callable[[_R], dict[str, Any]]  # what the audit event keeps (never a secret)
    check: Callable[[_R], None]  # raises InvalidInput; may normalise the row
    unique: str | None = None  # the field a per-tenant unique constraint guards
    # Fields that are not set as they come (secrets, headers, normalised lists).
    setters: Mapping[str, Setter] = field(default_factory=dict)


def _set_plain(row: models.Model, name: str, value: Any) -> list[str]:
    setattr(row, name, value.strip() if isinstance(value, str) else value)
    return [name]


def row_apply(spec: RowSpec[_R], row: _R, changes: Mapping[str, Any]) -> list[str]:
    """Set `changes` on `row` (refusing fields the spec does not allow); return fields set."""
    unknown = set(changes) - spec.fields
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "cannot be changed")
    written: list[str] = []
    for name, value in changes.items():
        setter = spec.setters.get(name)
        written += setter(row, value) if setter else _set_plain(row, name, value)
    return written


def fields_check_length(row: models.Model) -> None:
    """Raise `InvalidInput` for a text longer than its column (SQLite would store it)."""
    for column in row._meta.concrete_fields:
        limit = getattr(column, "max_length", None)
        value = getattr(row, column.attname, None)
        if limit and isinstance(value, str) and len(value) > limit:
            raise InvalidInput(column.name, f"must be at most {limit} characters")


def row_locked(spec: RowSpec[_R], *, tenant: Tenant, pk: Any) -> _R:
    """Return the tenant's row `pk` locked until the transaction ends, or raise not found."""
    rows = spec.model.objects.for_tenant(tenant)  # type: ignore[attr-defined]
    row: _R | None = rows.select_for_update().filter(pk=pk).first()
    if row is None:
        raise ObjectNotFound(spec.entity, pk)
    return row


def save_unique(
    row: models.Model, *, entity: str, field: str | None, update_fields: list[str] | None = None
) -> None:
    """Save `row`; raise `AlreadyExists` if another request took its `field` value first.

    The services check the value before saving, but two requests can both pass that check;
    the unique constraint then refuses the second save. The savepoint keeps the caller's
    transaction usable, and the re-read tells that race apart from any other integrity error.
    """
    if field is None:
        row.save(update_fields=update_fields)
        return
    try:
        with transaction.atomic():
            row.save(update_fields=update_fields)
    except IntegrityError:
        if _taken(row, field):
            raise AlreadyExists(entity, getattr(row, field)) from None
        raise


def _taken(row: Any, field: str) -> bool:
    rivals = type(row).objects.for_tenant(row.tenant_id).filter(**{field: getattr(row, field)})
    if row.pk is not None and not row._state.adding:
        rivals = rivals.exclude(pk=row.pk)
    return bool(rivals.exists())


def _taken_before_save(row: Any, field: str) -> bool:
    # The cheap answer for the usual case; `save_unique` still decides under a race.
    return _taken(row, field)


def _check_and_save(spec: RowSpec[_R], row: _R, update_fields: list[str] | None) -> None:
    spec.check(row)
    fields_check_length(row)
    if spec.unique is not None and _taken_before_save(row, spec.unique):
        raise AlreadyExists(spec.entity, getattr(row, spec.unique))
    save_unique(row, entity=spec.entity, field=spec.unique, update_fields=update_fields)


def row_create(
    spec: RowSpec[_R], *, tenant: Tenant, row: _R, actor: Actor, after: dict[str, Any] | None = None
) -> _R:
    """Validate and insert `row`, and audit it (`after` adds to its summary)."""
    _check_and_save(spec, row, None)
    audit_event_record(
        tenant=tenant, actor=actor, action=f"{spec.action}.create", target=row,
        after={**spec.summary(row), **(after or {})},
    )  # fmt: skip
    return row


def row_apply_and_save(
    spec: RowSpec[_R], *, tenant: Tenant, row: _R, changes: Mapping[str, Any], actor: Actor
) -> _R:
    """Apply `changes` to the locked `row`, validate, save the changed fields, audit the diff."""
    before = spec.summary(row)
    written = row_apply(spec, row, changes)
    _check_and_save(spec, row, [*dict.fromkeys(written), "updated_at"])
    audit_event_record(
        tenant=tenant, actor=actor, action=f"{spec.action}.update", target=row,
        before=before, after=spec.summary(row),
    )  # fmt: skip
    return row


def row_update(
    spec: RowSpec[_R], *, tenant: Tenant, pk: Any, changes: Mapping[str, Any], actor: Actor
) -> _R:
    """Lock the tenant's row `pk` (or raise not found) and update it; see the module doc."""
    row = row_locked(spec, tenant=tenant, pk=pk)
    return row_apply_and_save(spec, tenant=tenant, row=row, changes=changes, actor=actor)


def row_delete(
    spec: RowSpec[_R],
    *,
    tenant: Tenant,
    pk: Any,
    actor: Actor,
    before_delete: Callable[[_R], None] | None = None,
) -> None:
    """Lock the tenant's row `pk` (or raise not found), audit what it was, delete it."""
    row = row_locked(spec, tenant=tenant, pk=pk)
    if before_delete is not None:
        before_delete(row)
    audit_event_record(
        tenant=tenant, actor=actor, action=f"{spec.action}.delete", target=row,
        before=spec.summary(row),
    )  # fmt: skip
    row.delete()
