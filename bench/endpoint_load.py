"""Load on the ChatKit endpoint over HTTP: the platform against a minimal official-SDK server.

Run it with the project's virtualenv from the repository root, on a PostgreSQL database of
its own (it is migrated and given a bench tenant; nothing else is touched):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/endpoint_bench \\
        .venv/bin/python bench/endpoint_load.py                  # about 5 minutes
    ... bench/endpoint_load.py --quick                           # smoke run, about a minute

Contestants, each one daphne process on a loopback port (ours also kept on one CPU with
`WEB_CPU_AFFINITY=auto`, and under uvicorn):

* platform: `POST /t/bench/agents/assistant/chatkit` with an API key (one SQL statement
  for key, tenant, agent and version), the tenant's DjangoStore on PostgreSQL, the agent on
  the offline demo model through openai-agents and chatkit_core's bridge;
* official: `openai-chatkit`'s `ChatKitServer` behind a bare ASGI function, an in-memory
  store, the same openai-agents agent on the same demo model through the official bridge.

Workloads: streamed `threads.create`, `threads.list` and `items.list` (20 items), driven by
wrk at concurrency 1, 16 and 64 (requests per second, p50 and p99 latency of the whole
response), and time to the first SSE event of `threads.create`, measured by a small asyncio
client at the same concurrencies. Ratios are platform / official for requests per second
and official / platform for times: > 1 means the platform does better.

`--cpu` (on by default) also measures, in-process, the CPU the endpoint adds on top of
`process()`: the same requests through the ASGI application and through `process()` with a
ready context, in process CPU time (all threads), in ten interleaved rounds (the medians,
and the quartiles of the rounds' differences), and how much of the difference is the event
loop thread's (the rest is the ORM's thread: above all the credential's statement).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

END_USER = "bench-user"
CONCURRENCY = (1, 16, 64)


def user_input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


CREATE = {"type": "threads.create", "params": {"input": user_input("hello there")}}
LIST = {"type": "threads.list", "params": {"limit": 20}}


# --- the official SDK's minimal server (imported by daphne as bench.endpoint_load) ---------

_official: Any = None


def _official_server() -> Any:
    from agents import Agent, Runner
    from chatkit.agents import AgentContext, simple_to_agent_input, stream_agent_response
    from chatkit.server import ChatKitServer

    from bench.core_throughput import Sdk, make_bench_store_class
    from hosted_agents.demo_model import DemoModel

    agent = Agent(name="Assistant", instructions="Answer briefly.", model=DemoModel())

    class OfficialServer(ChatKitServer):  # type: ignore[misc]
        async def respond(self, thread: Any, input_user_message: Any, context: Any) -> Any:
            page = await self.store.load_thread_items(thread.id, None, 100, "asc", context)
            history = await simple_to_agent_input(page.data)
            agent_context = AgentContext(thread=thread, store=self.store, request_context=context)
            result = Runner.run_streamed(agent, history, context=agent_context)
            async for event in stream_agent_response(agent_context, result):
                yield event

    return OfficialServer(make_bench_store_class(Sdk.load("chatkit"))())


async def official_application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A bare ASGI wrapper around the official server's `process()`."""
    global _official
    from chatkit.server import StreamingResult

    if scope["type"] != "http":
        return
    if _official is None:
        from agents import set_tracing_disabled

        set_tracing_disabled(True)
        _official = _official_server()
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/healthz":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    result = await _official.process(body, {})
    if isinstance(result, StreamingResult):
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        async for chunk in result:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    else:
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": result.json})


# --- the platform's side: database, tenant, agent, key --------------------------------------


@dataclass(frozen=True)
class Platform:
    key: str
    tenant_id: int


