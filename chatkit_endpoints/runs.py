"""Runs that outlive their connection, and following a run from any web process.

A streamed turn is not iterated by the request that started it: `DetachedRun.start` iterates
the `StreamingResult` to its end in a task of its own, so a client that goes away leaves the
run going, and every item it makes is saved. The request only listens (`subscribe`).

Each run of an existing thread is registered under (tenant, agent, end user, thread) in the
shared state (Redis, or the process's cache) before it starts; the entry names the run's
own channel on the channel layer and doubles as the thread's lock: one run per thread, a
second message meanwhile is refused (`ThreadBusy`). A new thread's run registers when its
first event names the thread. The entry expires unless the run refreshes it, so a killed
process does not lock a thread for long.

Following a run (`run_follow`): join the thread's group, ask the run's channel for a replay
of the events so far, then take the live events the run publishes to the group. Events are
numbered, so those that both the replay and the group carry are written once. The group
(`thread_group`) is also what the console's live view listens to. A follower that has heard
nothing for PING_SECONDS pings the run's channel: a run whose process died (killed, OOM)
never answers, and the follower then ends with an error event instead of waiting forever.

A run publishes to the group only once somebody listens: most runs have no follower and no
live view, and the group sends were most of what the endpoint added to a streamed turn. A
follower's replay request says so; a live view marks the thread as watched in the shared
state (`thread_watch`, refreshed while it stays open), which a run of an existing thread
reads when it starts, and tells a run already under way through the run's channel. Each
side writes its own mark before it reads the other's (the run its registration, the view
its watch), so at least one of them sees the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from channels.layers import get_channel_layer

from chatkit_core.server import StreamingResult
from chatkit_endpoints.state import shared_state
from tenants.scoping import tenant_cache_key, tenant_group_name

__all__ = [
    "DetachedRun",
    "Feed",
    "RunKey",
    "ThreadBusy",
    "run_claim",
    "run_follow",
    "run_lookup",
    "run_release",
    "thread_group",
    "thread_watch",
]

logger = logging.getLogger(__name__)

REGISTRY_TTL_SECONDS = 60
REFRESH_SECONDS = 20
# How long a finished run still answers replay requests from followers that found it late.
REPLAY_GRACE_SECONDS = 5
REPLAY_TIMEOUT_SECONDS = 10
# Silence after which a follower asks the run whether it is still there (a long tool call
# can keep a live run quiet for minutes).
PING_SECONDS = 10
RECEIVE_ATTEMPTS = 3
# After a send to the thread's group, the events that come meanwhile wait this long and go
# in the next send: a turn streams dozens of events within milliseconds, and a send per
# event was most of what the endpoint added to a streamed turn (a group send per event:
# 61 for a demo answer). Followers and the console's live view see them this much later.
PUBLISH_COALESCE_SECONDS = 0.02
# A live view's mark on its thread lasts this long unless the view refreshes it.
WATCH_TTL_SECONDS = 60
WATCH_REFRESH_SECONDS = 20

_ERROR_EVENT = b'data: {"type":"error","code":"stream.error","allow_retry":true}\n\n'
_UNREACHABLE = (
    b'data: {"type":"error","code":"custom","message":"The answer in progress could not be '
    b'followed; reload the conversation to see it.","allow_retry":false}\n\n'
)

# Runs are held here until they end: asyncio keeps only weak references to tasks.
_running: set[DetachedRun] = set()


class ThreadBusy(Exception):
    """The thread already has a run in progress."""


def _digest(text: str) -> str:
    # End user and thread ids are chosen by clients: hashed, they fit any key or group name.
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def thread_group(tenant_id: int, thread_id: str) -> str:
    """Return the channel-layer group of a thread's run events (tenant first)."""
    return tenant_group_name(tenant_id, "thread", _digest(thread_id))


