"""Long-running code tools for the Celery tests only.

The test worker imports this module with `--include`, so the tools exist in its registry;
the test process imports it too, for the names. Tools that must be watched from outside
write to files in a `folder` the test gives them:

    folder/log      one line per event: "start <pid>", "finish <pid>"
    folder/keys     `hold_until_released`: the idempotency key each attempt was given
    folder/release  `hold_until_released` waits until this file exists
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from hosted_agents.tools.registry import ProgressReporter, code_tool

__all__ = ["BROKEN", "COUNT_STEPS", "HOLD", "STUCK", "log_lines"]

COUNT_STEPS = "test_long_count_steps"
HOLD = "test_long_hold_until_released"
STUCK = "test_long_stuck"
BROKEN = "test_long_broken"


def _log(folder: str, event: str) -> None:
    with open(Path(folder) / "log", "a") as log:
        log.write(f"{event} {os.getpid()}\n")


def log_lines(folder: Path) -> list[str]:
    """Return the events the tools logged in `folder`, without the pids."""
    path = folder / "log"
    if not path.exists():
        return []
    return [line.split()[0] for line in path.read_text().splitlines()]


@code_tool(COUNT_STEPS, description="Count steps, reporting each.", long_running=True)
def count_steps(progress: ProgressReporter, *, steps: int, delay: float) -> dict[str, Any]:
    for step in range(1, steps + 1):
        progress.report(f"step {step} of {steps}", step / steps)
        time.sleep(delay)
    return {"counted": steps}


@code_tool(HOLD, description="Wait for the release file.", long_running=True)
def hold_until_released(progress: ProgressReporter, *, folder: str) -> dict[str, Any]:
    _log(folder, "start")
    with open(Path(folder) / "keys", "a") as keys:
        keys.write(progress.idempotency_key + "\n")
    progress.report("holding", 0.5)
    while not (Path(folder) / "release").exists():
        time.sleep(0.05)
    _log(folder, "finish")
    return {"released": True}


@code_tool(STUCK, description="Never finish.", long_running=True)
def stuck(progress: ProgressReporter) -> None:
    progress.report("stuck")
    while True:
        time.sleep(0.05)


@code_tool(BROKEN, description="Fail with the given reason.", long_running=True)
def broken(progress: ProgressReporter, *, reason: str) -> None:
    raise RuntimeError(reason)
