"""OpenTelemetry tracing: off by default; on without its packages, start-up stops clearly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from operations.tracing import missing_modules

ROOT = Path(__file__).resolve().parents[2]


def test_tracing_is_off_by_default() -> None:
    assert settings.OTEL_ENABLED is False


def test_enabling_it_without_the_packages_stops_start_up_with_one_line(tmp_path: Path) -> None:
    assert missing_modules(), "this test expects the otel extra not to be installed"
    env = dict(os.environ, OTEL_ENABLED="1", PLATFORM_DATA_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Configuration error: OTEL_ENABLED is on but opentelemetry.sdk")
    assert "pip install 'chatkit-platform[otel]'" in lines[0]
