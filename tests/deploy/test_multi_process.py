"""Many processes, some of them killed: two web processes (daphne, no load balancer: the
clients alternate between them), two workers for long tool calls, one worker for the default
and platform queues, beat, on PostgreSQL and Redis.

A bounded load of streamed conversations, each with a long tool call (the demo model calls
`analyze_text`, which runs on a worker). Half the clients read their answer where they sent
the message; the other half leave after the thread is created and follow the answer from the
other web process. Mid-way one web process and one long-tool worker are SIGKILLed. Then:

* every conversation completes, or its client saw a clear error (its connection cut, an
  error event), and only a run that lived in the killed web process may end unanswered;
* every client's streams end, each within a bound: a follower of a run that died with the
  killed process gets an error event within a minute of the kill, never an endless stream;
* a client cut by the killed web process finds the answer completed when it comes back to
  the other one, if its run lived there (streamed by the follow, or on reloading the thread
  when the follow says nothing runs any more);
* no item is lost or duplicated (a thread holds its user message, and its answer once if
  the run lived), and every tool call is recorded once and ends done, the one cut with the
  killed worker after one more attempt.

It runs in the pass whose DATABASE_URL is PostgreSQL (CI's second pass), on that server,
or wherever MULTIPROCESS_DATABASE_URL names a PostgreSQL server; the embedded pass skips it.
It makes and drops a database of its own there, and takes a Redis database of its own
(emptied before and after): MULTIPROCESS_REDIS_URL, or database 15 of REDIS_URL's server.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from chatkit_endpoints.runs import PING_SECONDS, REPLAY_TIMEOUT_SECONDS
from tests.chatkit_endpoints.client import user_input
from tests.deploy.processes import Deployment, Process, admin_execute, with_database
from tests.support.sse import parse_sse

pytestmark = [pytest.mark.multiprocess, pytest.mark.live]

CONVERSATIONS = 8
TEXT = "Workers come and go. The answers stay. Every call runs once and is recorded once!"
# Generous bounds, reached only when something is wrong. A conversation whose tool call was
# cut with the worker waits for the sweep (30 s stale heartbeat, beat every 15 s).
LOAD_SECONDS = 300.0
# A follower of a dead run: silence for PING_SECONDS, then no answer to its ping for
# REPLAY_TIMEOUT_SECONDS (a replay that never comes takes as long), and slack for the load.
DEAD_RUN_NOTICE_SECONDS = PING_SECONDS + REPLAY_TIMEOUT_SECONDS + 40
# Frequent keep-alive comments let a client check its deadline while a stream is quiet.
KEEPALIVE_SECONDS = "2"
SETUP = """
import json
from django.contrib.auth import get_user_model
from hosted_agents.services import agent_create, agent_publish
from tenants.services import api_key_create, tenant_create
owner = get_user_model().objects.create_user("owner", password="unused-password")
tenant = tenant_create(slug="acme", name="Acme", owner=owner)
agent = agent_create(tenant=tenant, slug="analyst", name="Analyst", code_tools=["analyze_text"])
agent_publish(tenant=tenant, agent_id=agent.pk)
print(json.dumps({"key": api_key_create(tenant=tenant, name="load", scopes=["chat"]).raw}))
"""


def _servers() -> tuple[str, str] | None:
    """Return the PostgreSQL server and the Redis database to deploy on; None in the
    embedded pass."""
    database = os.environ.get("MULTIPROCESS_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    if not database.startswith("postgres"):
        return None
    suite_cache = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    cache = os.environ.get("MULTIPROCESS_REDIS_URL") or with_database(suite_cache, "15")
    # The deployment empties its Redis database: never the one the rest of the suite uses.
    assert cache != os.environ.get("REDIS_URL"), "MULTIPROCESS_REDIS_URL must differ from REDIS_URL"
    return database, cache


def _unreachable(database: str, cache: str) -> str | None:
    try:
        admin_execute(database, "SELECT 1")
    except psycopg.Error as error:
        return f"no PostgreSQL at {database}: {error}"
    client = redis.Redis.from_url(cache, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        return f"no Redis at {cache}: {error}"
    finally:
        client.close()
    return None


@dataclass
class Conversation:
    """One client's conversation and what it saw."""

    number: int
    origin: Process  # where the message is sent, and so where the run lives
    other: Process
    follows: bool  # leaves after thread.created and follows from `other`
    key: str
    thread_id: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    cut_by: list[str] = field(default_factory=list)
    follow_status: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    reloaded: list[str] = field(default_factory=list)
    deadline: float = 0.0  # time.monotonic() by which every stream of the client ended
    overdue: str = ""  # the stream still open at the deadline
    ended_at: float = 0.0

    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.key}", "x-chatkit-user": f"user-{self.number}"}

    def errors(self) -> list[dict[str, Any]]:
        return [event for event in self.events if event["type"] == "error"]

    def answered(self) -> bool:
        """Return whether the client got the answer: streamed, or on reloading the thread."""
        return any(map(_is_answer, self.events)) or "assistant_message" in self.reloaded

    def summary(self) -> str:
        kinds = [f"{at - KILLED_AT[0]:+.1f}s {event['type']}"
                 for at, event in zip(self.times, self.events, strict=True)]  # fmt: skip
        return (f"conversation {self.number} sent to {self.origin.name}, follows: {self.follows},"
                f" thread {self.thread_id}, cut: {self.cut_by}, follow: {self.follow_status},"
                f" events: {kinds}, reloaded: {self.reloaded}, errors: {self.errors()},"
                f" overdue: {self.overdue!r}, ended: {self.ended_at - KILLED_AT[0]:+.1f}s"
                )  # fmt: skip

    def take(self, event: dict[str, Any]) -> None:
        """Keep an event as it arrives (a cut connection loses none of those before it)."""
        self.events.append(event)
        self.times.append(time.monotonic())
        if event["type"] == "thread.created":
            self.thread_id = event["thread"]["id"]


