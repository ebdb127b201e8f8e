"""Interleave a run's event stream with events queued by tools (used by `stream_agent_response`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Q = TypeVar("Q")


@dataclass(frozen=True)
class Queued(Generic[Q]):
    """An event that came from the queue rather than from the run."""

    event: Q


async def interleave(
    source: AsyncIterator[T], queue: asyncio.Queue[Q]
) -> AsyncGenerator[T | Queued[Q], None]:
    """Yield from `source` and `queue` as items arrive, until `source` ends.

    When both are ready, the queued item goes first: a tool enqueues its events before it
    returns, so they belong before whatever the run does next. Items still queued when
    `source` ends are left for the caller. The pending reads (one task that pumps `source`,
    one that waits on `queue`) are cancelled and awaited when the generator finishes, fails
    or is closed.

    One pump task reads `source` for the whole run, so an item that is ready costs a deque
    append and pop, not a task and an `asyncio.wait` of its own.
    """
    loop = asyncio.get_running_loop()
    ready: deque[T] = deque()
    signal: list[asyncio.Future[None]] = []

    def wake(_: object = None) -> None:
        if signal and not signal[0].done():
            signal[0].set_result(None)

    async def pump() -> None:
        try:
            async for value in source:
                ready.append(value)
                wake()
        finally:
            wake()

    pumping = asyncio.ensure_future(pump())
    from_queue: asyncio.Future[Q] = asyncio.ensure_future(queue.get())
    from_queue.add_done_callback(wake)
    try:
        while True:
            if from_queue.done():
                yield Queued(from_queue.result())
                from_queue = asyncio.ensure_future(queue.get())
                from_queue.add_done_callback(wake)
                continue
            if ready:
                yield ready.popleft()
                continue
            if pumping.done():
                pumping.result()  # re-raise the source's failure
                return
            signal[:] = [loop.create_future()]
            await signal[0]
    finally:
        signal.clear()
        await _cancel(pumping)
        await _cancel(from_queue)


async def _cancel(future: asyncio.Future[Any]) -> None:
    if future.done():
        if not future.cancelled():
            future.exception()  # mark a failure as retrieved; it was already re-raised or moot
        return
    future.cancel()
    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, Exception):
        await future