def platform_setup() -> Platform:
    import django

    # As in production, here and in the servers started below: with DEBUG on, Django would
    # also keep (and time) every query it sends.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatkit_platform.settings")
    django.setup()
    from django.core.management import call_command

    from hosted_agents.demo_model import DEMO_MODEL_NAME
    from hosted_agents.models import Agent
    from hosted_agents.services import agent_create, agent_publish
    from tenants.models import ApiKey, Tenant
    from tenants.services import api_key_create, tenant_create, user_get_or_create

    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.filter(slug="bench").first()
    if tenant is None:
        owner, _ = user_get_or_create(username="bench-owner")
        tenant = tenant_create(slug="bench", name="Bench", owner=owner)
    agent = Agent.objects.for_tenant(tenant).filter(slug="assistant").first()
    if agent is None:
        agent = agent_create(
            tenant=tenant, slug="assistant", name="Assistant", model=DEMO_MODEL_NAME,
            instructions="Answer briefly.",
        )  # fmt: skip
        agent_publish(tenant=tenant, agent_id=agent.pk)
    issued = api_key_create(tenant=tenant, name="bench", scopes=[ApiKey.Scope.CHAT])
    return Platform(key=issued.raw, tenant_id=tenant.pk)


# --- servers -------------------------------------------------------------------------------


@dataclass
class Server:
    label: str
    port: int
    path: str
    headers: dict[str, str]
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(
    label: str,
    app: str,
    path: str,
    headers: dict[str, str],
    kind: str = "daphne",
    extra_env: dict[str, str] | None = None,
) -> Server:
    import httpx

    port = _free_port()
    if kind == "daphne":
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app]
    else:
        command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port",
                   str(port), "--lifespan", "off", "--no-access-log"]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT), LOG_LEVEL="warning", **(extra_env or {}))
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    server = Server(label, port, path, headers, process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{label} did not start")


def database_analyze() -> None:
    """Refresh the planner's statistics after the streamed turns' thousands of rows.

    What autovacuum does on a deployed PostgreSQL; it may be off on a test machine (it is on
    this one), and with statistics from an empty table `items.list` took 2.4 ms of
    PostgreSQL's CPU instead of 0.6.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def post_json(server: Server, body: dict[str, Any]) -> bytes:
    import httpx

    headers = {"content-type": "application/json", **server.headers}
    response = httpx.post(server.url, content=json.dumps(body), headers=headers, timeout=60)
    response.raise_for_status()
    return response.content


def seed_thread(server: Server, turns: int = 10) -> str:
    """Make a thread of 2 * turns items; return its id."""
    first = post_json(server, CREATE).decode()
    thread_id = re.search(r'"thread":\{"id":"([^"]+)"', first)
    assert thread_id is not None, first[:300]
    for _ in range(turns - 1):
        post_json(
            server,
            {"type": "threads.add_user_message",
             "params": {"thread_id": thread_id.group(1), "input": user_input("more")}},
        )  # fmt: skip
    return thread_id.group(1)


# --- wrk -----------------------------------------------------------------------------------

_LUA = """
wrk.method = "POST"
wrk.body = {body}
{headers}
"""


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    # CPU per request of the server's process and of the local PostgreSQL's processes.
    server_cpu_ms: float = 0.0
    database_cpu_ms: float = 0.0


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:  # "-nan": no request finished
        return float("nan")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def stat_seconds(stat: Path) -> tuple[float, float]:
    """User and system CPU seconds from a /proc `stat` file (a process's or a thread's)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def _cpu_seconds(pid: int) -> float:
    return sum(stat_seconds(Path(f"/proc/{pid}/stat")))


def _database_cpu_seconds() -> dict[int, float]:
    """CPU of each PostgreSQL process of this host, by pid (none for a database elsewhere)."""
    seconds: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == "postgres":
                seconds[int(entry.name)] = _cpu_seconds(int(entry.name))
        except OSError:  # gone meanwhile
            continue
    return seconds


def _database_cpu_since(before: dict[int, float]) -> float:
    """CPU the PostgreSQL processes used since `before` (a backend that exited meanwhile
    takes its share with it: a little low, never negative)."""
    now = _database_cpu_seconds()
    return sum(
        used - before.get(pid, 0.0) for pid, used in now.items() if used >= before.get(pid, 0.0)
    )


def wait_idle(server: Server, timeout: float = 300) -> None:
    """Wait until the server process is idle: the platform's runs outlive wrk's connections."""
    deadline = time.monotonic() + timeout
    last = _cpu_seconds(server.process.pid)
    while time.monotonic() < deadline:
        time.sleep(1)
        now = _cpu_seconds(server.process.pid)
        if now - last < 0.05:
            return
        last = now


def wrk(server: Server, body: dict[str, Any], connections: int, seconds: int) -> Load:
    headers = {"Content-Type": "application/json", **server.headers}
    lines = "\n".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_LUA.format(body=json.dumps(json.dumps(body)), headers=lines))
    threads = min(2, connections)
    server_before, database_before = _cpu_seconds(server.process.pid), _database_cpu_seconds()
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
         "--timeout", "30s", "-s", script.name, server.url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    server_cpu = _cpu_seconds(server.process.pid) - server_before
    database_cpu = _database_cpu_since(database_before)
    os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    # The distribution's own lines ("     50%  130.08ms"), not a "+/- Stdev" column.
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    requests = max(1, int(re.search(r"(\d+) requests in", output).group(1)))  # type: ignore[union-attr]
    return Load(rps, p50, p99, errors, 1000 * server_cpu / requests, 1000 * database_cpu / requests)


