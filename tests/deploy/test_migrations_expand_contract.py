"""Upgrades: every migration of the platform's apps must leave the schema usable by the
release before it (expand), unless it is a listed contract migration.

During a rolling upgrade the migrate job runs first, while pods of the previous release
still serve; they read and write the new schema for minutes. So a migration may add tables,
nullable columns, columns with a database default, indexes and constraints old code keeps,
and may loosen a column; it may not drop or rename what old code still uses, nor add or
tighten a NOT NULL column that old code's INSERTs leave out. Those steps come in a later
release (contract), once no running version uses the old shape, and go in `CONTRACTS`
with the release that expanded first. The rule is written out in deploy/README.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.db import models
from django.db.migrations import Migration, operations
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

# The apps whose migrations ship with the platform (third-party apps' are theirs).
PLATFORM_APPS = ("chatkit_platform", "tenants", "hosted_agents", "chatkit_endpoints", "console",
                 "management_api")  # fmt: skip

# Contract migrations, each with the release whose expand step made it safe, e.g.
#   ("tenants", "0012_drop_thread_agent_slug"):
#       "0.3: threads read agent_id since 0.2 (0011_link_threads_to_agents); drops the slug",
CONTRACTS: dict[tuple[str, str], str] = {}

# Written before the first release (0.1.0), while no deployment ran an older schema: they
# add NOT NULL columns the way makemigrations does (a one-off default). Do not add to this.
BEFORE_THE_FIRST_RELEASE: dict[tuple[str, str], str] = {
    ("hosted_agents", "0003_tool_call_run_id"): "tool calls' run_id, NOT NULL, before 0.1.0",
    ("hosted_agents", "0005_agent_workflow_id"): "agents' workflow_id made NOT NULL, before 0.1.0",
    ("hosted_agents", "0006_agent_allowed_origins"): "agents' allowed_origins, before 0.1.0",
    ("tenants", "0004_auditevent_actor_kind"): "audit events' actor_kind, before 0.1.0",
}
EXEMPT = CONTRACTS | BEFORE_THE_FIRST_RELEASE

# Operations no running older version survives, whatever their arguments.
BREAKING = (
    operations.DeleteModel,
    operations.RemoveField,
    operations.RenameField,
    operations.RenameModel,
    operations.AlterModelTable,
)


@dataclass(frozen=True)
class Violation:
    app: str
    migration: str
    operation: str
    reason: str

    def __str__(self) -> str:
        return f"{self.app}.{self.migration}: {self.operation}: {self.reason}"


def _has_db_default(field: models.Field[object, object]) -> bool:
    return field.db_default is not models.NOT_PROVIDED


def _needs_a_value(field: models.Field[object, object]) -> bool:
    """Return whether an INSERT that leaves this column out fails."""
    if field.many_to_many or field.null or _has_db_default(field):
        return False
    # A primary key the database generates (AutoField) fills itself.
    return not isinstance(field, models.AutoField | models.BigAutoField | models.SmallAutoField)


def _reason(operation: Operation, app: str, before: ProjectState) -> str | None:
    """Return why `operation` breaks the previous release, or None when it does not."""
    if isinstance(operation, BREAKING):
        return "old code still uses what this drops or renames"
    if isinstance(operation, operations.AddField) and _needs_a_value(operation.field):
        return ("a NOT NULL column without a database default: old code's INSERTs fail; "
                "give it null=True or db_default=...")  # fmt: skip
    if isinstance(operation, operations.AlterField):
        old = before.models[app, operation.model_name_lower].fields.get(operation.name)
        if old is not None and old.null and _needs_a_value(operation.field):
            return ("makes a nullable column NOT NULL without a database default: old code "
                    "may still write NULL")  # fmt: skip
        if old is not None and old.column != operation.field.column:
            return "renames the column old code uses"
    return None


def _created_here(migration: Migration) -> set[str]:
    return {op.name_lower for op in migration.operations if isinstance(op, operations.CreateModel)}


def migration_violations(loader: MigrationLoader, app: str, name: str) -> Iterator[Violation]:
    """Yield the operations of one migration that the previous release cannot survive."""
    migration = loader.disk_migrations[app, name]
    state = loader.project_state((app, name), at_end=False)
    new_tables = _created_here(migration)
    for operation in migration.operations:
        touches = getattr(operation, "model_name_lower", None) or getattr(
            operation, "name_lower", None
        )
        # Old code knows nothing of a table this very migration creates.
        if touches not in new_tables:
            reason = _reason(operation, app, state)
            if reason:
                yield Violation(app, name, operation.describe(), reason)
        operation.state_forwards(app, state)


def release_violations(loader: MigrationLoader) -> list[Violation]:
    return [
        violation
        for app, name in sorted(loader.disk_migrations)
        if app in PLATFORM_APPS and (app, name) not in EXEMPT
        for violation in migration_violations(loader, app, name)
    ]


@pytest.fixture(scope="module")
def loader() -> MigrationLoader:
    return MigrationLoader(None, ignore_no_migrations=True)


def test_every_migration_of_this_release_keeps_the_previous_release_running(
    loader: MigrationLoader,
) -> None:
    assert any(app == "tenants" for app, _ in loader.disk_migrations)
    violations = release_violations(loader)
    assert not violations, "\n".join(map(str, violations))


def test_every_exempt_migration_exists_and_says_why(loader: MigrationLoader) -> None:
    for key, why in EXEMPT.items():
        assert key in loader.disk_migrations, key
        assert why.strip(), key


# --- the checker itself, on migrations made up for the purpose ---------------------------


def _check(loader: MigrationLoader, *ops: Operation, name: str = "9999_probe") -> list[str]:
    """Run the checker on a made-up tenants migration placed after the latest one."""
    leaves = [node for node in loader.graph.leaf_nodes() if node[0] == "tenants"]
    migration = Migration(name, "tenants")
    migration.dependencies = leaves
    migration.operations = list(ops)
    probe = MigrationLoader(None, ignore_no_migrations=True)
    probe.disk_migrations["tenants", name] = migration
    probe.graph.add_node(("tenants", name), migration)
    for leaf in leaves:
        probe.graph.add_dependency(migration, ("tenants", name), leaf)
    return [v.reason for v in migration_violations(probe, "tenants", name)]


def test_a_nullable_column_or_one_with_a_database_default_passes(
    loader: MigrationLoader,
) -> None:
    assert _check(loader, operations.AddField("thread", "note", models.TextField(null=True))) == []
    assert (
        _check(
            loader, operations.AddField("thread", "pinned", models.BooleanField(db_default=False))
        )
        == []
    )


def test_a_not_null_column_without_a_database_default_fails(loader: MigrationLoader) -> None:
    # default= is Django's only: the column has no default in the database.
    [reason] = _check(
        loader, operations.AddField("thread", "pinned", models.BooleanField(default=False))
    )
    assert "NOT NULL" in reason


def test_dropping_or_renaming_fails_and_a_new_table_passes(loader: MigrationLoader) -> None:
    assert _check(loader, operations.RemoveField("thread", "title"))
    assert _check(loader, operations.RenameField("thread", "title", "name"))
    assert _check(loader, operations.DeleteModel("feedback"))
    new_table = operations.CreateModel("Probe", [("id", models.BigAutoField(primary_key=True))])
    required = operations.AddField("probe", "size", models.IntegerField())
    assert _check(loader, new_table, required) == []


def test_tightening_a_nullable_column_fails(loader: MigrationLoader) -> None:
    nullable = operations.AddField("thread", "note", models.TextField(null=True))
    tightened = operations.AlterField("thread", "note", models.TextField())
    [reason] = _check(loader, nullable, tightened)
    assert "NULL" in reason
