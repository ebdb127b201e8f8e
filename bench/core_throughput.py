"""Throughput of `ChatKitServer.process()`: chatkit_core against the official `openai-chatkit`.

Run it with the project's virtualenv (from the repository root):

    .venv/bin/python bench/core_throughput.py            # full run, about a minute
    .venv/bin/python bench/core_throughput.py --quick    # smoke run, well under 20 s
    .venv/bin/python bench/core_throughput.py --profile  # also cProfile one long stream

Everything runs in-process on one event loop: no network, no Django. The respond logic, the
request bodies and the minimal bench store are written once and instantiated against each
SDK's modules (only the import prefix differs), so both servers do the same work. Each
metric is measured `runs` times after a warm-up, alternating the contestants run by run,
with the garbage collector enabled (collected before each run), in process CPU time. The
table reports the median and the best run; `ratio` is chatkit_core / official for
throughput and official / chatkit_core for time and memory, so > 1 always means
chatkit_core does better.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import importlib
import importlib.metadata
import io
import json
import os
import platform
import pstats
import statistics
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

# Run as a script from anywhere: make the repository's packages importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CONTEXT: dict[str, str] = {"user_id": "bench"}
PAGE_SIZE = 20
_TEXT = (
    "the quick brown fox jumps over a lazy dog while streaming tokens arrive "
    "one after another from a patient model that never tires of talking"
)
WORDS = tuple(_TEXT.split())


SDK_MODULES = ("server", "store", "types")


@dataclass(frozen=True)
class Sdk:
    """One SDK's public modules, looked up by import prefix."""

    name: str
    server: ModuleType
    store: ModuleType
    types: ModuleType

    @classmethod
    def load(cls, prefix: str) -> Sdk:
        modules = {part: importlib.import_module(f"{prefix}.{part}") for part in SDK_MODULES}
        return cls(name=prefix, **modules)


@dataclass(frozen=True)
class Mode:
    """How much work one run does; `quick` keeps the whole script under 20 seconds."""

    runs: int
    long_deltas: int
    long_streams: int
    short_deltas: int
    short_streams: int
    list_requests: int
    threads: int
    items: int


FULL = Mode(
    runs=5,
    long_deltas=5_000,
    long_streams=3,
    short_deltas=20,
    short_streams=200,
    list_requests=200,
    threads=200,
    items=1_000,
)
QUICK = Mode(
    runs=3,
    long_deltas=2_000,
    long_streams=1,
    short_deltas=20,
    short_streams=20,
    list_requests=40,
    threads=200,
    items=1_000,
)


def make_deltas(count: int) -> list[str]:
    """Return `count` deterministic text deltas of three words each."""
    return [" ".join(WORDS[(3 * i + k) % len(WORDS)] for k in range(3)) + " " for i in range(count)]


# --- the respond logic, written once -------------------------------------------------------


def make_server_class(sdk: Sdk) -> type[Any]:
    """Return a ChatKitServer subclass of `sdk` that streams one long assistant message."""
    t = sdk.types

    class BenchServer(sdk.server.ChatKitServer):  # type: ignore[name-defined,misc]
        def __init__(self, store: Any, deltas: list[str]) -> None:
            super().__init__(store)
            self.deltas = deltas

        async def respond(self, thread: Any, input_user_message: Any, context: Any) -> Any:
            item_id = self.store.generate_item_id("message", thread, context)
            item = t.AssistantMessageItem(
                id=item_id, thread_id=thread.id, created_at=datetime.now(UTC), content=[]
            )
            yield t.ThreadItemAddedEvent(item=item)
            yield t.ThreadItemUpdatedEvent(
                item_id=item_id,
                update=t.AssistantMessageContentPartAdded(
                    content_index=0, content=t.AssistantMessageContent(text="")
                ),
            )
            for delta in self.deltas:
                yield t.ThreadItemUpdatedEvent(
                    item_id=item_id,
                    update=t.AssistantMessageContentPartTextDelta(content_index=0, delta=delta),
                )
            part = t.AssistantMessageContent(text="".join(self.deltas))
            yield t.ThreadItemUpdatedEvent(
                item_id=item_id,
                update=t.AssistantMessageContentPartDone(content_index=0, content=part),
            )
            yield t.ThreadItemDoneEvent(item=item.model_copy(update={"content": [part]}))

    BenchServer.__name__ = BenchServer.__qualname__ = f"BenchServer[{sdk.name}]"
    return BenchServer


