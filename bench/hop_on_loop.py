"""What a list request would gain if its statement ran on the event loop: an experiment.

A list request makes one ORM hop (`database_sync_to_async`): the credential's statement and
the list's read, on the ORM's thread. The event loop and that thread then take the GIL in
turn, and under load each wakes the other (bench/endpoint_load.md, 2026-12-03 17:22). An
async PostgreSQL connection on the loop would take the hop away. Before anyone builds one,
this measures the most it could give: a second server whose hop is replaced by a plain call
on the loop thread, in one database connection. That call blocks the loop while PostgreSQL
answers, which an async connection would not; it is not for production.

Both servers run side by side on one database: wrk drives `threads.list` and `items.list`
at 1, 16 and 64 connections, three 5 s runs each, alternating between the servers:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hop_on_loop \\
        .venv/bin/python bench/hop_on_loop.py

Results: bench/endpoint_load.md (2026-12-04).
"""

from __future__ import annotations

import contextvars
import os
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import endpoint_load as bench

CONCURRENCY = (1, 16, 64)
RUNS = 3
SECONDS = 5


def _patched_application() -> Any:
    """The platform's ASGI application, its admission hop made a call on the loop."""
    # Django refuses the ORM in async code unless told otherwise: here that is the point.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    # The application first: it sets Django up, and its routing imports the consumers.
    from chatkit_platform.asgi import application

    consumers = sys.modules["chatkit_endpoints.consumers"]

    # Django keeps a connection per context: one context for every call, one connection.
    context = contextvars.Context()

    async def admit_on_loop(**kwargs: Any) -> Any:
        return context.run(lambda: consumers._admit_sync(**kwargs))

    consumers._admit_hop = admit_on_loop
    return application


def __getattr__(name: str) -> Any:
    # `daphne bench.hop_on_loop:application` builds the patched application on first use,
    # so that importing this module for the driver below patches nothing.
    if name == "application":
        return _patched_application()
    raise AttributeError(name)


def main() -> None:
    setup = bench.platform_setup()
    headers = {"Authorization": f"Bearer {setup.key}", "X-ChatKit-User": bench.END_USER}
    path = "/t/bench/agents/assistant/chatkit"
    servers = [
        bench.start_server("hop", "chatkit_platform.asgi:application", path, headers),
        bench.start_server("on the loop", "bench.hop_on_loop:application", path, headers),
    ]
    try:
        thread = bench.seed_thread(servers[0])
        bench.database_analyze()
        items = {"type": "items.list", "params": {"thread_id": thread, "limit": 20}}
        print("| workload | c | hop req/s | CPU ms | on the loop req/s | CPU ms | ratio |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for label, body in (("threads.list", bench.LIST), ("items.list", items)):
            for connections in CONCURRENCY:
                rps: dict[str, list[float]] = {server.label: [] for server in servers}
                cpu: dict[str, list[float]] = {server.label: [] for server in servers}
                for server in servers:
                    bench.wrk(server, body, connections, 1)  # warm-up
                for _ in range(RUNS):
                    for server in servers:
                        load = bench.wrk(server, body, connections, SECONDS)
                        if load.errors:
                            raise RuntimeError(f"{server.label}: {load.errors} errors")
                        rps[server.label].append(load.rps)
                        cpu[server.label].append(load.server_cpu_ms)
                hop, loop = (statistics.median(rps[server.label]) for server in servers)
                hop_cpu, loop_cpu = (statistics.median(cpu[server.label]) for server in servers)
                print(
                    f"| {label} | {connections} | {hop:.0f} | {hop_cpu:.2f} | {loop:.0f} "
                    f"| {loop_cpu:.2f} | {loop / hop:.2f}x |",
                    flush=True,
                )
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
