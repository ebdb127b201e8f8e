"""Following a run on the Redis channel layer, with the run in the follower's own process.

A web process runs answers and serves followers at once, all on one channel layer. These
run in this test's event loop against the Redis of REDIS_URL (the PostgreSQL + Redis pass);
the in-memory layer has no such thing as a receive lock, and is covered by test_runs.py.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from django.conf import settings

from chatkit_core.server import StreamingResult
from chatkit_endpoints import runs
from chatkit_endpoints.runs import DetachedRun, RunKey, run_claim, run_follow
from chatkit_endpoints.state import shared_state

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")

FIRST = b'data: {"type":"progress_update","text":"first"}\n\n'
SECOND = b'data: {"type":"progress_update","text":"second"}\n\n'


async def _answer(go_on: asyncio.Event, finish: asyncio.Event) -> AsyncIterator[bytes]:
    yield FIRST
    await go_on.wait()
    yield SECOND
    await finish.wait()


def _key(name: str) -> RunKey:
    return RunKey(1, 1, f"user-{name}", f"thr_{name}_{uuid.uuid4().hex}")


async def test_a_follower_in_the_runs_own_process_gets_live_events_without_waiting_for_a_ping() -> (
    None
):
    # The runs' replay loops sit in a receive on their channels all the time. A follower's
    # channel that does not share their receive queue waited behind them until its ping
    # (PING_SECONDS) or their refresh (REFRESH_SECONDS): live events came late, and a
    # replay from another process often not at all before REPLAY_TIMEOUT_SECONDS.
    go_on, finish = asyncio.Event(), asyncio.Event()
    idle_key, key = _key("idle"), _key("followed")
    idle = await DetachedRun.start(
        StreamingResult(_answer(asyncio.Event(), finish)), idle_key, await run_claim(idle_key)
    )
    run = await DetachedRun.start(
        StreamingResult(_answer(go_on, finish)), key, await run_claim(key)
    )
    follow = run_follow(key, run.channel)
    try:
        async with asyncio.timeout(60):
            replayed = await anext(follow)
            go_on.set()
            started = time.monotonic()
            live = await anext(follow)
        waited = time.monotonic() - started
    finally:
        finish.set()
        await follow.aclose()
        for task in (*idle._tasks, *run._tasks):
            task.cancel()
        await asyncio.gather(*idle._tasks, *run._tasks, return_exceptions=True)
        await shared_state().aclose()

    assert (replayed, live) == (FIRST, SECOND)
    assert waited < runs.PING_SECONDS / 2, f"the live event took {waited:.1f}s"
