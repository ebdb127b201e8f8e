"""Migration operations of our own; migrations import them by this module's path."""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import ProjectState


class RunSQLOnPostgreSQL(migrations.RunSQL):
    """`RunSQL` that runs on PostgreSQL and is a no-op on every other database (SQLite)."""

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class PinToParentTenant(migrations.operations.base.Operation):
    """Make PostgreSQL refuse a child row whose parent belongs to another tenant.

    `child_table.column` points at `parent_table.id`, and both tables have `tenant_id`. The
    operation adds a composite foreign key (tenant_id, column) -> parent (tenant_id, id),
    deferred like Django's own foreign keys, so the parent needs UNIQUE (tenant_id, id)
    (`AddTenantIdKey`). A NULL `column` passes (MATCH SIMPLE), as Django's SET_NULL needs.

    Existing rows are checked first, on every database: a child that already names another
    tenant's parent is a bug, and the migration stops with the rows' ids rather than hide
    it. SQLite gets no constraint: it adds foreign keys only in CREATE TABLE, and triggers
    that read another table break Django's table rebuilds there. On SQLite, the model
    layer's check (tenants/scoping.py, `check_pinned_parents`) is the guard.
    """

    reduces_to_sql = True
    reversible = True

    def __init__(self, child_table: str, column: str, parent_table: str) -> None:
        self.child_table = child_table
        self.column = column
        self.parent_table = parent_table

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [self.child_table, self.column, self.parent_table], {})

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass  # The database only: Django's model state has no composite foreign keys.

    def describe(self) -> str:
        return f"Pin {self.child_table}.{self.column} to the tenant of {self.parent_table}"

    @property
    def constraint_name(self) -> str:
        return f"{self.child_table}_{self.column.removesuffix('_id')}_tenant"

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        self._refuse_existing_mismatches(schema_editor)
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f"ALTER TABLE {self.child_table} ADD CONSTRAINT {self.constraint_name} "
                f"FOREIGN KEY (tenant_id, {self.column}) "
                f"REFERENCES {self.parent_table} (tenant_id, id) DEFERRABLE INITIALLY DEFERRED"
            )

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f"ALTER TABLE {self.child_table} DROP CONSTRAINT {self.constraint_name}"
            )

    def _refuse_existing_mismatches(self, schema_editor: BaseDatabaseSchemaEditor) -> None:
        child, column, parent = self.child_table, self.column, self.parent_table
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                f"SELECT c.id FROM {child} c JOIN {parent} p ON p.id = c.{column} "
                "WHERE c.tenant_id <> p.tenant_id ORDER BY c.id LIMIT 20"
            )
            ids = [row[0] for row in cursor.fetchall()]
        if ids:
            raise RuntimeError(
                f"{child} rows {ids} (at most 20 shown) name a {column} of {parent} that "
                "belongs to another tenant. This is a bug in the code that wrote them: fix "
                "or delete these rows, then run the migration again."
            )


class AddTenantIdKey(RunSQLOnPostgreSQL):
    """UNIQUE (tenant_id, id) on a parent table: what `PinToParentTenant` refers to on
    PostgreSQL. Redundant with the primary key, so other databases need none."""

    def __init__(self, table: str) -> None:
        self.table = table
        name = f"{table}_tenant_id_key"
        super().__init__(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE (tenant_id, id)",
            f"ALTER TABLE {table} DROP CONSTRAINT {name}",
        )

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [self.table], {})
