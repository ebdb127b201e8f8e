"""What the services of this package share: the row skeleton of tenants.services.common."""

from __future__ import annotations

from tenants.services.common import (
    RowSpec,
    fields_check_length,
    row_apply,
    row_create,
    row_delete,
    row_locked,
    row_update,
    save_unique,
)

__all__ = [
    "RowSpec",
    "fields_check_length",
    "row_apply",
    "row_create",
    "row_delete",
    "row_locked",
    "row_update",
    "save_unique",
]
