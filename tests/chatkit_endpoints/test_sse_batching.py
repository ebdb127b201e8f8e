"""A stream's events are written at once after a quiet moment, and a burst's together.

The writer of the endpoint's SSE body (`_EndpointConsumer._write_events`) takes events from
a `Feed`: the first event after a write window has passed goes out alone and at once; those
that come within `CHATKIT_SSE_COALESCE_MS` of a write wait for the window's end and go out
in one write; the end of the run ends the wait at once. A slow model's events are written
as produced (tests/chatkit_endpoints/test_runs.py checks that over HTTP).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pytest

from chatkit_endpoints.consumers import ChatKitConsumer
from chatkit_endpoints.runs import Feed

FIRST = b'data: {"type":"progress_update","text":"first"}\n\n'
SECOND = b'data: {"type":"progress_update","text":"second"}\n\n'
THIRD = b'data: {"type":"progress_update","text":"third"}\n\n'


async def test_a_feed_gathers_what_comes_before_the_time_given() -> None:
    loop = asyncio.get_running_loop()
    feed = Feed([FIRST])
    not_before = loop.time() + 0.05
    loop.call_soon(feed.push, SECOND)  # while the reader already waits

    async with asyncio.timeout(10):
        assert await feed.take(not_before) == [FIRST, SECOND]
    # The timer may fire a clock tick early, never sooner.
    assert loop.time() >= not_before - 0.001


async def test_closing_a_feed_ends_the_wait_for_a_burst_at_once() -> None:
    loop = asyncio.get_running_loop()
    feed = Feed()

    def produce() -> None:
        feed.push(FIRST)
        feed.close()

    loop.call_soon(produce)

    # A minute's window: only the close can end this wait within the test's bound.
    async with asyncio.timeout(10):
        assert await feed.take(loop.time() + 60) == [FIRST]
        assert await feed.take(loop.time() + 60) is None


async def test_a_feed_without_a_window_wakes_its_reader_at_each_event() -> None:
    loop = asyncio.get_running_loop()
    feed = Feed()
    loop.call_soon(feed.push, FIRST)

    async with asyncio.timeout(10):
        assert await feed.take(loop.time() - 1) == [FIRST]


async def test_an_event_after_a_quiet_window_wakes_the_reader() -> None:
    loop = asyncio.get_running_loop()
    feed = Feed()
    not_before = loop.time() + 0.01
    # Well after the window has passed with nothing in it: the reader waits as usual.
    loop.call_at(not_before + 0.05, feed.push, FIRST)

    async with asyncio.timeout(10):
        assert await feed.take(not_before) == [FIRST]


async def test_a_reader_cancelled_while_gathering_leaves_the_feed_usable() -> None:
    loop = asyncio.get_running_loop()
    feed = Feed()
    reader = asyncio.create_task(feed.take(loop.time() + 60))
    await asyncio.sleep(0)  # one loop turn: the reader is in its window
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader

    loop.call_soon(feed.push, SECOND)
    async with asyncio.timeout(10):
        # Woken by the push (not gathering any more), not by the cancelled reader's timer.
        assert await feed.take() == [SECOND]


def _writer() -> tuple[ChatKitConsumer, list[bytes], list[Callable[[], None]]]:
    """A consumer whose ASGI sends are kept (the body chunks, one per write), and the
    callbacks to run after the next writes, one per write."""
    consumer = ChatKitConsumer()
    consumer.scope = {"type": "http"}
    written: list[bytes] = []
    on_write: list[Callable[[], None]] = []

    async def send(message: dict[str, Any]) -> None:
        assert message["type"] == "http.response.body"
        written.append(message["body"])
        if on_write:
            on_write.pop(0)()

    consumer.base_send = send
    return consumer, written, on_write


async def _stream(consumer: ChatKitConsumer, feed: Feed) -> None:
    async with asyncio.timeout(10):
        await consumer._write_events(feed)


def _burst_after_the_first_write(on_write: list[Callable[[], None]], feed: Feed) -> None:
    """Once the first event is written: two more events in two loop turns, then the end."""
    loop = asyncio.get_running_loop()

    def second() -> None:
        feed.push(SECOND)
        loop.call_soon(third)

    def third() -> None:
        feed.push(THIRD)
        loop.call_soon(feed.close)

    on_write.append(lambda: loop.call_soon(second))


@pytest.mark.parametrize(
    ("window_ms", "writes"),
    [
        # Far longer than the burst takes on a loaded machine; the end cuts the wait short.
        (60_000, [FIRST, SECOND + THIRD, b""]),
        # No window: each event is written as it comes.
        (0, [FIRST, SECOND, THIRD, b""]),
    ],
    ids=["a burst that follows a write goes out in one write", "no window"],
)
async def test_the_writer_coalesces_only_within_its_window(
    settings: Any, window_ms: int, writes: list[bytes]
) -> None:
    settings.CHATKIT_SSE_COALESCE_MS = window_ms
    consumer, written, on_write = _writer()
    feed = Feed()
    _burst_after_the_first_write(on_write, feed)
    feed.push(FIRST)

    await _stream(consumer, feed)

    assert written == writes