class Feed:
    """Events handed from a run to the one request that writes them, in batches.

    Lighter than an `asyncio.Queue` for the one thing needed: the reader takes whatever
    has come since it last looked, and is woken only when it waits on an empty feed.
    `take(not_before=...)` lets the events of a burst gather until then (closing the feed
    ends that wait at once).
    """

    __slots__ = ("_chunks", "_closed", "_gathering", "_waiter")

    def __init__(self, chunks: list[bytes] | None = None, *, closed: bool = False) -> None:
        self._chunks: list[bytes] = list(chunks or ())
        self._closed = closed
        self._gathering = False
        self._waiter: asyncio.Future[None] | None = None

    def push(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        if not self._gathering:
            self._wake()

    def close(self) -> None:
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def take(self, not_before: float = 0.0) -> list[bytes] | None:
        """Wait for events; return all that came (None once the feed is closed and empty).

        `not_before` (the loop's clock): events that come earlier are not returned before
        then, but together then; a feed that closes meanwhile is answered at once.
        """
        loop = asyncio.get_running_loop()
        if not self._closed and not_before > loop.time():
            self._gathering = True
            self._waiter = waiter = loop.create_future()
            timer = loop.call_at(not_before, self._wake)
            try:
                await waiter
            finally:
                timer.cancel()
                self._gathering = False
        while not self._chunks:
            if self._closed:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        chunks, self._chunks = self._chunks, []
        return chunks


@dataclass(frozen=True)
class RunKey:
    tenant_id: int
    agent_id: int
    end_user_id: str
    thread_id: str

    @property
    def registry_key(self) -> str:
        return tenant_cache_key(
            self.tenant_id, "run", self.agent_id, _digest(self.end_user_id), _digest(self.thread_id)
        )

    @property
    def group(self) -> str:
        return thread_group(self.tenant_id, self.thread_id)

    @property
    def watch_key(self) -> str:
        # Per thread, not per agent and end user: a live view watches a thread, whoever runs it.
        return tenant_cache_key(self.tenant_id, "watch", _digest(self.thread_id))


async def _new_channel() -> str:
    # Every channel of a process takes the layer's default prefix, like a consumer's own.
    # channels-redis keeps one receive lock per process but one Redis list per prefix: a
    # run waiting on "run." channels held the lock while a "follow." channel's messages
    # sat in their list, so a follower heard nothing until its ping or the run's refresh.
    layer = get_channel_layer()
    name: str = await layer.new_channel()
    return name


async def run_claim(key: RunKey) -> str:
    """Register a run of `key`'s thread; return its channel. Raise `ThreadBusy` if one runs."""
    channel = await _new_channel()
    if not await shared_state().add(key.registry_key, channel, REGISTRY_TTL_SECONDS):
        raise ThreadBusy(key.thread_id)
    return channel


async def run_release(key: RunKey) -> None:
    """Drop a claim whose run never started (the request was refused)."""
    await shared_state().delete(key.registry_key)


async def run_lookup(key: RunKey) -> str | None:
    """Return the channel of the run in progress on `key`'s thread, or None."""
    return await shared_state().get(key.registry_key)


async def thread_watch(key: RunKey) -> None:
    """Mark `key`'s thread as watched, and tell a run in progress to publish its events.

    The caller has joined the thread's group already, and calls this again every
    WATCH_REFRESH_SECONDS while it listens. Runs starting later see the mark.
    """
    state = shared_state()
    if not await state.add(key.watch_key, "1", WATCH_TTL_SECONDS):
        await state.touch(key.watch_key, WATCH_TTL_SECONDS)
    channel = await run_lookup(key)
    if channel is not None:
        await _quietly(get_channel_layer().send(channel, {"type": "run.watch"}))


@dataclass(eq=False)
class DetachedRun:
    """A streamed answer iterated to its end by a task of its own."""

    stream: StreamingResult
    owner: RunKey  # thread_id is "" until a new thread's first event names it
    channel: str
    registered: bool
    chunks: list[bytes] = field(default_factory=list)
    done: bool = False
    # Somebody listens to the thread's group (a follower or a live view): publish to it.
    watched: bool = False
    _listeners: list[Feed] = field(default_factory=list)
    _published: int = 0
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _replies: asyncio.Task[None] | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def start(
        cls, stream: StreamingResult, owner: RunKey, channel: str | None = None
    ) -> DetachedRun:
        """Start iterating `stream`; `channel` is the one `run_claim` registered, if any."""
        registered = channel is not None
        run = cls(stream, owner, channel or await _new_channel(), registered)
        _running.add(run)
        # Read after the registration (run_claim): see the module's docstring.
        if owner.thread_id and await _quietly(shared_state().get(owner.watch_key)) is not None:
            run._watch()
        run._replies = run._task(run._answer_replays())
        run._task(run._drive())
        return run

    def _task(self, coroutine: Any) -> asyncio.Task[None]:
        """Start one of the run's tasks; the run is held in `_running` until all have ended."""
        task = asyncio.create_task(coroutine)
        self._tasks.append(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, _: asyncio.Task[None]) -> None:
        if all(task.done() for task in self._tasks):
            _running.discard(self)

    def _watch(self) -> None:
        """Publish to the thread's group from now on (the events so far go first)."""
        if self.watched:
            return
        self.watched = True
        self._task(self._publish())
        self._wake.set()

    def subscribe(self) -> Feed:
        """Return a feed of the events from now on (all of them, right after `start`)."""
        feed = Feed(self.chunks, closed=self.done)
        if not self.done:
            self._listeners.append(feed)
        return feed

    async def _drive(self) -> None:
        try:
            async for chunk in self.stream:
                if not self.registered:
                    await self._register(chunk)
                self._emit(chunk)
        except Exception:
            logger.exception("A detached run failed")
            self._emit(_ERROR_EVENT)
        finally:
            self.done = True
            # Unlocked before the client sees the end, so that its next message is taken.
            if self.owner.thread_id:
                await _quietly(shared_state().delete(self.owner.registry_key))
            for feed in self._listeners:
                feed.close()
            self._wake.set()
            # Followers that looked the run up just before it ended still get their replay.
            if self._replies is not None:
                asyncio.get_running_loop().call_later(REPLAY_GRACE_SECONDS, self._replies.cancel)

    def _emit(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        for feed in self._listeners:
            feed.push(chunk)
        if self.watched:
            self._wake.set()

    async def _register(self, chunk: bytes) -> None:
        # A new thread cannot be watched yet: its row is written after this registration
        # (the stream goes on only once this returns), and a live view finds the thread
        # before it looks the run up. So no watch mark is read here.
        self.registered = True
        event = json.loads(chunk.removeprefix(b"data: "))
        if event.get("type") != "thread.created":
            return
        thread_id = event["thread"]["id"]
        self.owner = RunKey(
            self.owner.tenant_id, self.owner.agent_id, self.owner.end_user_id, thread_id
        )
        await shared_state().add(self.owner.registry_key, self.channel, REGISTRY_TTL_SECONDS)

    async def _publish(self) -> None:
        """Send new events to the thread's group, batched while the last send is under way."""
        layer = get_channel_layer()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.owner.thread_id and self._published < len(self.chunks):
                first, batch = self._published, self.chunks[self._published :]
                self._published += len(batch)
                message = {"type": "run.events", "first": first, "chunks": batch}
                await _quietly(layer.group_send(self.owner.group, message))
                if not self.done:
                    await asyncio.sleep(PUBLISH_COALESCE_SECONDS)
            if self.done and self._published == len(self.chunks):
                if self.owner.thread_id:
                    message = {"type": "run.done", "total": len(self.chunks)}
                    await _quietly(layer.group_send(self.owner.group, message))
                return

    async def _answer_replays(self) -> None:
        """Answer followers' replay requests; keep the registry entry alive meanwhile."""
        layer = get_channel_layer()
        state = shared_state()
        while True:
            await self._answer_one(layer, REFRESH_SECONDS)
            if self.owner.thread_id and not self.done:
                await _quietly(state.touch(self.owner.registry_key, REGISTRY_TTL_SECONDS))

    async def _answer_one(self, layer: Any, wait: float) -> None:
        try:
            async with asyncio.timeout(wait):
                message = await layer.receive(self.channel)
        except TimeoutError:
            return
        except Exception:
            # A loaded Redis can time a read out (redis.TimeoutError). The loop must go on:
            # it answers followers and keeps the thread's registration (its lock) alive.
            logger.warning("Receiving on a run's channel failed", exc_info=True)
            await asyncio.sleep(1)  # not a busy loop while Redis is down
            return
        kind = message.get("type")
        if kind == "run.replay":
            reply = {"type": "run.replay", "chunks": list(self.chunks), "done": self.done}
            await _quietly(layer.send(message["reply_to"], reply))
            # The follower joined the group before it asked: what comes next goes there.
            if not self.done:
                self._watch()
        elif kind == "run.watch":
            if not self.done:
                self._watch()
        elif kind == "run.ping":
            await _quietly(layer.send(message["reply_to"], {"type": "run.pong"}))


async def _quietly(awaitable: Any) -> Any:
    # Followers are a bonus: a channel-layer failure must never break the run itself.
    try:
        return await awaitable
    except Exception:
        logger.warning("Publishing a run's events failed", exc_info=True)
        return None


async def run_follow(key: RunKey, run_channel: str) -> AsyncIterator[bytes]:
    """Yield the run's events so far, then its live events until it ends."""
    layer = get_channel_layer()
    me = await _new_channel()
    await layer.group_add(key.group, me)
    try:
        await layer.send(run_channel, {"type": "run.replay", "reply_to": me})
        follower = _Follower()
        pinged = False
        failures = 0
        while not follower.finished:
            # Until the replay came, or after a ping: the run must answer soon, or it is gone.
            waiting = not follower.replayed or pinged
            try:
                async with asyncio.timeout(REPLAY_TIMEOUT_SECONDS if waiting else PING_SECONDS):
                    message = await layer.receive(me)
            except TimeoutError:
                if waiting:
                    yield _UNREACHABLE
                    return
                await layer.send(run_channel, {"type": "run.ping", "reply_to": me})
                pinged = True
                continue
            except Exception:
                # A loaded Redis can time a read out (redis.TimeoutError): try again a little.
                failures += 1
                if failures >= RECEIVE_ATTEMPTS:
                    raise
                logger.warning("Receiving a followed run's events failed", exc_info=True)
                continue
            failures = 0
            # Any message comes from the run (its replies, its events): it is alive.
            pinged = False
            for chunk in follower.take(message):
                yield chunk
    except Exception:
        # The channel layer failed us: say so rather than end as if the answer were complete.
        logger.exception("Following a run failed")
        yield _UNREACHABLE
    finally:
        with contextlib.suppress(Exception):
            await layer.group_discard(key.group, me)


@dataclass
class _Follower:
    """Orders a follower's messages: the replay first, then live events not in it."""

    replayed: bool = False
    finished: bool = False
    received: int = 0
    total: int | None = None
    _early: list[dict[str, Any]] = field(default_factory=list)

    def take(self, message: dict[str, Any]) -> list[bytes]:
        kind = message.get("type")
        if kind == "run.pong":
            return []
        if kind == "run.replay":
            self.replayed = True
            out = list(message["chunks"])
            self.received = len(out)
            if message["done"]:
                self.finished = True
                return out
            for early in self._early:
                out += self._live(early)
            self._early.clear()
            return out
        if not self.replayed:
            self._early.append(message)
            return []
        return self._live(message)

    def _live(self, message: dict[str, Any]) -> list[bytes]:
        if message.get("type") == "run.done":
            self.total = message["total"]
            self.finished = self.received >= message["total"]
            return []
        first, chunks = message["first"], message["chunks"]
        fresh = chunks[max(0, self.received - first) :]
        self.received = max(self.received, first + len(chunks))
        if self.total is not None:
            self.finished = self.received >= self.total
        return list(fresh)
