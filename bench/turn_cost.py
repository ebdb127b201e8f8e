"""What one chat request costs: the platform's server on PostgreSQL against the official SDK.

    .venv/bin/python bench/turn_cost.py [--requests 200] [--runs 5] [--database-url URL]

In-process, on one event loop, no network. Creates the database named by --database-url
(default `postgres://postgres@127.0.0.1:5432/bench_turn_cost`, trust auth), migrates it,
publishes a demo agent (the offline `hosted_agents/demo_model.py`, no quota) and seeds
threads, then measures per request, in process CPU time (every thread of the process, the
ORM's included) and wall time:

* streamed `threads.create` with the demo agent;
* streamed `threads.add_user_message` on a thread of 20 items (a fresh thread each time);
* `threads.list` (a page of 20 among 50 threads) and `items.list` (a page of 20 items).

Ours is `PlatformChatKitServer.for_request(context).process()` over `DjangoStore` on
PostgreSQL, the request context built once (authentication is the endpoint's; its own cost
is the "request context lookup" row). Theirs is the official `openai-chatkit` server on the
minimal in-memory store of `bench/core_throughput.py`, running the same openai-agents agent
on the same demo model through the official bridge `chatkit.agents.stream_agent_response`.

The layers of a create turn are measured the same way: the openai-agents Runner alone, then
with chatkit_core's bridge, then with chatkit_core's server and SSE on its `MemoryStore`,
then ours. A separate, untimed pass counts per request the SQL statements the ORM sent, the
hops off the event loop (`sync_to_async` calls) and Django's connection health checks
(`SELECT 1`). PostgreSQL's own CPU is read from /proc for the backend serving the ORM thread
(when the server runs on this machine).

Each figure is the median of `--runs` runs of `--requests` requests, contestants alternating
run by run, after a warm-up; the garbage collector is collected before each run. Ratios are
ours / theirs: below 1 means ours costs less.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.metadata
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_turn_cost"
THREAD_ITEMS = 20
LISTED_THREADS = 50
WARM_UP = 10
T0 = datetime(2025, 1, 1, tzinfo=UTC)
INSTRUCTIONS = "You are the demo agent of the benchmark."
TEXT = "Hello there, what can you do for me today?"


def _body(kind: str, **params: Any) -> bytes:
    return json.dumps({"type": kind, "params": params}).encode()


def _user_input(text: str = TEXT) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


CREATE = _body("threads.create", input=_user_input())


def _add_message(thread_id: str) -> bytes:
    return _body("threads.add_user_message", thread_id=thread_id, input=_user_input())


def _items_list(thread_id: str) -> bytes:
    return _body("items.list", thread_id=thread_id, limit=20, order="asc")


THREADS_LIST = _body("threads.list", limit=20, order="desc")


async def _drain(result: Any) -> int:
    if hasattr(result, "json"):
        return len(result.json)
    size = 0
    async for chunk in result:
        size += len(chunk)
    return size


# --- database ------------------------------------------------------------------------------


def _admin(url: str, sql: str) -> None:
    parts = urlsplit(url)
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(sql)


def _setup_django(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(url, f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatkit_platform.settings")
    # As in production: with DEBUG on, Django would also keep (and time) every query.
    os.environ["DEBUG"] = "0"
    # One connection for the whole run, so that its PostgreSQL backend's CPU can be read.
    os.environ["DATABASE_CONN_MAX_AGE"] = "3600"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _drop(url: str) -> None:
    from django.db import connections

    connections.close_all()
    _admin(url, f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')


@dataclass
class Platform:
    context: Any
    lookup: Callable[[], Any]
    busy_threads: list[str]
    listed_thread: str
    # The endpoint's request headers: the API key and the end user.
    headers: dict[bytes, bytes]


def _seed_platform(requests: int, runs: int) -> Platform:
    from chatkit_core.types import AssistantMessageItem, UserMessageItem
    from hosted_agents.chat_access import ApiKeyCredential, chat_context_build
    from hosted_agents.services import agent_create, agent_publish
    from tenants.actors import Actor
    from tenants.models import ApiKey, Tenant, Thread, ThreadItem
    from tenants.services import api_key_create

    tenant = Tenant.objects.create(slug="bench", name="Bench")
    agent = agent_create(tenant=tenant, slug="demo", name="Demo", instructions=INSTRUCTIONS)
    agent_publish(tenant=tenant, agent_id=agent.pk)

    issued = api_key_create(
        tenant=tenant, name="bench", scopes=[ApiKey.Scope.CHAT], actor=Actor.system()
    )
    credential = ApiKeyCredential(issued.raw, ip="127.0.0.1")

    def lookup() -> Any:
        # What the endpoint does for every request: the API key, its tenant, the agent and
        # its published version, checked and loaded in one statement (chat_access).
        access = chat_context_build(
            tenant_slug="bench", agent_slug="demo", end_user_id="bench-user", credential=credential
        )
        return access.context

    context = lookup()
    assert context.published_version is not None or context.agent.published_version_id
    # Threads of 20 items for add_user_message (one per request), then the listed ones.
    count = (requests + WARM_UP) * runs + WARM_UP + LISTED_THREADS
    owner = {"agent": agent, "agent_slug": agent.slug, "end_user_id": "bench-user"}
    threads = Thread.objects.for_tenant(tenant).bulk_create(
        Thread(
            tenant=tenant,
            public_id=f"thr_bench{n:08d}",
            title=f"Thread {n}",
            status={"type": "active"},
            created_at=T0 + timedelta(minutes=n),
            **owner,
        )
        for n in range(count)
    )
    rows = []
    for thread in threads:
        for n in range(THREAD_ITEMS):
            at = T0 + timedelta(seconds=n)
            item_id = f"msg_{thread.pk:08d}{n:04d}"
            common = {"id": item_id, "thread_id": thread.public_id, "created_at": at}
            if n % 2 == 0:
                item: Any = UserMessageItem.model_validate(
                    {
                        **common,
                        "content": [{"type": "input_text", "text": f"Question {n}?"}],
                        "inference_options": {},
                    }
                )
            else:
                item = AssistantMessageItem.model_validate(
                    {**common, "content": [{"type": "output_text", "text": f"Answer {n}. " * 6}]}
                )
            rows.append(
                ThreadItem(
                    tenant=tenant,
                    thread=thread,
                    public_id=item_id,
                    type=item.type,
                    created_at=at,
                    data=item.model_dump(mode="json"),
                )
            )
    ThreadItem.objects.for_tenant(tenant).bulk_create(rows, batch_size=2000)
    ids = [thread.public_id for thread in threads]
    headers = {b"authorization": f"Bearer {issued.raw}".encode(), b"x-chatkit-user": b"bench-user"}
    return Platform(context, lookup, ids[:-LISTED_THREADS], ids[-1], headers)


# --- the contestants -----------------------------------------------------------------------


def _title(message: Any) -> str | None:
    text = " ".join(part.text for part in message.content if part.type == "input_text")
    return text[:60] or None


def _sdk_agent(agents_module: Any) -> Any:
    from agents import Agent

    from hosted_agents.demo_model import DemoModel

    return Agent[agents_module.AgentContext](
        name="Demo", instructions=INSTRUCTIONS, model=DemoModel()
    )


def _official_server_class() -> type[Any]:
    from agents import Runner
    from chatkit import agents as official_agents
    from chatkit.server import ChatKitServer

    class OfficialAgentServer(ChatKitServer):  # type: ignore[misc,type-arg]
        async def respond(self, thread: Any, item: Any, context: Any) -> Any:
            if thread.title is None and item is not None:
                thread.title = _title(item)
            page = await self.store.load_thread_items(thread.id, None, 100, "asc", context)
            history = await official_agents.simple_to_agent_input(page.data)
            agent_context = official_agents.AgentContext(
                thread=thread, store=self.store, request_context=context
            )
            result = Runner.run_streamed(
                _sdk_agent(official_agents), history, context=agent_context
            )
            async for event in official_agents.stream_agent_response(agent_context, result):
                yield event

    return OfficialAgentServer


def _core_server_class() -> type[Any]:
    from agents import Runner

    from chatkit_core import agents as core_agents
    from chatkit_core.server import ChatKitServer

    class CoreAgentServer(ChatKitServer):  # type: ignore[type-arg]
        async def respond(self, thread: Any, item: Any, context: Any) -> Any:
            if thread.title is None and item is not None:
                thread.title = _title(item)
            history: Any = await self._to_agent_input(thread, item) or []
            agent_context = core_agents.AgentContext(
                thread=thread, store=self.store, request_context=context
            )
            result = Runner.run_streamed(_sdk_agent(core_agents), history, context=agent_context)
            async for event in core_agents.stream_agent_response(agent_context, result):
                yield event

    return CoreAgentServer


async def _seed_memory(store: Any, types: Any, threads: int) -> list[str]:
    ids = []
    for number in range(threads):
        thread = types.ThreadMetadata(
            id=f"thr_{number:08d}",
            title=f"Thread {number}",
            created_at=T0 + timedelta(minutes=number),
        )
        await store.save_thread(thread, None)
        for n in range(THREAD_ITEMS):
            common = {
                "id": f"msg_{number:08d}{n:04d}",
                "thread_id": thread.id,
                "created_at": T0 + timedelta(seconds=n),
            }
            if n % 2 == 0:
                item: Any = types.UserMessageItem.model_validate(
                    {
                        **common,
                        "content": [{"type": "input_text", "text": f"Question {n}?"}],
                        "inference_options": {},
                    }
                )
            else:
                item = types.AssistantMessageItem.model_validate(
                    {**common, "content": [{"type": "output_text", "text": f"Answer {n}. " * 6}]}
                )
            await store.add_thread_item(thread.id, item, None)
        ids.append(thread.id)
    return ids


# --- layers of a turn (no server) ----------------------------------------------------------


async def _runner_alone() -> int:
    from agents import Runner

    from chatkit_core import agents as core_agents

    result = Runner.run_streamed(_sdk_agent(core_agents), [{"role": "user", "content": TEXT}])
    count = 0
    async for _ in result.stream_events():
        count += 1
    return count


async def _runner_and_bridge() -> int:
    from agents import Runner

    from chatkit_core import agents as core_agents
    from chatkit_core.store import MemoryStore
    from chatkit_core.types import ThreadMetadata

    thread = ThreadMetadata(id="thr_layer", created_at=datetime.now(UTC))
    store: MemoryStore[None] = MemoryStore()
    # The bridge reads the thread's items when the answer ends (as the official one does).
    await store.save_thread(thread, None)
    context = core_agents.AgentContext(thread=thread, store=store, request_context=None)
    result = Runner.run_streamed(
        _sdk_agent(core_agents), [{"role": "user", "content": TEXT}], context=context
    )
    count = 0
    async for _ in core_agents.stream_agent_response(context, result):
        count += 1
    return count


# --- counting ------------------------------------------------------------------------------


@dataclass
class Counts:
    statements: int = 0
    hops: int = 0
    health_checks: int = 0
    sql: list[str] | None = None


async def _count(request: Callable[[], Awaitable[Any]]) -> Counts:
    from asgiref.sync import SyncToAsync, sync_to_async
    from django.db import connection
    from django.db.backends.postgresql.base import DatabaseWrapper

    counts = Counts(sql=[])

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        counts.statements += 1
        assert counts.sql is not None
        counts.sql.append(sql[:140])
        return execute(sql, params, many, context)

    def install() -> None:
        connection.execute_wrappers.append(wrapper)

    def uninstall() -> None:
        connection.execute_wrappers.remove(wrapper)

    await sync_to_async(install)()
    hop, usable = SyncToAsync.__call__, DatabaseWrapper.is_usable

    async def counted_hop(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts.hops += 1
        return await hop(self, *args, **kwargs)

    def counted_usable(self: Any) -> bool:
        counts.health_checks += 1
        return usable(self)

    try:
        with (
            mock.patch.object(SyncToAsync, "__call__", counted_hop),
            mock.patch.object(DatabaseWrapper, "is_usable", counted_usable),
        ):
            await request()
    finally:
        await sync_to_async(uninstall)()
    return counts


# --- timing --------------------------------------------------------------------------------


@dataclass
class Figure:
    cpu_ms: float
    wall_ms: float
    pg_ms: float | None = None


def _backend_cpu(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _backend_pid() -> int | None:
    from asgiref.sync import sync_to_async
    from django.db import connection

    def read() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return int(cursor.fetchone()[0])

    pid = await sync_to_async(read)()
    return pid if _backend_cpu(pid) is not None else None


async def _time(request: Callable[[], Awaitable[Any]], count: int, pid: int | None) -> Figure:
    gc.collect()
    pg0 = _backend_cpu(pid)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(count):
        await request()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    pg1 = _backend_cpu(pid)
    pg = None if pg0 is None or pg1 is None else (pg1 - pg0) * 1000 / count
    return Figure(cpu * 1000 / count, wall * 1000 / count, pg)


@dataclass
class Case:
    label: str
    request: Callable[[], Awaitable[Any]]
    uses_db: bool = False


def _median(figures: list[Figure]) -> Figure:
    pgs = [f.pg_ms for f in figures if f.pg_ms is not None]
    return Figure(
        statistics.median(f.cpu_ms for f in figures),
        statistics.median(f.wall_ms for f in figures),
        statistics.median(pgs) if len(pgs) == len(figures) else None,
    )


async def _measure(cases: list[Case], requests: int, runs: int) -> dict[str, Figure]:
    pid = await _backend_pid()
    for case in cases:
        for _ in range(WARM_UP):
            await case.request()
    seen: dict[str, list[Figure]] = {case.label: [] for case in cases}
    for _ in range(runs):
        for case in cases:
            seen[case.label].append(
                await _time(case.request, requests, pid if case.uses_db else None)
            )
    return {label: _median(figures) for label, figures in seen.items()}


# --- the run -------------------------------------------------------------------------------


async def _run(args: argparse.Namespace, platform_: Platform) -> str:
    import core_throughput

    from chatkit_core.store import MemoryStore
    from chatkit_endpoints.consumers import _admit_hop
    from hosted_agents.runtime import PlatformChatKitServer
    from tenants.store import orm_hop

    official_sdk, core_sdk = (
        core_throughput.Sdk.load("chatkit"),
        core_throughput.Sdk.load("chatkit_core"),
    )
    official_store = core_throughput.make_bench_store_class(official_sdk)()
    total = (args.requests + WARM_UP) * args.runs + 2 * WARM_UP + 2
    official_threads = await _seed_memory(official_store, official_sdk.types, total)
    official = _official_server_class()(official_store)
    core_store = MemoryStore()
    core_threads = await _seed_memory(core_store, core_sdk.types, total)
    core = _core_server_class()(core_store)
    context = platform_.context

    def ours() -> Any:
        return PlatformChatKitServer.for_request(context)

    busy = iter(platform_.busy_threads)
    theirs_busy, core_busy = iter(official_threads[1:]), iter(core_threads[1:])

    async def our_create() -> int:
        return await _drain(await ours().process(CREATE, context))

    async def our_message() -> int:
        return await _drain(await ours().process(_add_message(next(busy)), context))

    async def our_threads() -> int:
        return await _drain(await ours().process(THREADS_LIST, context))

    async def our_items() -> int:
        return await _drain(await ours().process(_items_list(platform_.listed_thread), context))

    async def their_create() -> int:
        return await _drain(await official.process(CREATE, {}))

    async def their_message() -> int:
        return await _drain(await official.process(_add_message(next(theirs_busy)), {}))

    async def their_threads() -> int:
        return await _drain(await official.process(THREADS_LIST, {}))

    async def their_items() -> int:
        return await _drain(await official.process(_items_list(official_threads[0]), {}))

    async def core_create() -> int:
        return await _drain(await core.process(CREATE, None))

    async def core_message() -> int:
        return await _drain(await core.process(_add_message(next(core_busy)), None))

    async def lookup() -> Any:
        return await orm_hop(platform_.lookup)

    async def as_the_endpoint(body: bytes) -> int:
        # What the endpoint's consumer does: authentication, with the list's read made in
        # the same hop (chatkit_endpoints/consumers.py), then process().
        access, server = await _admit_hop(
            headers=platform_.headers,
            tenant_slug="bench",
            agent_slug="demo",
            ip="127.0.0.1",
            read_ahead=body,
        )
        return await _drain(await server.process(body, access.context))

    async def our_threads_authenticated() -> int:
        return await as_the_endpoint(THREADS_LIST)

    async def our_items_authenticated() -> int:
        return await as_the_endpoint(_items_list(platform_.listed_thread))

    if args.profile:
        request = {"create": our_create, "message": our_message}[args.profile]
        return await _profile(request, args.requests)

    events = await _runner_and_bridge()
    runner_events = await _runner_alone()
    cases = [
        Case("runner", _runner_alone),
        Case("runner+bridge", _runner_and_bridge),
        Case("core create", core_create),
        Case("core message", core_message),
        Case("ours create", our_create, True),
        Case("theirs create", their_create),
        Case("ours message", our_message, True),
        Case("theirs message", their_message),
        Case("ours threads.list", our_threads, True),
        Case("theirs threads.list", their_threads),
        Case("ours items.list", our_items, True),
        Case("theirs items.list", their_items),
        Case("lookup", lookup, True),
        Case("ours threads.list + auth", our_threads_authenticated, True),
        Case("ours items.list + auth", our_items_authenticated, True),
    ]
    figures = await _measure(cases, args.requests, args.runs)
    counted = {
        "threads.create (streamed)": await _count(our_create),
        "threads.add_user_message, 20 items": await _count(our_message),
        "threads.list": await _count(our_threads),
        "items.list": await _count(our_items),
        "authentication (API key, tenant, agent, version)": await _count(lookup),
        "threads.list with authentication": await _count(our_threads_authenticated),
        "items.list with authentication": await _count(our_items_authenticated),
    }
    return _report(args, figures, counted, events, runner_events)


async def _profile(request: Callable[[], Awaitable[Any]], count: int) -> str:
    """cProfile of `count` requests, the ORM's hops run inline so that one profile sees all.

    Only for finding where the time goes: running the hops on the event loop's thread
    changes the timing a little (no hand-over to the ORM's thread), not what is called.
    """
    import cProfile
    import io
    import os
    import pstats
    from unittest import mock

    from asgiref.sync import SyncToAsync

    async def inline(self: Any, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    for _ in range(WARM_UP):
        await request()
    profile = cProfile.Profile(time.process_time)
    with mock.patch.object(SyncToAsync, "__call__", inline):
        profile.enable()
        for _ in range(count):
            await request()
        profile.disable()
    if os.environ.get("PROFILE_OUT"):
        profile.dump_stats(os.environ["PROFILE_OUT"])
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(60)
    return out.getvalue()


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _report(
    args: argparse.Namespace,
    f: dict[str, Figure],
    counted: dict[str, Counts],
    events: int,
    runner_events: int,
) -> str:
    lines = [
        f"Python {platform.python_version()}, Django {importlib.metadata.version('django')}, "
        f"openai-agents {importlib.metadata.version('openai-agents')}, "
        f"openai-chatkit {importlib.metadata.version('openai-chatkit')}, {os.cpu_count()} cores; "
        f"{args.requests} requests x {args.runs} runs (median).",
        "",
        "| request | ours CPU ms | ours wall ms | PostgreSQL CPU ms | theirs CPU ms "
        "| theirs wall ms | CPU ratio | wall ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    pairs = [
        ("threads.create (streamed)", "ours create", "theirs create"),
        ("threads.add_user_message, 20 items", "ours message", "theirs message"),
        ("threads.list", "ours threads.list", "theirs threads.list"),
        ("items.list", "ours items.list", "theirs items.list"),
        ("threads.list with authentication", "ours threads.list + auth", "theirs threads.list"),
        ("items.list with authentication", "ours items.list + auth", "theirs items.list"),
    ]
    for label, our_key, their_key in pairs:
        ours, theirs = f[our_key], f[their_key]
        lines.append(
            f"| {label} | {ours.cpu_ms:.2f} | {ours.wall_ms:.2f} | {_fmt(ours.pg_ms)} "
            f"| {theirs.cpu_ms:.2f} | {theirs.wall_ms:.2f} "
            f"| {ours.cpu_ms / theirs.cpu_ms:.2f}x | {ours.wall_ms / theirs.wall_ms:.2f}x |"
        )
    lookup = f["lookup"]
    lines += [
        f"| authentication alone (API key, tenant, agent, version) | {lookup.cpu_ms:.2f} "
        f"| {lookup.wall_ms:.2f} | {_fmt(lookup.pg_ms)} | | | | |",
        "",
        "Layers of a streamed `threads.create` (CPU per turn):",
        "",
        "| layer | CPU ms | added |",
        "| --- | ---: | ---: |",
    ]
    runner, bridge = f["runner"].cpu_ms, f["runner+bridge"].cpu_ms
    core, ours = f["core create"].cpu_ms, f["ours create"].cpu_ms
    per_event = (bridge - runner) * 1000 / max(events, 1)
    lines += [
        f"| openai-agents Runner with the demo model alone ({runner_events} stream events) "
        f"| {runner:.2f} | |",
        f"| + chatkit_core's bridge ({events} thread events, {per_event:.1f} µs per event) "
        f"| {bridge:.2f} | +{bridge - runner:.2f} |",
        f"| + chatkit_core's server and SSE on MemoryStore | {core:.2f} | +{core - bridge:.2f} |",
        f"| + DjangoStore on PostgreSQL, runtime, metering (ours) | {ours:.2f} "
        f"| +{ours - core:.2f} |",
        f"| the official SDK, same agent, in memory | {f['theirs create'].cpu_ms:.2f} | |",
        "",
        f"`add_user_message` on chatkit_core's MemoryStore: {f['core message'].cpu_ms:.2f} ms CPU.",
        "",
        "Per request (untimed pass): SQL statements, hops off the event loop, health checks:",
        "",
        "| request | statements | hops | health checks (`SELECT 1`) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, counts in counted.items():
        lines.append(f"| {label} | {counts.statements} | {counts.hops} | {counts.health_checks} |")
    if args.show_sql:
        for label, counts in counted.items():
            lines += ["", f"{label}:", ""]
            lines += [f"    {sql}" for sql in counts.sql or []]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--show-sql", action="store_true", help="list each request's statements")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument(
        "--profile", choices=["create", "message"],
        help="print a cProfile of --requests of our streamed create or add_user_message",
    )  # fmt: skip
    parser.add_argument(
        "--traces", action=argparse.BooleanOptionalAction, default=True,
        help="trace runs as the platform does (spans kept in the tenant's tables)",
    )  # fmt: skip
    args = parser.parse_args()
    _setup_django(args.database_url)
    from agents import set_tracing_disabled

    # The platform keeps run traces (hosted_agents/tracing.py); --no-traces measures without.
    if not args.traces:
        set_tracing_disabled(True)
    # The official server logs every request at INFO; a deployment would not print that.
    logging.getLogger("chatkit").setLevel(logging.WARNING)
    try:
        platform_ = _seed_platform(args.requests, args.runs)
        print(asyncio.run(_run(args, platform_)))
    finally:
        if not args.keep:
            _drop(args.database_url)


if __name__ == "__main__":
    main()
