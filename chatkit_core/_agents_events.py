"""Interleave a run's event stream with events queued by tools (used by `stream_agent_response`)."""

from __future__ import annotations

import asyncio
import contextlib
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
    `source` ends are left for the caller. Pending reads are cancelled and awaited when
    the generator finishes, fails or is closed.
    """
    from_source: asyncio.Future[T] = asyncio.ensure_future(anext(source))
    from_queue: asyncio.Future[Q] = asyncio.ensure_future(queue.get())
    try:
        while True:
            waiting: set[asyncio.Future[Any]] = {from_source, from_queue}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if from_queue.done():
                yield Queued(from_queue.result())
                from_queue = asyncio.ensure_future(queue.get())
                continue
            try:
                value = from_source.result()
            except StopAsyncIteration:
                return
            yield value
            from_source = asyncio.ensure_future(anext(source))
    finally:
        await _cancel(from_source)
        await _cancel(from_queue)


async def _cancel(future: asyncio.Future[Any]) -> None:
    if future.done():
        if not future.cancelled():
            future.exception()  # mark a failure as retrieved; it was already re-raised or moot
        return
    future.cancel()
    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, Exception):
        await future
