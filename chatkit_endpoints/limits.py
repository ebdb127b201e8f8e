"""Request limits of the ChatKit endpoints: requests per minute and the monthly token quota.

Two fixed one-minute windows are counted per request, in one round trip to the shared state
(Redis, or the in-process cache): the tenant's (`Tenant.requests_per_minute`) and the
credential's own (a client session's `max_requests_per_1_minute`). A request over either
is refused with 429, `Retry-After` (seconds to the next window) and a JSON body; refused
requests count too, so a client hammering the endpoint stays refused until it slows down.

The monthly token quota is checked before a streamed turn, when the tenant has one: the
runtime checks it again when the run starts (and caps the run's output at what is left).
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from channels.db import database_sync_to_async

from chatkit_endpoints.errors import EndpointError
from chatkit_endpoints.state import shared_state
from hosted_agents.chat_access import ChatAccess
from hosted_agents.exceptions import QuotaExhausted
from hosted_agents.metering import quota_check
from tenants.models import Tenant
from tenants.scoping import tenant_cache_key

__all__ = ["quota_enforce", "rate_limit_enforce"]

WINDOW_SECONDS = 60


async def rate_limit_enforce(access: ChatAccess) -> None:
    """Count this request; raise a 429 `EndpointError` if a per-minute limit is exceeded."""
    tenant = access.context.tenant
    limits: list[tuple[str, int, str]] = []
    if tenant.requests_per_minute is not None:
        key = tenant_cache_key(tenant.pk, "rpm")
        limits.append((key, tenant.requests_per_minute, "this workspace"))
    if access.credential_rpm is not None:
        key = tenant_cache_key(tenant.pk, "rpm", access.credential_key)
        limits.append((key, access.credential_rpm, "this credential"))
    if not limits:
        return
    counts = await shared_state().count([key for key, _, _ in limits], WINDOW_SECONDS)
    for (_, limit, whose), used in zip(limits, counts, strict=True):
        if used > limit:
            raise _too_many(
                "rate_limited",
                f"Too many requests: {whose} allows {limit} per minute.",
                _seconds_to_next_window(),
            )


def _seconds_to_next_window() -> int:
    return max(1, math.ceil(WINDOW_SECONDS - time.time() % WINDOW_SECONDS))


async def quota_enforce(tenant: Tenant) -> None:
    """Raise a 429 `EndpointError` when the tenant has used its monthly token quota."""
    if tenant.monthly_token_quota is None:
        return
    try:
        await database_sync_to_async(quota_check)(tenant=tenant)
    except QuotaExhausted:
        raise _too_many(
            "quota_exhausted",
            "This workspace has used all of its tokens for this month; its administrator "
            "can raise the quota.",
            _seconds_to_next_month(datetime.now(UTC)),
        ) from None


def _seconds_to_next_month(now: datetime) -> int:
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else (first.replace(month=first.month + 1))
    )
    return max(1, math.ceil((following - now).total_seconds()))


def _too_many(code: str, message: str, retry_after: int) -> EndpointError:
    return EndpointError(
        429,
        code,
        message,
        [(b"retry-after", str(retry_after).encode())],
        retry_after=retry_after,
    )