# --- time to the first SSE event ---------------------------------------------------------


async def _first_event_times(server: Server, concurrency: int, per_client: int) -> list[float]:
    body = json.dumps(CREATE).encode()
    head = (
        f"POST {server.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in server.headers.items())
        + f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    times: list[float] = []

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            for _ in range(per_client):
                started = time.perf_counter()
                writer.write(head + body)
                await writer.drain()
                await reader.readuntil(b"\r\n\r\n")
                first = True
                while True:  # chunked body
                    size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                    chunk = await reader.readexactly(size + 2)
                    if first and b"data: " in chunk:
                        times.append(time.perf_counter() - started)
                        first = False
                    if size == 0:
                        break
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return times


def first_event(server: Server, concurrency: int, requests: int) -> tuple[float, float]:
    per_client = max(1, requests // concurrency)
    times = asyncio.run(_first_event_times(server, concurrency, per_client))
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.99) - 1] * 1000


# --- CPU on top of process() ---------------------------------------------------------------


async def _asgi_call(app: Any, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "headers": headers, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _cpu_per_request(call: Callable[[], Awaitable[Any]], count: int) -> tuple[float, float]:
    """Return the process's CPU and the event loop thread's, in ms per request."""
    started, loop_started = time.process_time(), time.thread_time()
    for _ in range(count):
        await call()
    return (
        (time.process_time() - started) / count * 1000,
        (time.thread_time() - loop_started) / count * 1000,
    )


@dataclass
class CpuRow:
    """One workload's in-process CPU: medians over interleaved rounds, in ms per request."""

    label: str
    inner: float  # process() alone
    outer: float  # through the ASGI application
    added: float  # median of the rounds' differences
    added_low: float  # their quartiles
    added_high: float
    loop_added: float  # of `added`, the event loop thread's (the rest: the ORM's thread)


async def _cpu_rounds(
    label: str,
    direct: Callable[[], Awaitable[Any]],
    endpoint: Callable[[], Awaitable[Any]],
    count: int,
    rounds: int,
) -> CpuRow:
    """Alternate `rounds` rounds of each way, `count` requests each way in all.

    On a virtual machine the same work's CPU time drifts by up to 2x over seconds (seen
    here: 4.2 to 8.1 ms for one streamed turn between rounds of one process): measuring one
    way after the other once could even make the endpoint look cheaper than `process()`.
    Each round's difference is taken between neighbours in time, and the median of those is
    reported with its quartiles.
    """
    for _ in range(min(50, count)):
        await direct()
        await endpoint()
    per_round = max(1, count // rounds)
    inner: list[float] = []
    outer: list[float] = []
    loop_added: list[float] = []
    for _ in range(rounds):
        (a, a_loop), (b, b_loop) = (
            await _cpu_per_request(direct, per_round),
            await _cpu_per_request(endpoint, per_round),
        )
        inner.append(a)
        outer.append(b)
        loop_added.append(b_loop - a_loop)
    added = [b - a for a, b in zip(inner, outer, strict=True)]
    low, _, high = statistics.quantiles(added, n=4) if len(added) > 1 else (added * 3)
    return CpuRow(
        label, statistics.median(inner), statistics.median(outer), statistics.median(added),
        low, high, statistics.median(loop_added),
    )  # fmt: skip


def cpu_on_top(
    key: str, thread_id: str | None, count: int, profile: str | None = None, rounds: int = 10
) -> list[CpuRow]:
    from chatkit_core.server import StreamingResult
    from chatkit_platform.asgi import application
    from hosted_agents.chat_access import ApiKeyCredential, chat_context_build
    from hosted_agents.runtime import PlatformChatKitServer

    path = "/t/bench/agents/assistant/chatkit"
    headers = [
        (b"content-type", b"application/json"),
        (b"authorization", f"Bearer {key}".encode()),
        (b"x-chatkit-user", END_USER.encode()),
    ]
    access = chat_context_build(
        tenant_slug="bench", agent_slug="assistant", end_user_id=END_USER,
        credential=ApiKeyCredential(key),
    )  # fmt: skip
    context = access.context
    if thread_id is None:  # --cpu-only: no server made one
        thread_id = _thread_in_process(context)
    bodies = {
        "threads.list": json.dumps(LIST).encode(),
        "items.list": json.dumps(
            {"type": "items.list", "params": {"thread_id": thread_id, "limit": 20}}
        ).encode(),
        "threads.create (stream)": json.dumps(CREATE).encode(),
    }
    rows = []

    async def measure() -> None:
        for label, body in bodies.items():
            n = count // 3 if "stream" in label else count

            async def direct(body: bytes = body) -> None:
                server = PlatformChatKitServer.for_request(context)
                result = await server.process(body, context)
                if isinstance(result, StreamingResult):
                    async for _ in result:
                        pass

            async def through_endpoint(body: bytes = body) -> None:
                assert await _asgi_call(application, path, body, headers) == 200

            rows.append(await _cpu_rounds(label, direct, through_endpoint, n, rounds))
            if profile and "stream" in label:
                await _profile_both(direct, through_endpoint, n, profile)

    asyncio.run(measure())
    return rows


def _thread_in_process(context: Any) -> str:
    from chatkit_core.server import StreamingResult
    from hosted_agents.runtime import PlatformChatKitServer

    async def create() -> str:
        server = PlatformChatKitServer.for_request(context)
        result = await server.process(json.dumps(CREATE).encode(), context)
        assert isinstance(result, StreamingResult)
        chunks = [chunk async for chunk in result]
        found = re.search(rb'"thread":\{"id":"([^"]+)"', b"".join(chunks))
        assert found is not None
        return found.group(1).decode()

    return asyncio.run(create())


async def _profile_both(
    direct: Callable[[], Awaitable[Any]],
    endpoint: Callable[[], Awaitable[Any]],
    count: int,
    path: str,
) -> None:
    """cProfile (CPU time) of `count` streamed turns each way, into `path`.direct/.endpoint.

    The event loop's thread only: the ORM's hops run on another thread and are the same
    work either way, so the difference of the two profiles is what the endpoint adds.
    """
    import cProfile

    for name, call in (("direct", direct), ("endpoint", endpoint)):
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for _ in range(count):
            await call()
        profile.disable()
        profile.dump_stats(f"{path}.{name}")


# --- main ----------------------------------------------------------------------------------


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    parser.add_argument("--no-cpu", action="store_true", help="skip the in-process CPU part")
    parser.add_argument("--no-uvicorn", action="store_true", help="skip ours under uvicorn")
    parser.add_argument(
        "--no-pinned", action="store_true", help="skip ours with WEB_CPU_AFFINITY=auto"
    )
    parser.add_argument(
        "--cpu-only", action="store_true", help="only the in-process CPU part (no servers)"
    )
    parser.add_argument(
        "--profile", metavar="PATH",
        help="with the CPU part: cProfile streamed turns into PATH.direct and PATH.endpoint",
    )  # fmt: skip
    options = parser.parse_args()
    seconds = 3 if options.quick else 10
    first_requests = 20 if options.quick else 128
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("note: DATABASE_URL is not PostgreSQL; the figures will not be comparable")
    setup = platform_setup()
    count = 100 if options.quick else 1000
    rounds = 4 if options.quick else 10
    if options.cpu_only:
        _print_cpu(cpu_on_top(setup.key, None, count, options.profile, rounds))
        return
    ours_headers = {"Authorization": f"Bearer {setup.key}", "X-ChatKit-User": END_USER}
    app = "chatkit_platform.asgi:application"
    path = "/t/bench/agents/assistant/chatkit"
    servers = [
        start_server("platform/daphne", app, path, ours_headers),
        start_server("official/daphne", "bench.endpoint_load:official_application", "/chatkit", {}),
    ]
    if not options.no_uvicorn:
        servers.insert(1, start_server("platform/uvicorn", app, path, ours_headers, "uvicorn"))
    if not options.no_pinned:
        # The same daphne server kept on one CPU (WEB_CPU_AFFINITY, chatkit_platform/affinity.py).
        pinned = start_server(
            "platform/daphne 1 CPU", app, path, ours_headers, extra_env={"WEB_CPU_AFFINITY": "auto"}
        )
        servers.insert(1, pinned)
    try:
        threads = {server.label: seed_thread(server) for server in servers}
        print(f"# endpoint_load {'(quick) ' if options.quick else ''}{time.strftime('%F %T')}")
        print(f"load average before: {os.getloadavg()[0]:.1f};"
              f" python {platform.python_version()}, {os.cpu_count()} cores,"
              f" database {os.environ.get('DATABASE_URL', 'sqlite').split('@')[-1]},"
              f" redis {'yes' if os.environ.get('REDIS_URL') else 'no'}\n")  # fmt: skip
        # CPU per request: the server's process, and the local PostgreSQL's processes (a
        # run that outlives wrk's connections is counted in part: the streamed cells' CPU
        # is a little low on both sides).
        print("| workload | c | server | req/s | p50 ms | p99 ms | errors | server CPU ms |"
              " PostgreSQL CPU ms |")  # fmt: skip
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        results: dict[tuple[str, int, str], Load] = {}
        for label, body in [("threads.create (stream)", CREATE), ("threads.list", LIST),
                            ("items.list", "items")]:  # fmt: skip
            if body is not CREATE:
                database_analyze()
            for connections in CONCURRENCY:
                for server in servers:
                    payload = (
                        body
                        if body != "items"
                        else {
                            "type": "items.list",
                            "params": {"thread_id": threads[server.label], "limit": 20},
                        }
                    )
                    wait_idle(server)
                    wrk(server, payload, connections, 1)  # warm-up, not counted
                    wait_idle(server)
                    # A streamed turn at 64 connections may take longer than a short window.
                    window = seconds * 2 if connections > 16 and body is CREATE else seconds
                    load = wrk(server, payload, connections, window)  # type: ignore[arg-type]
                    results[(label, connections, server.label)] = load
                    print(f"| {label} | {connections} | {server.label} | {load.rps:.0f} |"
                          f" {load.p50_ms:.1f} | {load.p99_ms:.1f} | {load.errors} |"
                          f" {load.server_cpu_ms:.2f} | {load.database_cpu_ms:.2f} |",
                          flush=True)  # fmt: skip
        print("\n| workload | c | server | req/s ratio | p50 ratio | p99 ratio |")
        print("| --- | --- | --- | --- | --- | --- |")
        for (label, connections, name), ours in results.items():
            if not name.startswith("platform/"):
                continue
            theirs = results[(label, connections, "official/daphne")]
            rps, p50 = _ratio(ours.rps, theirs.rps), _ratio(theirs.p50_ms, ours.p50_ms)
            p99 = _ratio(theirs.p99_ms, ours.p99_ms)
            print(f"| {label} | {connections} | {name} | {rps:.2f}x | {p50:.2f}x | {p99:.2f}x |")
        print("\n| time to first event, threads.create | c | server | p50 ms | p99 ms |")
        print("| --- | --- | --- | --- | --- |")
        for connections in CONCURRENCY:
            for server in servers:
                wait_idle(server)
                p50, p99 = first_event(server, connections, max(first_requests, connections))
                row = f"| threads.create | {connections} | {server.label} | {p50:.1f} | {p99:.1f} |"
                print(row, flush=True)
    finally:
        for server in servers:
            server.stop()
    if not options.no_cpu:
        _print_cpu(
            cpu_on_top(setup.key, threads["platform/daphne"], count, options.profile, rounds)
        )


def _print_cpu(rows: list[CpuRow]) -> None:
    print(
        "\n| CPU per request (in-process, medians of interleaved rounds) | process() ms "
        "| endpoint ms | added ms | added, quartiles | added on the loop's thread |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row.label} | {row.inner:.3f} | {row.outer:.3f} | {row.added:.3f} "
            f"| {row.added_low:.3f} to {row.added_high:.3f} | {row.loop_added:.3f} |"
        )


if __name__ == "__main__":
    main()