def _is_answer(event: dict[str, Any]) -> bool:
    return event["type"] == "thread.item.done" and event["item"]["type"] == "assistant_message"


PATH = "/t/acme/agents/analyst"
KILLED_AT = [0.0]  # when web-a and tools1 were killed (for the failure messages)


class Overdue(Exception):
    """A stream was still open at its client's deadline."""


def _read(conversation: Conversation, response: httpx.Response, *, leave_early: bool) -> None:
    """Keep the events as they arrive, up to thread.created if `leave_early`; raise `Overdue`
    if the stream outlives the client's deadline (checked at every keep-alive too)."""
    buffer = ""
    for text in response.iter_text():
        if time.monotonic() > conversation.deadline:
            raise Overdue(f"{response.request.method} {response.request.url}")
        buffer += text
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            for event in parse_sse(block + "\n\n"):
                conversation.take(event.json())
                if leave_early and event.json()["type"] == "thread.created":
                    return


def _post(conversation: Conversation, client: httpx.Client, *, leave_early: bool) -> None:
    """Send the message; read the answer, or only up to thread.created if `leave_early`."""
    body = json.dumps({"type": "threads.create",
                       "params": {"input": user_input(f'analyze_text "{TEXT}"')}})  # fmt: skip
    url = conversation.origin.base_url + PATH + "/chatkit"
    headers = conversation.headers() | {"content-type": "application/json"}
    with client.stream("POST", url, content=body, headers=headers) as response:
        assert response.status_code == 200, response.read()
        _read(conversation, response, leave_early=leave_early)


def _follow(conversation: Conversation, client: httpx.Client, server: Process) -> None:
    url = f"{server.base_url}{PATH}/threads/{conversation.thread_id}/stream"
    with client.stream("GET", url, headers=conversation.headers()) as response:
        conversation.follow_status.append(response.status_code)
        if response.status_code == 200:
            _read(conversation, response, leave_early=False)
    if conversation.follow_status[-1] == 204:
        # Nothing runs any more: the client reloads the thread, as ChatKit's client does.
        conversation.reloaded = [item["type"] for item in items(server, conversation)]


def converse(conversation: Conversation) -> Conversation:
    """Send the message, read or follow the answer; come back to the other process if cut."""
    conversation.deadline = time.monotonic() + LOAD_SECONDS
    # A live stream writes a keep-alive every KEEPALIVE_SECONDS: 30 s of silence is a cut.
    with httpx.Client(timeout=httpx.Timeout(30, connect=10)) as client:
        reader = conversation.other if conversation.follows else conversation.origin
        try:
            try:
                if conversation.follows:
                    _post(conversation, client, leave_early=True)
                    _follow(conversation, client, reader)
                else:
                    _post(conversation, client, leave_early=False)
            except httpx.TransportError as error:
                conversation.cut_by.append(f"{reader.name}: {type(error).__name__}")
                back = conversation.other if reader is conversation.origin else conversation.origin
                _follow(conversation, client, back)
        except Overdue as overdue:
            conversation.overdue = str(overdue)
    conversation.ended_at = time.monotonic()
    return conversation


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def _all_finished(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]] | None:
    return rows if all(row[1] in ("done", "failed", "timed_out") for row in rows) else None


