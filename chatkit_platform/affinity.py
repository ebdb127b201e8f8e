"""Keep a web process on one CPU (`WEB_CPU_AFFINITY`), so its two busy threads share one.

A web process runs Python in two threads: the event loop, and the one thread the ORM's
calls hop to. Only one of them holds the GIL at a time, so the process never uses more than
one CPU for Python anyway. On two CPUs, though, every time the loop releases the GIL for a
system call (a socket write, a poll) it wakes the ORM thread waiting for it on the other
CPU, which mostly finds the GIL taken again and goes back to sleep: under load that was
about 80 wake-ups per streamed turn. On one CPU the waiting thread runs when the loop
blocks or its time slice ends. Both threads are also marked as batch work (SCHED_BATCH):
a thread that wakes then does not preempt the other at once, which on one CPU alone was
still 16 forced switches of the loop per turn. Together: 8.1 and 8.7 ms of CPU per
streamed turn at 16 and 64 connections instead of 10.5 and 10.9 (bench/thread_cpu.py,
results in bench/endpoint_load.md).

Off by default: a process that pins itself cannot be moved off a CPU that other work
crowds, which matters where the operator does not control placement (a shared Kubernetes
node without exclusive CPUs). Values: `off` (or empty), `auto` (the CPU the process runs on
when the application loads, which the scheduler has picked among the idle ones), or a CPU
number. Linux only; elsewhere the setting is ignored with a warning.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from chatkit_platform.env import ConfigError

__all__ = ["cpu_affinity_pin", "parse_cpu_affinity"]

logger = logging.getLogger(__name__)

AUTO = "auto"


def parse_cpu_affinity(name: str, raw: str) -> str | int | None:
    """Read the setting: None (off), "auto", or a CPU number."""
    value = raw.strip().lower()
    if value in {"", "off"}:
        return None
    if value == AUTO:
        return AUTO
    if not value.isdigit():
        raise ConfigError(f"{name} must be off, auto or a CPU number, got {raw!r}")
    cpu = int(value)
    if hasattr(os, "sched_getaffinity") and cpu not in os.sched_getaffinity(0):
        allowed = ", ".join(str(n) for n in sorted(os.sched_getaffinity(0)))
        raise ConfigError(f"{name} names CPU {cpu}, but this process may run on {allowed}")
    return cpu


def _current_cpu() -> int:
    # Field 39 of /proc/self/stat: the CPU this process last ran on.
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[36])


def cpu_affinity_pin(choice: str | int | None) -> int | None:
    """Move every thread of this process to one CPU, as batch work; return the CPU.

    Returns None when nothing was done. Threads started later inherit the affinity and the
    scheduling policy of the thread that starts them, so changing the ones that exist now
    (the main thread, while the application loads) covers the ORM's thread and the
    server's own.
    """
    if choice is None:
        return None
    if not hasattr(os, "sched_setaffinity"):
        logger.warning("WEB_CPU_AFFINITY is set, but this system cannot pin a process; ignored")
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if isinstance(choice, str):  # AUTO
        current = _current_cpu()
        cpu = current if current in allowed else allowed[0]
    else:
        cpu = choice
    batch = os.sched_param(0)
    for task in Path("/proc/self/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), {cpu})
            # Any process may choose SCHED_BATCH for its own threads (no privilege needed).
            os.sched_setscheduler(int(task.name), os.SCHED_BATCH, batch)
        except (ProcessLookupError, FileNotFoundError):  # the thread ended meanwhile
            continue
    logger.info("This web process keeps its threads on CPU %d (WEB_CPU_AFFINITY)", cpu)
    return cpu
