"""A run publishes its events to the thread's group only while somebody listens.

In this test's event loop, on the configured channel layer (in memory on the embedded
defaults, Redis in the PostgreSQL + Redis pass) and shared state.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from channels.layers import get_channel_layer

from chatkit_core.server import StreamingResult
from chatkit_endpoints.runs import DetachedRun, Feed, RunKey, run_claim, thread_watch
from chatkit_endpoints.state import shared_state

FIRST = b'data: {"type":"progress_update","text":"first"}\n\n'
SECOND = b'data: {"type":"progress_update","text":"second"}\n\n'


async def _answer(go_on: asyncio.Event) -> AsyncIterator[bytes]:
    yield FIRST
    await go_on.wait()
    yield SECOND


def _key() -> RunKey:
    return RunKey(1, 1, "user-publishing", f"thr_pub_{uuid.uuid4().hex}")


@pytest.fixture
def group_sends(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    layer = get_channel_layer()
    sent: list[tuple[str, dict[str, Any]]] = []
    real = layer.group_send

    async def counted(group: str, message: dict[str, Any]) -> None:
        sent.append((group, message))
        await real(group, message)

    monkeypatch.setattr(layer, "group_send", counted)
    yield sent


async def _finish(run: DetachedRun) -> None:
    for task in run._tasks:
        task.cancel()
    await asyncio.gather(*run._tasks, return_exceptions=True)
    await shared_state().aclose()


async def _drain(feed: Feed) -> list[bytes]:
    out: list[bytes] = []
    while (batch := await feed.take()) is not None:
        out += batch
    return out


async def _group_messages(channel: str, until: str) -> list[dict[str, Any]]:
    layer = get_channel_layer()
    messages: list[dict[str, Any]] = []
    while not messages or messages[-1]["type"] != until:
        messages.append(await layer.receive(channel))
    return messages


def _chunks(messages: list[dict[str, Any]]) -> list[bytes]:
    return [chunk for m in messages if m["type"] == "run.events" for chunk in m["chunks"]]


async def test_a_run_nobody_watches_sends_nothing_to_the_group(
    group_sends: list[tuple[str, dict[str, Any]]],
) -> None:
    key = _key()
    go_on = asyncio.Event()
    go_on.set()
    run = await DetachedRun.start(StreamingResult(_answer(go_on)), key, await run_claim(key))
    try:
        async with asyncio.timeout(30):
            written = await _drain(run.subscribe())
            await asyncio.gather(*run._tasks[1:])  # the driver (and a publisher, if any)
    finally:
        await _finish(run)

    assert written == [FIRST, SECOND]
    assert group_sends == []
    assert run.watched is False


async def test_a_run_of_a_watched_thread_publishes_every_event_and_its_end() -> None:
    key = _key()
    layer = get_channel_layer()
    me = await layer.new_channel()
    await layer.group_add(key.group, me)
    await thread_watch(key)  # before the run: the run reads the mark when it starts
    go_on = asyncio.Event()
    run = await DetachedRun.start(StreamingResult(_answer(go_on)), key, await run_claim(key))
    try:
        go_on.set()
        async with asyncio.timeout(30):
            messages = await _group_messages(me, until="run.done")
    finally:
        await layer.group_discard(key.group, me)
        await shared_state().delete(key.watch_key)
        await _finish(run)

    assert run.watched is True
    assert _chunks(messages) == [FIRST, SECOND]
    assert messages[-1] == {"type": "run.done", "total": 2}


async def test_a_view_that_opens_mid_run_gets_the_events_so_far_and_the_rest() -> None:
    key = _key()
    layer = get_channel_layer()
    go_on = asyncio.Event()
    run = await DetachedRun.start(StreamingResult(_answer(go_on)), key, await run_claim(key))
    feed = run.subscribe()
    me = await layer.new_channel()
    try:
        async with asyncio.timeout(30):
            assert await feed.take() == [FIRST]
            assert run.watched is False
            await layer.group_add(key.group, me)
            await thread_watch(key)  # the run is told through its channel
            first = await layer.receive(me)
            go_on.set()
            rest = await _group_messages(me, until="run.done")
    finally:
        await layer.group_discard(key.group, me)
        await shared_state().delete(key.watch_key)
        await _finish(run)

    assert first == {"type": "run.events", "first": 0, "chunks": [FIRST]}
    assert _chunks([first, *rest]) == [FIRST, SECOND]


async def test_a_feed_hands_over_what_came_meanwhile_in_one_batch() -> None:
    feed = Feed()

    def produce() -> None:  # runs once the reader below waits on the empty feed
        feed.push(FIRST)
        feed.push(SECOND)
        feed.close()

    asyncio.get_running_loop().call_soon(produce)

    async with asyncio.timeout(10):
        assert await feed.take() == [FIRST, SECOND]
        assert await feed.take() is None