def items(survivor: Process, conversation: Conversation) -> list[dict[str, Any]]:
    params = {"thread_id": conversation.thread_id, "limit": 50, "order": "asc"}
    body = {"type": "items.list", "params": params}
    response = httpx.post(survivor.base_url + PATH + "/chatkit", json=body,
                          headers=conversation.headers(), timeout=30)  # fmt: skip
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def test_killed_web_and_worker_processes_lose_no_answer_and_no_tool_call(tmp_path: Path) -> None:
    servers = _servers()
    if servers is None:
        pytest.skip("runs on PostgreSQL and Redis: in the pass whose DATABASE_URL is "
                    "postgres://..., or with MULTIPROCESS_DATABASE_URL")  # fmt: skip
    database, cache = servers
    # Where PostgreSQL is configured, missing servers are a failure, not a reason to skip.
    problem = _unreachable(database, cache)
    assert problem is None, problem
    with Deployment.create(tmp_path, database, cache) as deployment:
        deployment.env["CHATKIT_SSE_KEEPALIVE_SECONDS"] = KEEPALIVE_SECONDS
        # Every process starts at once (each takes seconds to import on a busy machine).
        web_a, web_b = deployment.web("web-a", wait=False), deployment.web("web-b", wait=False)
        tools_1 = deployment.worker("tools1", "long_tools", concurrency=2, wait=False)
        deployment.worker("tools2", "long_tools", concurrency=2, wait=False)
        deployment.worker("platform", "default,platform", concurrency=1, wait=False)
        deployment.beat(wait=False)
        key = deployment.shell(SETUP)["key"]
        deployment.wait_ready(*deployment.processes)
        # Even ones send to web-a, odd ones to web-b; every other pair follows from the other.
        pairs = [(web_a, web_b), (web_b, web_a)]
        conversations = [
            Conversation(n, *pairs[n % 2], follows=(n // 2) % 2 == 1, key=key)
            for n in range(CONVERSATIONS)
        ]
        calls = "SELECT thread_id, status, attempts, worker_pid FROM hosted_agents_toolcall"

        with ThreadPoolExecutor(CONVERSATIONS) as pool:
            futures = [pool.submit(converse, conversation) for conversation in conversations]
            # Mid-way: every conversation has asked for its tool call, and one runs on tools1.
            wait_until(
                lambda: len(rows := deployment.query(calls)) == CONVERSATIONS
                and any(r[1] == "running" and r[3] and tools_1.is_child(r[3]) for r in rows),
                120, "every tool call queued and one running on tools1",
            )  # fmt: skip
            pool_processes = tools_1.children()
            KILLED_AT[0] = time.monotonic()
            web_a.kill()
            tools_1.kill()
            # What tools1 was running when it died (nothing else moves these rows for 30 s).
            cut_calls = {row[0] for row in deployment.query(calls)
                         if row[1] == "running" and row[3] in pool_processes}  # fmt: skip
            # Past every conversation's own deadline (counted from before the kill, plus a
            # keep-alive to notice it): one still streaming then comes back marked overdue,
            # and the assertions below print its summary and every process's log.
            done = [future.result(timeout=LOAD_SECONDS + 60) for future in futures]

        finished = wait_until(lambda: _all_finished(deployment.query(calls)), LOAD_SECONDS,
                              "every tool call to finish")  # fmt: skip
        stored = {c.number: items(web_b, c) for c in done}
        logs = "\n".join(p.name + ":\n" + p.log(1500) for p in deployment.processes)

    by_thread = {row[0]: row for row in finished}
    for conversation in done:
        kinds = [item["type"] for item in stored[conversation.number]]
        ids = [item["id"] for item in stored[conversation.number]]
        run_lived = conversation.origin is web_b
        context = f"{conversation.summary()}\n{logs}"
        assert conversation.thread_id, context
        assert not conversation.overdue, context
        assert len(ids) == len(set(ids)), context
        if run_lived:
            # Its run survived: the answer is complete, whoever was cut on the way, and its
            # client got it (streamed, or on reloading when the run had ended meanwhile).
            assert kinds == ["user_message", "assistant_message"], context
            assert conversation.answered() and not conversation.errors(), context
        else:
            assert kinds in (["user_message"], ["user_message", "assistant_message"]), context
            if kinds == ["user_message"]:
                # The run died with its process: its client, cut or following from web-b,
                # was told so by an error event, soon after the kill.
                assert conversation.errors(), context
                assert conversation.ended_at - KILLED_AT[0] < DEAD_RUN_NOTICE_SECONDS, context
        # One tool call per conversation, run to its end even when its run had died.
        assert by_thread[conversation.thread_id][1] == "done", context
    assert len(finished) == len(by_thread) == CONVERSATIONS
    # The calls cut with tools1 ran again on tools2 (after the sweep), and only once more;
    # every other call ran once.
    assert cut_calls, finished
    assert {row[0]: row[2] for row in finished} == {
        row[0]: 2 if row[0] in cut_calls else 1 for row in finished
    }, logs
    # The scenario happened: some followers of surviving runs were cut and found the answer;
    # some runs died with web-a.
    assert any(c.follows and c.cut_by and c.origin is web_b for c in done), done
    assert any(c.origin is web_a and not c.answered() for c in done), done
