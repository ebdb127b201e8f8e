"""On PostgreSQL, statements are bound on the server and those a connection repeats are
prepared (DATABASE_PREPARED_STATEMENTS, on by default)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from chatkit_platform.env import parse_database_url

ROOT = Path(__file__).resolve().parents[2]


def test_postgresql_options_bind_on_the_server_and_prepare_after_five_runs() -> None:
    config = parse_database_url("DATABASE_URL", "postgres://app@db:5432/chat?sslmode=require", ROOT)

    options = config.as_django()["OPTIONS"]

    assert options == {"sslmode": "require", "server_side_binding": True, "prepare_threshold": 5}


def test_without_a_threshold_postgresql_keeps_djangos_defaults() -> None:
    config = parse_database_url("DATABASE_URL", "postgres://app@db:5432/chat", ROOT)

    off = dataclasses.replace(config, prepare_threshold=None)

    assert off.as_django()["OPTIONS"] == {}


def test_sqlite_gets_none_of_these_options() -> None:
    config = parse_database_url("DATABASE_URL", "sqlite:///var/x.sqlite3", ROOT)

    assert set(config.as_django()["OPTIONS"]) == {"timeout", "transaction_mode"}  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "expected"), [(None, "5 True"), ("off", "None None")])
def test_the_setting_turns_preparing_off_for_a_pooler(
    value: str | None, expected: str, tmp_path: Path
) -> None:
    code = (
        "from django.conf import settings; o = settings.DATABASES['default']['OPTIONS'];"
        " print(o.get('prepare_threshold'), o.get('server_side_binding'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_PREPARED_STATEMENTS"}
    env.update(DATABASE_URL="postgres://app@127.0.0.1:5432/unused", PLATFORM_DATA_DIR=str(tmp_path))
    if value is not None:
        env["DATABASE_PREPARED_STATEMENTS"] = value
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


@pytest.mark.django_db
def test_a_statement_the_connection_repeats_is_prepared_by_postgresql() -> None:
    if connection.vendor != "postgresql":
        # The embedded SQLite has no prepared statements; the options above are not set.
        assert "prepare_threshold" not in connection.settings_dict["OPTIONS"]
        return
    marker = "SELECT %s::int + 40 AS prepared_probe"
    with connection.cursor() as cursor:
        for value in range(6):
            cursor.execute(marker, [value])
            assert cursor.fetchone() == (value + 40,)
        cursor.execute(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%40 AS prepared_probe%"],
        )
        kept = [row[0] for row in cursor.fetchall()]
    # One statement, bound on the server: PostgreSQL kept it with $1, not with a value.
    assert kept == ["SELECT $1::int + 40 AS prepared_probe"]
