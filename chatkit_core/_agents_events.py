"""Interleave a run's event stream with events queued by tools (used by `stream_agent_response`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Q = TypeVar("Q")


@dataclass(frozen=True)
class Queued(Generic[Q]):
    """An event that came from the queue rather than from the run."""

    event: Q


class EventQueue(asyncio.Queue[Q]):
    """An asyncio queue that calls `on_put`, when set, after each item it takes in.

    The reader of the stream waits on the run and on this queue at once; told of each put,
    it needs no task waiting in `get()` for the whole run.
    """

    def __init__(self) -> None:
        super().__init__()
        self.on_put: Callable[[], None] | None = None

    # `_put` is asyncio.Queue's hook for subclasses (as LifoQueue's): every put goes through it.
    def _put(self, item: Q) -> None:
        super()._put(item)
        if self.on_put is not None:
            self.on_put()


# Put in the line of ready items by each put on the queue: the queue's next item goes there.
_FROM_QUEUE: Any = object()


async def interleave(
    source: AsyncIterator[T], queue: EventQueue[Q]
) -> AsyncGenerator[T | Queued[Q], None]:
    """Yield from `source` and `queue` in the order their items arrive, until `source` ends.

    A tool enqueues its events before it returns, so they come before whatever the run does
    next, and after what the run did before. Items still queued when `source` ends are left
    for the caller. The task that reads `source` is cancelled and awaited when the generator
    finishes, fails or is closed.

    One pump task reads `source` for the whole run, and the queue tells of each put (see
    `EventQueue`), so an item that is ready costs a deque append and pop, not a task and an
    `asyncio.wait` of its own.
    """
    loop = asyncio.get_running_loop()
    ready: deque[Any] = deque(_FROM_QUEUE for _ in range(queue.qsize()))
    waiter: asyncio.Future[None] | None = None

    def wake() -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def put() -> None:
        ready.append(_FROM_QUEUE)
        wake()

    async def pump() -> None:
        try:
            async for value in source:
                ready.append(value)
                wake()
        finally:
            wake()

    pumping = asyncio.ensure_future(pump())
    queue.on_put = put
    try:
        while True:
            if ready:
                value = ready.popleft()
                if value is not _FROM_QUEUE:
                    yield value
                elif not queue.empty():
                    yield Queued(queue.get_nowait())
            elif pumping.done():
                pumping.result()  # re-raise the source's failure
                return
            else:
                waiter = loop.create_future()
                await waiter
                waiter = None
    finally:
        queue.on_put = None
        waiter = None
        await _cancel(pumping)


async def _cancel(future: asyncio.Future[Any]) -> None:
    if future.done():
        if not future.cancelled():
            future.exception()  # mark a failure as retrieved; it was already re-raised or moot
        return
    future.cancel()
    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, Exception):
        await future
