"""Sign-in throttle: failed attempts counted per username and per client address.

Counters live in the cache (Redis when `REDIS_URL` is set, so every web process shares
them), each for a fixed window from its first failure. A success does not reset the
address's counter: an address that guesses many usernames stays limited.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

__all__ = ["login_blocked", "login_failed", "login_succeeded"]


def _keys(username: str, ip: str | None) -> tuple[str, str]:
    # Hashed: usernames may hold characters that cache backends refuse in keys.
    user = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return f"console:login-fail:user:{user}", f"console:login-fail:ip:{ip or 'unknown'}"


def login_blocked(username: str, ip: str | None) -> bool:
    """Return whether sign-in is refused for now, for this username or this address."""
    user_key, ip_key = _keys(username, ip)
    counts = cache.get_many([user_key, ip_key])
    user_failures, ip_failures = int(counts.get(user_key, 0)), int(counts.get(ip_key, 0))
    return bool(
        user_failures >= settings.CONSOLE_LOGIN_FAILURES_PER_USER
        or ip_failures >= settings.CONSOLE_LOGIN_FAILURES_PER_IP
    )


def login_failed(username: str, ip: str | None) -> None:
    for key in _keys(username, ip):
        # add() starts the window only once; incr() then counts within it.
        if not cache.add(key, 1, timeout=settings.CONSOLE_LOGIN_WINDOW_SECONDS):
            try:
                cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.add(key, 1, timeout=settings.CONSOLE_LOGIN_WINDOW_SECONDS)


def login_succeeded(username: str) -> None:
    cache.delete(_keys(username, None)[0])
