"""WEB_CPU_AFFINITY keeps a web process's threads on one CPU as batch work, or leaves them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chatkit_platform.affinity import parse_cpu_affinity
from chatkit_platform.env import ConfigError

ROOT = Path(__file__).resolve().parents[2]

# Loads the application as a server does, then starts a thread as the ORM's bridge would,
# and reports each thread's scheduling policy and the CPUs it may use.
PROBE = """
import json, os, threading
from pathlib import Path
import chatkit_platform.asgi
started = threading.Event()
gate = threading.Event()
def later():
    started.set()
    gate.wait(60)
worker = threading.Thread(target=later)
worker.start()
started.wait(60)
tasks = Path("/proc/self/task").iterdir()
report = {
    t.name: {"policy": os.sched_getscheduler(int(t.name)),
             "cpus": sorted(os.sched_getaffinity(int(t.name)))}
    for t in tasks
}
gate.set()
worker.join()
print(json.dumps(report))
"""

needs_linux = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity"), reason="CPU affinity is a Linux call"
)


def _probe(value: str | None) -> tuple[dict[str, dict[str, Any]], str]:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="chatkit_platform.settings")
    env.pop("WEB_CPU_AFFINITY", None)
    env["LOG_LEVEL"] = "info"
    if value is not None:
        env["WEB_CPU_AFFINITY"] = value
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    threads: dict[str, dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return threads, done.stderr


@needs_linux
@pytest.mark.parametrize("value", ["auto", "last"])
def test_every_thread_ends_up_on_the_one_cpu_as_batch_work(value: str) -> None:
    allowed = sorted(os.sched_getaffinity(0))
    chosen = str(allowed[-1]) if value == "last" else value
    threads, log = _probe(chosen)
    assert len(threads) >= 2  # the main thread and the one started after the pinning
    assert {thread["policy"] for thread in threads.values()} == {os.SCHED_BATCH}, threads
    placements = {tuple(thread["cpus"]) for thread in threads.values()}
    assert len(placements) == 1, threads
    (cpus,) = placements
    assert len(cpus) == 1 and cpus[0] in allowed
    if value == "last":
        assert cpus == (allowed[-1],)
    # The operator can see where the process went.
    assert f"keeps its threads on CPU {cpus[0]} (WEB_CPU_AFFINITY)" in log


@needs_linux
@pytest.mark.parametrize("value", [None, "", "off"])
def test_off_leaves_the_process_where_it_may_run(value: str | None) -> None:
    threads, log = _probe(value)
    allowed = sorted(os.sched_getaffinity(0))
    assert all(thread["cpus"] == allowed for thread in threads.values()), threads
    assert {thread["policy"] for thread in threads.values()} == {os.SCHED_OTHER}, threads
    assert "WEB_CPU_AFFINITY" not in log


def test_the_setting_reads_off_auto_or_a_cpu_it_may_use() -> None:
    assert parse_cpu_affinity("WEB_CPU_AFFINITY", " Off ") is None
    assert parse_cpu_affinity("WEB_CPU_AFFINITY", "") is None
    assert parse_cpu_affinity("WEB_CPU_AFFINITY", "AUTO") == "auto"
    if hasattr(os, "sched_getaffinity"):
        first = min(os.sched_getaffinity(0))
        assert parse_cpu_affinity("WEB_CPU_AFFINITY", str(first)) == first
        with pytest.raises(ConfigError, match="may run on"):
            parse_cpu_affinity("WEB_CPU_AFFINITY", str(max(os.sched_getaffinity(0)) + 1))
    with pytest.raises(ConfigError, match="off, auto or a CPU number"):
        parse_cpu_affinity("WEB_CPU_AFFINITY", "-1")