# --- a minimal in-memory store, written once ----------------------------------------------


class _Ordered:
    """Records in insertion order (= created_at order here) with an id -> position index."""

    def __init__(self) -> None:
        self.records: list[Any] = []
        self.positions: dict[str, int] = {}

    def upsert(self, record: Any) -> None:
        position = self.positions.get(record.id)
        if position is None:
            self.positions[record.id] = len(self.records)
            self.records.append(record)
        else:
            self.records[position] = record

    def remove(self, record_id: str) -> None:
        if self.positions.pop(record_id, None) is not None:
            self.records = [record for record in self.records if record.id != record_id]
            self.positions = {record.id: i for i, record in enumerate(self.records)}

    def page(self, after: str | None, limit: int, order: str) -> tuple[list[Any], bool]:
        # Same rules as chatkit_core.store: `after` is exclusive, an unknown cursor restarts.
        cursor = self.positions.get(after) if after is not None else None
        if order == "asc":
            start = 0 if cursor is None else cursor + 1
            return self.records[start : start + limit], start + limit < len(self.records)
        end = len(self.records) if cursor is None else cursor
        start = max(end - limit, 0)
        return self.records[start:end][::-1], start > 0


def make_bench_store_class(sdk: Sdk) -> type[Any]:
    """Return a minimal dict/list Store of `sdk`: no copies, no locks, no scoping."""
    t = sdk.types
    not_found = sdk.store.NotFoundError
    item_page = t.Page[t.ThreadItem]
    thread_page = t.Page[t.ThreadMetadata]

    def page_of(model: Any, records: list[Any], has_more: bool) -> Any:
        after = records[-1].id if has_more and records else None
        return model(data=records, has_more=has_more, after=after)

    class BenchStore(sdk.store.Store):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            self.threads = _Ordered()
            self.items: dict[str, _Ordered] = {}
            self.attachments: dict[str, Any] = {}

        async def load_thread(self, thread_id: str, context: Any) -> Any:
            position = self.threads.positions.get(thread_id)
            if position is None:
                raise not_found(thread_id)
            return self.threads.records[position]

        async def save_thread(self, thread: Any, context: Any) -> None:
            self.threads.upsert(thread)
            self.items.setdefault(thread.id, _Ordered())

        async def load_threads(self, limit: int, after: Any, order: str, context: Any) -> Any:
            return page_of(thread_page, *self.threads.page(after, limit, order))

        async def delete_thread(self, thread_id: str, context: Any) -> None:
            self.threads.remove(thread_id)
            self.items.pop(thread_id, None)

        async def load_thread_items(
            self, thread_id: str, after: Any, limit: int, order: str, context: Any
        ) -> Any:
            items = self.items.get(thread_id)
            records, has_more = ([], False) if items is None else items.page(after, limit, order)
            return page_of(item_page, records, has_more)

        async def add_thread_item(self, thread_id: str, item: Any, context: Any) -> None:
            self.items[thread_id].upsert(item)

        async def save_item(self, thread_id: str, item: Any, context: Any) -> None:
            self.items[thread_id].upsert(item)

        async def load_item(self, thread_id: str, item_id: str, context: Any) -> Any:
            items = self.items.get(thread_id)
            position = None if items is None else items.positions.get(item_id)
            if items is None or position is None:
                raise not_found(item_id)
            return items.records[position]

        async def delete_thread_item(self, thread_id: str, item_id: str, context: Any) -> None:
            self.items[thread_id].remove(item_id)

        async def save_attachment(self, attachment: Any, context: Any) -> None:
            self.attachments[attachment.id] = attachment

        async def load_attachment(self, attachment_id: str, context: Any) -> Any:
            try:
                return self.attachments[attachment_id]
            except KeyError:
                raise not_found(attachment_id) from None

        async def delete_attachment(self, attachment_id: str, context: Any) -> None:
            self.attachments.pop(attachment_id, None)

    BenchStore.__name__ = BenchStore.__qualname__ = f"BenchStore[{sdk.name}]"
    return BenchStore


