"""Start-up configuration: bad values stop the process with one line naming them."""

import multiprocessing
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from chatkit_platform.env import local_secret

ROOT = Path(__file__).resolve().parents[2]
GOOD_PRODUCTION = {
    "PLATFORM_ENV": "production",
    "SECRET_KEY": "k" * 30 + "abcdefghijklmnopqrstuvwxyz0123456789",
    "ALLOWED_HOSTS": "chat.example.com",
    "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "DATABASE_URL": "sqlite:///var/deploy-check.sqlite3",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def _manage(
    args: list[str], env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    unset = {*GOOD_PRODUCTION, "CELERY_BROKER_URL"}
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    clean.update(env, PLATFORM_DATA_DIR=str(tmp_path))
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        # Generous: a `migrate` on a loaded machine took over a minute.
        timeout=300,
    )


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"ENCRYPTION_KEYS": ""}, "ENCRYPTION_KEYS"),
        ({"ENCRYPTION_KEYS": "not-a-key"}, "ENCRYPTION_KEYS"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"REDIS_URL": "http://nope"}, "REDIS_URL"),
        # Production never falls back to the embedded parts.
        ({"DATABASE_URL": ""}, "DATABASE_URL"),
        ({"REDIS_URL": ""}, "REDIS_URL"),
        ({"CELERY_BROKER_URL": "filesystem://"}, "CELERY_BROKER_URL"),
        ({"WEB_CPU_AFFINITY": "fast"}, "WEB_CPU_AFFINITY"),
        # No machine this runs on has that many CPUs.
        ({"WEB_CPU_AFFINITY": "4096"}, "WEB_CPU_AFFINITY"),
    ],
)
def test_bad_production_setting_stops_start_up_with_one_line(
    override: dict[str, str], named: str, tmp_path: Path
) -> None:
    result = _manage(["check"], {**GOOD_PRODUCTION, **override}, tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Configuration error:")
    assert named in lines[0]


def test_complete_production_settings_pass_the_deploy_check(tmp_path: Path) -> None:
    result = _manage(["check", "--deploy", "--fail-level", "WARNING"], GOOD_PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("env", "allowed"),
    [
        ({}, "False"),
        ({"CHATKIT_ALLOW_PRIVATE_NETWORK": "on"}, "True"),
        ({"CHATKIT_ALLOW_PRIVATE_HTTP_TOOLS": "1"}, "True"),
        (
            {"CHATKIT_ALLOW_PRIVATE_NETWORK": "off", "CHATKIT_ALLOW_PRIVATE_HTTP_TOOLS": "1"},
            "False",
        ),
    ],
)
def test_one_setting_allows_private_targets_under_its_new_or_its_older_name(
    env: dict[str, str], allowed: str, tmp_path: Path
) -> None:
    code = "from django.conf import settings; print(settings.CHATKIT_ALLOW_PRIVATE_NETWORK)"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHATKIT_ALLOW_PRIVATE")}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={**clean, **env, "PLATFORM_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # The shell may print its auto-imports first; the setting is the last line.
    assert result.stdout.strip().splitlines()[-1] == allowed


def test_data_dir_holds_the_default_sqlite_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = _manage(["migrate", "--noinput", "-v0"], {}, data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (data_dir / "db.sqlite3").is_file()


def _race_for_secrets(folder: str, rounds: int, barrier: Any, results: Any) -> None:
    values = []
    for number in range(rounds):
        barrier.wait()
        values.append(local_secret(Path(folder) / f"key{number}"))
    results.put(values)


def test_processes_starting_together_share_one_private_development_secret(
    tmp_path: Path,
) -> None:
    rounds = 30
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(2), context.Queue()
    racers = [
        context.Process(target=_race_for_secrets, args=(str(tmp_path), rounds, barrier, results))
        for _ in range(2)
    ]
    for racer in racers:
        racer.start()
    try:
        first, second = results.get(timeout=120), results.get(timeout=120)
    finally:
        for racer in racers:
            racer.join(timeout=30)
    assert [racer.exitcode for racer in racers] == [0, 0]
    assert first == second
    for number in range(rounds):
        key = tmp_path / f"key{number}"
        assert key.read_text().strip() == first[number]
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
