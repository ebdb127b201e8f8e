"""Start-up configuration: bad values stop the process with one line naming them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
GOOD_PRODUCTION = {
    "PLATFORM_ENV": "production",
    "SECRET_KEY": "k" * 30 + "abcdefghijklmnopqrstuvwxyz0123456789",
    "ALLOWED_HOSTS": "chat.example.com",
    "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "DATABASE_URL": "sqlite:///var/deploy-check.sqlite3",
}


def _manage(
    args: list[str], env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in GOOD_PRODUCTION and k != "REDIS_URL"}
    clean.update(env, PLATFORM_DATA_DIR=str(tmp_path))
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
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