# --- contestants ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Contestant:
    """A server class of one SDK paired with a store factory."""

    label: str
    sdk: Sdk
    server_class: type[Any]
    new_store: Callable[[], Any]

    def server(self, deltas: list[str] | None = None) -> Any:
        return self.server_class(self.new_store(), deltas or [])


def contestants() -> dict[str, Contestant]:
    """Return core on its MemoryStore, core on the bench store, official on the bench store."""
    core, official = Sdk.load("chatkit_core"), Sdk.load("chatkit")
    core_server, official_server = make_server_class(core), make_server_class(official)
    return {
        "core/memory": Contestant("core/memory", core, core_server, core.store.MemoryStore),
        "core/bench": Contestant("core/bench", core, core_server, make_bench_store_class(core)),
        "official/bench": Contestant(
            "official/bench", official, official_server, make_bench_store_class(official)
        ),
    }


# --- workloads -----------------------------------------------------------------------------

CREATE_BODY = json.dumps(
    {
        "type": "threads.create",
        "params": {
            "input": {
                "content": [{"type": "input_text", "text": "Tell me a long story."}],
                "attachments": [],
                "inference_options": {},
            }
        },
    }
).encode()


async def stream_once(server: Any) -> tuple[int, int]:
    """Drive one threads.create stream to the end; return (chunks, bytes) received."""
    result = await server.process(CREATE_BODY, CONTEXT)
    chunks = size = 0
    async for chunk in result:
        chunks += 1
        size += len(chunk)
    return chunks, size


async def seed_store(sdk: Sdk, store: Any, mode: Mode) -> str:
    """Fill `store` with `mode.threads` threads; the newest holds `mode.items` items."""
    t = sdk.types
    base = datetime(2025, 1, 1, tzinfo=UTC)
    for number in range(mode.threads):
        thread = t.ThreadMetadata(
            id=f"thr_{number:05d}", title=f"Thread {number}", created_at=base + timedelta(number)
        )
        await store.save_thread(thread, CONTEXT)
    busy = f"thr_{mode.threads - 1:05d}"
    for number in range(mode.items):
        created = base + timedelta(seconds=number)
        text = " ".join(WORDS[(number + k) % len(WORDS)] for k in range(30))
        if number % 2 == 0:
            item: Any = t.UserMessageItem(
                id=f"msg_{number:05d}",
                thread_id=busy,
                created_at=created,
                content=[t.UserMessageTextContent(text=text)],
                inference_options=t.InferenceOptions(),
            )
        else:
            item = t.AssistantMessageItem(
                id=f"msg_{number:05d}",
                thread_id=busy,
                created_at=created,
                content=[t.AssistantMessageContent(text=text)],
            )
        await store.add_thread_item(busy, item, CONTEXT)
    return busy


def list_bodies(kind: str, ids_newest_first: list[str], thread_id: str) -> list[bytes]:
    """Return the request bodies that page through every record, newest first, by 20."""
    bodies = []
    for start in range(0, len(ids_newest_first), PAGE_SIZE):
        params: dict[str, Any] = {"limit": PAGE_SIZE, "order": "desc"}
        if start:
            params["after"] = ids_newest_first[start - 1]
        if kind == "items.list":
            params["thread_id"] = thread_id
        bodies.append(json.dumps({"type": kind, "params": params}).encode())
    return bodies


async def list_once(server: Any, bodies: list[bytes], rounds: int) -> int:
    size = 0
    for _ in range(rounds):
        for body in bodies:
            size += len((await server.process(body, CONTEXT)).json)
    return size


# --- measurement ---------------------------------------------------------------------------


@dataclass
class Series:
    """Durations of the runs of one workload on one contestant, and its units of work."""

    units: int
    seconds: list[float]

    def rate(self, pick: Callable[[list[float]], float]) -> float:
        return self.units / pick(self.seconds)


# CPU time of this process: the workload is single-threaded and never waits, so this equals
# wall time on an idle machine but is much less disturbed by other processes on a busy one.
clock = time.process_time


async def measure(
    jobs: dict[str, Callable[[], Awaitable[Any]]], units: int, runs: int
) -> dict[str, Series]:
    """Warm each job up once, then time `runs` runs, alternating jobs within each round."""
    for job in jobs.values():
        await job()
    series = {label: Series(units, []) for label in jobs}
    for _ in range(runs):
        for label, job in jobs.items():
            gc.collect()
            start = clock()
            await job()
            series[label].seconds.append(clock() - start)
    return series


