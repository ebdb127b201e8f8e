"""The ASGI application leaves what it loaded at start-up out of the collector's passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc
before = gc.get_freeze_count()
import chatkit_platform.asgi
print(before, gc.get_freeze_count())
"""


def test_start_up_objects_are_frozen_out_of_full_collections() -> None:
    # A fresh interpreter: this test process has imported the application long ago.
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="chatkit_platform.settings")
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    before, after = done.stdout.split()
    assert int(before) == 0
    # Django, the apps, openai-agents and the routes: hundreds of thousands of objects that
    # a full collection would otherwise scan every time.
    assert int(after) > 100_000
