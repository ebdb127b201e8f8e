"""Where a streamed turn's CPU goes, thread by thread, as connections grow.

Starts one daphne server on the platform (as bench/endpoint_load.py does: PostgreSQL, an API
key, the offline demo model), drives streamed `threads.create` with wrk at each concurrency,
and reads each thread's CPU (user and system) and context switches from /proc around the
run, per turn:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/thread_cpu \\
        .venv/bin/python bench/thread_cpu.py                       # 1, 16, 64 connections
    ... bench/thread_cpu.py --one-cpu                            # WEB_CPU_AFFINITY=auto

Linux only (it reads /proc). Results: bench/endpoint_load.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import endpoint_load as bench


@dataclass(frozen=True)
class ThreadTimes:
    cpu: float
    system: float
    voluntary: int
    involuntary: int


def thread_times(pid: int) -> dict[int, ThreadTimes]:
    times = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            user, system = bench.stat_seconds(task / "stat")
            status = dict(line.split(":", 1) for line in (task / "status").read_text().splitlines())
        except OSError:  # the thread ended meanwhile
            continue
        times[int(task.name)] = ThreadTimes(
            cpu=user + system,
            system=system,
            voluntary=int(status["voluntary_ctxt_switches"]),
            involuntary=int(status["nonvoluntary_ctxt_switches"]),
        )
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--one-cpu", action="store_true", help="WEB_CPU_AFFINITY=auto")
    parser.add_argument("--connections", default="1,16,64", help="comma-separated")
    parser.add_argument("--seconds", type=int, default=10)
    options = parser.parse_args()
    setup = bench.platform_setup()
    headers = {"Authorization": f"Bearer {setup.key}", "X-ChatKit-User": bench.END_USER}
    server = bench.start_server(
        "platform/daphne", "chatkit_platform.asgi:application",
        "/t/bench/agents/assistant/chatkit", headers,
        extra_env={"WEB_CPU_AFFINITY": "auto" if options.one_cpu else "off"},
    )  # fmt: skip
    print(f"one CPU: {'yes' if options.one_cpu else 'no'}; load average before:"
          f" {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    print("| c | turns/s | thread | CPU ms / turn | system ms / turn |"
          " voluntary switches / turn | involuntary / turn |")  # fmt: skip
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    try:
        bench.wrk(server, bench.CREATE, 4, 2)  # warm-up
        for connections in (int(c) for c in options.connections.split(",")):
            bench.wait_idle(server)
            before = thread_times(server.process.pid)
            load = bench.wrk(server, bench.CREATE, connections, options.seconds)
            after = thread_times(server.process.pid)
            turns = max(1.0, load.rps * options.seconds)
            # The main thread (the event loop) has the process's id; the others are the
            # ORM's thread and any a library started.
            for tid in sorted(after, key=lambda tid: (tid != server.process.pid, tid)):
                now, then = after[tid], before.get(tid, ThreadTimes(0.0, 0.0, 0, 0))
                if now.cpu - then.cpu < 0.01:
                    continue
                name = "event loop" if tid == server.process.pid else f"thread {tid}"
                print(f"| {connections} | {load.rps:.0f} | {name} |"
                      f" {1000 * (now.cpu - then.cpu) / turns:.2f} |"
                      f" {1000 * (now.system - then.system) / turns:.2f} |"
                      f" {(now.voluntary - then.voluntary) / turns:.1f} |"
                      f" {(now.involuntary - then.involuntary) / turns:.1f} |",
                      flush=True)  # fmt: skip
    finally:
        server.stop()


if __name__ == "__main__":
    main()