async def streaming_series(
    players: dict[str, Contestant], deltas: int, streams: int, runs: int
) -> tuple[dict[str, Series], int]:
    text = make_deltas(deltas)
    events = {label: (await stream_once(p.server(text)))[0] for label, p in players.items()}
    if len(set(events.values())) != 1:
        raise SystemExit(f"the SDKs streamed different event counts: {events}")
    per_stream = next(iter(events.values()))

    def job(player: Contestant) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            server = player.server(text)  # a fresh store per run: the same state every time
            for _ in range(streams):
                await stream_once(server)

        return run

    jobs = {label: job(player) for label, player in players.items()}
    return await measure(jobs, per_stream * streams, runs), per_stream


async def listing_series(
    players: dict[str, Contestant], mode: Mode
) -> tuple[dict[str, dict[str, Series]], list[str]]:
    servers, busy = {}, ""
    for label, player in players.items():
        server = player.server()
        busy = await seed_store(player.sdk, server.store, mode)
        servers[label] = server
    thread_ids = [f"thr_{n:05d}" for n in reversed(range(mode.threads))]
    item_ids = [f"msg_{n:05d}" for n in reversed(range(mode.items))]
    results, notes = {}, []
    for kind, ids in (("threads.list", thread_ids), ("items.list", item_ids)):
        bodies = list_bodies(kind, ids, busy)
        notes += await compare_answers(kind, servers, bodies)
        rounds = max(mode.list_requests // len(bodies), 1)
        jobs = {label: _bind_list(server, bodies, rounds) for label, server in servers.items()}
        results[kind] = await measure(jobs, len(bodies) * rounds, mode.runs)
    return results, notes


def _bind_list(server: Any, bodies: list[bytes], rounds: int) -> Callable[[], Awaitable[int]]:
    return lambda: list_once(server, bodies, rounds)


async def compare_answers(kind: str, servers: dict[str, Any], bodies: list[bytes]) -> list[str]:
    """Return a note for each contestant whose answers differ from the first one's."""
    decoded = {
        label: [json.loads((await server.process(body, CONTEXT)).json) for body in bodies]
        for label, server in servers.items()
    }
    first_label, first = next(iter(decoded.items()))
    notes = []
    for label, answers in decoded.items():
        if len(answers[-1]["data"]) == 0 or answers[0]["has_more"] is not True:
            raise SystemExit(f"{label}: {kind} paging is broken")
        differing = [_first_difference(a, b) for a, b in zip(first, answers, strict=True)]
        differing = [path for path in differing if path]
        if differing:
            notes.append(f"{kind}: {label} differs from {first_label} at {differing[0]}")
    return notes


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            found = _first_difference(a.get(key), b.get(key), f"{path}.{key}")
            if found:
                return found
        return ""
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _first_difference(x, y, f"{path}[{index}]")
            if found:
                return found
        return ""
    return "" if a == b else f"{path or '<root>'} ({a!r} vs {b!r})"


async def peak_memory(player: Contestant, deltas: int) -> int:
    """Return the peak bytes traced while one long answer streams (beyond the baseline)."""
    server = player.server(make_deltas(deltas))
    await stream_once(server)  # warm caches (schemas, imports) outside the trace
    server = player.server(server.deltas)
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        await stream_once(server)
        return tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()


def profile_stream(player: Contestant, deltas: int, top: int) -> str:
    """Return the `top` functions by own time while one long answer streams."""
    server = player.server(make_deltas(deltas))
    asyncio.run(stream_once(server))  # warm-up outside the profile
    server = player.server(server.deltas)
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(stream_once(server))
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


# --- report --------------------------------------------------------------------------------


def environment() -> list[str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    version = importlib.metadata.version
    return [
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"python: {platform.python_implementation()} {platform.python_version()}"
        f" on {platform.platform()}",
        f"cpu: {cpu}, nproc {len(os.sched_getaffinity(0))}",
        f"packages: openai-chatkit {version('openai-chatkit')}, pydantic {version('pydantic')},"
        f" pydantic-core {version('pydantic-core')}",
    ]


class Table:
    """A markdown table: metric, chatkit_core, official, ratio (> 1: chatkit_core better).

    Cells hold the median of the runs and, in parentheses, the best run.
    """

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def throughput(self, metric: str, core: Series, official: Series) -> None:
        """Add a rate row: median (best) per second, ratio core / official of both."""
        median, best = statistics.median, min
        self.rows.append(
            (
                metric,
                f"{core.rate(median):,.0f} ({core.rate(best):,.0f})",
                f"{official.rate(median):,.0f} ({official.rate(best):,.0f})",
                f"{core.rate(median) / official.rate(median):.2f}"
                f" ({core.rate(best) / official.rate(best):.2f})",
            )
        )

    def latency(self, metric: str, core: Series, official: Series) -> None:
        """Add a µs-per-unit row: median (best), ratio official / core of both."""

        def micros(series: Series, pick: Callable[[list[float]], float]) -> float:
            return pick(series.seconds) / series.units * 1e6

        median, best = statistics.median, min
        self.rows.append(
            (
                metric,
                f"{micros(core, median):.2f} ({micros(core, best):.2f})",
                f"{micros(official, median):.2f} ({micros(official, best):.2f})",
                f"{micros(official, median) / micros(core, median):.2f}"
                f" ({micros(official, best) / micros(core, best):.2f})",
            )
        )

    def memory(self, metric: str, core: int, official: int) -> None:
        """Add a KiB row; the ratio is official / core."""
        self.rows.append(
            (metric, f"{core / 1024:,.0f}", f"{official / 1024:,.0f}", f"{official / core:.2f}")
        )

    def render(self) -> str:
        header = ("metric", "chatkit_core", "official", "ratio (> 1: chatkit_core better)")
        widths = [max(len(row[i]) for row in [header, *self.rows]) for i in range(4)]
        lines = [header, tuple("-" * w for w in widths), *self.rows]
        return "\n".join(
            "| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) + " |"
            for line in lines
        )


STORES = (("MemoryStore", "core/memory"), ("bench store", "core/bench"))


async def collect(players: dict[str, Contestant], mode: Mode) -> tuple[Table, list[str]]:
    table = Table()
    official = "official/bench"
    long_runs, per_long = await streaming_series(
        players, mode.long_deltas, mode.long_streams, mode.runs
    )
    for store, core in STORES:
        table.throughput(
            f"long stream ({per_long:,} events), events/s [{store}]",
            long_runs[core],
            long_runs[official],
        )
    for store, core in STORES:
        table.latency(f"long stream, µs/event [{store}]", long_runs[core], long_runs[official])
    short_runs, per_short = await streaming_series(
        players, mode.short_deltas, mode.short_streams, mode.runs
    )
    for series in short_runs.values():
        series.units //= per_short  # report whole threads.create requests per second
    for store, core in STORES:
        table.throughput(
            f"threads.create, short answer ({per_short} events), req/s [{store}]",
            short_runs[core],
            short_runs[official],
        )
    listing, notes = await listing_series(players, mode)
    for kind, runs in listing.items():
        for store, core in STORES:
            table.throughput(
                f"{kind}, page of {PAGE_SIZE}, req/s [{store}]", runs[core], runs[official]
            )
    peaks = {
        label: await peak_memory(player, mode.long_deltas) for label, player in players.items()
    }
    for store, core in STORES:
        table.memory(
            f"peak traced memory, one long stream, KiB [{store}]", peaks[core], peaks[official]
        )
    return table, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller smoke run (< 20 s)")
    parser.add_argument("--profile", action="store_true", help="cProfile one long stream")
    args = parser.parse_args()
    mode = QUICK if args.quick else FULL
    players = contestants()
    started = time.perf_counter()
    table, notes = asyncio.run(collect(players, mode))
    print("\n".join(environment()))
    print(
        f"mode: {'quick' if args.quick else 'full'}: {mode.runs} runs after a warm-up;"
        f" cells are median (best) of the runs; gc enabled; process CPU time"
    )
    print()
    print(table.render())
    for note in notes:
        print(f"note: {note}")
    if args.profile:
        for label in ("core/memory", "official/bench"):
            print(f"\n## cProfile, one long stream, {label}, top 20 by own time\n")
            print(profile_stream(players[label], mode.long_deltas, 20))
    print(f"\n(total {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
