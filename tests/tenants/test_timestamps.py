"""Timestamps read from PostgreSQL by the fast loader equal what Django's loader reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader

from tenants.timestamps import UtcTimestampLoader

VALUES = [
    datetime(2026, 12, 3, 20, 51, 37, 123456, tzinfo=UTC),
    datetime(2026, 12, 3, 20, 51, 37, tzinfo=UTC),
    datetime(2026, 1, 1, 0, 0, 0, 100000, tzinfo=UTC),
    datetime(99, 6, 1, 12, 0, 0, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    # Written with another offset, read back in UTC.
    datetime(2026, 7, 1, 12, 30, tzinfo=UTC) + timedelta(hours=5),
]


# The loader is PostgreSQL's (psycopg's adapters); SQLite's timestamps are read by Django's
# own converters, which this does not touch.
needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a psycopg loader: PostgreSQL only"
)


class _Reference(BaseTzLoader):  # type: ignore[misc]
    timezone = UTC


@needs_postgresql
@pytest.mark.django_db
def test_postgresql_timestamps_load_as_djangos_loader_loads_them() -> None:
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(1184, 0)  # timestamptz, text
    assert loader is UtcTimestampLoader
    with connection.cursor() as cursor:
        cursor.execute("SELECT unnest(%s::timestamptz[])", [VALUES])
        fast = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT unnest(%s::timestamptz[])::text", [VALUES])
        texts = [row[0].encode() for row in cursor.fetchall()]
    reference = _Reference(1184, connection.connection)
    assert fast == VALUES
    assert [value.tzinfo for value in fast] == [UTC] * len(VALUES)
    assert fast == [reference.load(text) for text in texts]


@needs_postgresql
@pytest.mark.django_db
def test_values_the_fast_path_cannot_read_go_to_djangos_loader() -> None:
    connection.ensure_connection()
    loader = UtcTimestampLoader(1184, connection.connection)
    reference = _Reference(1184, connection.connection)
    # Not UTC: parsed by psycopg, which converts to the connection's zone.
    assert loader.load(b"2026-12-03 20:51:37.5+05:30") == reference.load(
        b"2026-12-03 20:51:37.5+05:30"
    )
    # Outside what Python's datetime holds: the same error as Django's loader gives.
    for text in (b"infinity", b"0044-03-15 12:00:00+00 BC"):
        with pytest.raises(Exception) as fast_error:
            loader.load(text)
        with pytest.raises(Exception) as reference_error:
            reference.load(text)
        assert type(fast_error.value) is type(reference_error.value)
