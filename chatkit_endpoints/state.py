"""State shared by every web process: rate-limit counters and the registry of live runs.

With `REDIS_URL` it lives in Redis, reached with redis-py's asyncio client (one round trip
per call, no hop off the event loop). Without it, in Django's cache, which is then the
in-process memory cache: called directly, since it does no I/O. That matches the in-memory
channel layer, which also reaches only the process it lives in.
"""

from __future__ import annotations

import asyncio
import functools
import time
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, Protocol, TypeVar

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from operations.metrics import REDIS_ERRORS

__all__ = ["SharedState", "shared_state"]

KEY_PREFIX = "ckp:endpoint:"


class SharedState(Protocol):
    async def add(self, key: str, value: str, ttl: int) -> bool:
        """Set `key` unless it exists; return whether it was set."""

    async def get(self, key: str) -> str | None: ...

    async def touch(self, key: str, ttl: int) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def count(self, keys: list[str], window: int) -> list[int]:
        """Add one to each counter of the current `window` (seconds); return the counts."""

    async def aclose(self) -> None:
        """Close the connection (a worker's short-lived event loop is ending)."""


def window_key(key: str, window: int, now: float) -> str:
    return f"{key}:{int(now // window)}"


_T = TypeVar("_T")
_P = ParamSpec("_P")


def _counted(
    method: Callable[_P, Coroutine[Any, Any, _T]],
) -> Callable[_P, Coroutine[Any, Any, _T]]:
    """Count the Redis errors of `method` (chatkit_redis_errors_total) and re-raise them."""

    @functools.wraps(method)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await method(*args, **kwargs)
        except (RedisError, OSError):
            REDIS_ERRORS.labels("endpoint_state").inc()
            raise

    return wrapper


class RedisState:
    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url)

    @_counted
    async def add(self, key: str, value: str, ttl: int) -> bool:
        return bool(await self._redis.set(KEY_PREFIX + key, value, nx=True, ex=ttl))

    @_counted
    async def get(self, key: str) -> str | None:
        value = await self._redis.get(KEY_PREFIX + key)
        if isinstance(value, bytes):
            return value.decode()
        return value

    @_counted
    async def touch(self, key: str, ttl: int) -> None:
        await self._redis.expire(KEY_PREFIX + key, ttl)

    @_counted
    async def delete(self, key: str) -> None:
        await self._redis.delete(KEY_PREFIX + key)

    @_counted
    async def count(self, keys: list[str], window: int) -> list[int]:
        now = time.time()
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            full = KEY_PREFIX + window_key(key, window, now)
            pipe.incr(full)
            pipe.expire(full, window * 2)
        results = await pipe.execute()
        return [int(value) for value in results[::2]]

    async def aclose(self) -> None:
        await self._redis.aclose()


class CacheState:
    """Django's cache; used only when it is in-process memory (no REDIS_URL)."""

    async def add(self, key: str, value: str, ttl: int) -> bool:
        return bool(cache.add(KEY_PREFIX + key, value, ttl))

    async def get(self, key: str) -> str | None:
        value = cache.get(KEY_PREFIX + key)
        return str(value) if value is not None else None

    async def touch(self, key: str, ttl: int) -> None:
        cache.touch(KEY_PREFIX + key, ttl)

    async def delete(self, key: str) -> None:
        cache.delete(KEY_PREFIX + key)

    async def count(self, keys: list[str], window: int) -> list[int]:
        now = time.time()
        counts = []
        for key in keys:
            full = KEY_PREFIX + window_key(key, window, now)
            cache.add(full, 0, window * 2)
            counts.append(cache.incr(full))
        return counts

    async def aclose(self) -> None:
        return None


# A redis-py asyncio client belongs to the event loop it first connected on.
_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SharedState] = (
    weakref.WeakKeyDictionary()
)
_cache_state = CacheState()


def shared_state() -> SharedState:
    if not settings.REDIS_URL:
        return _cache_state
    loop = asyncio.get_running_loop()
    state = _by_loop.get(loop)
    if state is None:
        state = _by_loop[loop] = RedisState(settings.REDIS_URL)
    return state
