"""A column's type changed by another connection (a migration while the web serves).

The statements a connection prepared (DATABASE_PREPARED_STATEMENTS, on by default) then fail
at each execution; the recovery runs them again unprepared and replaces the connection.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from django.db import NotSupportedError, close_old_connections, connection, transaction

from tenants.stale_plans import STALE_PLAN, _on_connection_created, _recover

# Prepared statements are PostgreSQL's (psycopg's); on SQLite nothing is prepared and the
# recovery is not installed (the last test). The tests that need a real stale statement run
# in CI's PostgreSQL pass; the two that do not run on both.
needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared statements: PostgreSQL only"
)

SELECT = "SELECT id, name FROM stale_plan_probe WHERE id = %s"


@pytest.fixture
def probe_table(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A persistent connection, as served (the tests' own close at every
    # close_old_connections): only the recovery's mark may close it.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    # Committed (a transactional test), so that another connection can alter it.
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE stale_plan_probe (id integer PRIMARY KEY, name varchar(10))")
        cursor.execute("INSERT INTO stale_plan_probe VALUES (1, 'first')")
    yield
    close_old_connections()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS stale_plan_probe")
    connection.close()


def _select() -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(SELECT, [1])
        return cursor.fetchall()


def _prepared_here() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%FROM stale_plan_probe%"],
        )
        (count,) = cursor.fetchone()
        return int(count)


def _prepare() -> None:
    for _ in range(6):
        assert _select() == [(1, "first")]
    assert _prepared_here() == 1


def _widen_elsewhere(column_type: str) -> None:
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"] or None,
        autocommit=True,
    ) as other:
        other.execute(f"ALTER TABLE stale_plan_probe ALTER COLUMN name TYPE {column_type}")


@needs_postgresql
def test_without_the_recovery_a_stale_statement_fails_at_every_execution(
    probe_table: None,
) -> None:
    # What the recovery is for, on this server: the error stays until the connection goes.
    wrappers = connection.execute_wrappers
    assert _recover in wrappers
    wrappers.remove(_recover)
    try:
        _prepare()
        _widen_elsewhere("varchar(20)")
        for _ in range(2):
            with pytest.raises(NotSupportedError, match=STALE_PLAN):
                _select()
    finally:
        wrappers.append(_recover)


@needs_postgresql
def test_outside_a_transaction_it_runs_again_unprepared_and_the_connection_is_replaced(
    probe_table: None, caplog: pytest.LogCaptureFixture
) -> None:
    _prepare()
    first = connection.connection
    close_old_connections()
    assert connection.connection is first  # a healthy connection is kept
    _widen_elsewhere("varchar(20)")
    with caplog.at_level(logging.WARNING, logger="tenants.stale_plans"):
        assert _select() == [(1, "first")]
    assert "went stale" in caplog.text and "stale_plan_probe" in caplog.text
    # Until the connection is replaced, the stale statement is run again each time.
    assert _select() == [(1, "first")]
    assert connection.close_at == 0.0
    close_old_connections()
    assert connection.connection is None
    _prepare()  # a new connection, which prepares the statement afresh
    assert connection.connection is not first
    caplog.clear()
    assert _select() == [(1, "first")]
    assert caplog.text == ""


@needs_postgresql
def test_inside_a_transaction_the_error_is_raised_and_the_rollback_forgets_the_statement(
    probe_table: None,
) -> None:
    _prepare()
    _widen_elsewhere("text")
    with pytest.raises(NotSupportedError, match=STALE_PLAN), transaction.atomic():
        _select()
    # The rollback made psycopg drop what it had prepared: the same connection works.
    assert connection.connection is not None
    assert _select() == [(1, "first")]
    assert connection.close_at == 0.0  # and it is replaced all the same


@pytest.mark.django_db
def test_other_unsupported_features_are_not_taken_for_stale_statements() -> None:
    error = NotSupportedError("something else")
    error.__cause__ = psycopg.errors.FeatureNotSupported("something else")

    def failing(*_: Any) -> None:
        raise error

    context = {"connection": connection, "cursor": None}
    close_at = connection.close_at
    with pytest.raises(NotSupportedError, match="something else"):
        _recover(failing, "SELECT 1", None, False, context)
    assert connection.close_at == close_at


def test_installed_only_where_statements_are_prepared() -> None:
    def wrapper_of(vendor: str, options: dict[str, Any]) -> list[Any]:
        fake = SimpleNamespace(
            vendor=vendor, settings_dict={"OPTIONS": options}, execute_wrappers=[]
        )
        _on_connection_created(None, fake)
        _on_connection_created(None, fake)  # a reconnection: still one
        return fake.execute_wrappers

    assert wrapper_of("postgresql", {"prepare_threshold": 5}) == [_recover]
    assert wrapper_of("postgresql", {}) == []  # DATABASE_PREPARED_STATEMENTS off
    assert wrapper_of("sqlite", {}) == []
