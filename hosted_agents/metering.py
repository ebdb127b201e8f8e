"""Token usage per tenant, agent and UTC day, and the monthly quota.

The quota is checked before each run; concurrent runs may overshoot it by at most their own
usage. A run that passes the check is told how many tokens are left (`quota_check`), and the
runtime caps the run's output tokens at that (see `output_token_cap`), so one run alone
cannot run far past the quota. Usage is written after the run; a failed write is retried
once and then logged as an error naming the tokens that went unrecorded.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from django.db import DatabaseError, close_old_connections, connection
from django.utils.timezone import now

from hosted_agents.exceptions import QuotaExhausted
from hosted_agents.models import UsageDaily
from hosted_agents.selectors import usage_tokens_since
from tenants.models import Tenant

__all__ = [
    "QUOTA_CAP_FLOOR",
    "month_start",
    "output_token_cap",
    "quota_check",
    "usage_record",
    "usage_record_or_log",
]

logger = logging.getLogger(__name__)

# The smallest output token limit among the known models (gpt-4o); see `output_token_cap`.
QUOTA_CAP_FLOOR = 16_384


def month_start(today: date) -> date:
    return today.replace(day=1)


def _today() -> date:
    return datetime.now(UTC).date()


def usage_record(
    *,
    tenant_id: int,
    agent_id: int,
    input_tokens: int,
    output_tokens: int,
    runs: int = 1,
    day: date | None = None,
) -> None:
    """Add one run's tokens to the day's row, creating it if needed: one statement.

    INSERT ... ON CONFLICT DO UPDATE with increments (the same SQL on PostgreSQL and SQLite):
    concurrent runs never lose each other's counts, and the first run of a day needs no
    UPDATE that finds nothing. The ORM cannot write an increment on conflict, hence the SQL.
    """
    table = connection.ops.quote_name(UsageDaily._meta.db_table)
    counters = ("runs", "input_tokens", "output_tokens")
    increments = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in counters)
    sql = (
        f"INSERT INTO {table} (tenant_id, agent_id, day, runs, input_tokens, output_tokens,"
        " updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        f" ON CONFLICT (tenant_id, agent_id, day) DO UPDATE SET {increments},"
        " updated_at = excluded.updated_at"
    )
    ops = connection.ops
    params: list[Any] = [
        tenant_id,
        agent_id,
        ops.adapt_datefield_value(day or _today()),
        runs,
        input_tokens,
        output_tokens,
        ops.adapt_datetimefield_value(now()),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def usage_record_or_log(
    *, tenant_id: int, agent_id: int, input_tokens: int, output_tokens: int
) -> bool:
    """Record one run's usage, retrying once; return whether it was recorded.

    The answer is already out when this runs, so a failure must not become the user's
    error; it is logged as an error that names the lost tokens, for the operator.
    """

    def record() -> None:
        usage_record(
            tenant_id=tenant_id,
            agent_id=agent_id,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )

    try:
        record()
        return True
    except DatabaseError:
        logger.warning("Recording usage failed; retrying once", exc_info=True)
    if not connection.in_atomic_block:
        # A broken connection is replaced rather than reused for the retry.
        close_old_connections()
    try:
        record()
        return True
    except DatabaseError:
        logger.exception(
            "USAGE NOT RECORDED for tenant %s, agent %s: %s input and %s output tokens",
            tenant_id, agent_id, input_tokens, output_tokens,
        )  # fmt: skip
        return False


def quota_check(*, tenant: Tenant, today: date | None = None) -> int | None:
    """Return the tokens left this month (UTC calendar month); None if there is no quota.

    Raises `QuotaExhausted` when none are left.
    """
    quota = tenant.monthly_token_quota
    if quota is None:
        return None
    used = usage_tokens_since(tenant=tenant, since=month_start(today or _today()))
    if used >= quota:
        raise QuotaExhausted(used, quota)
    return quota - used


def output_token_cap(configured: int | None, remaining: int | None) -> int | None:
    """Return the max output tokens to send: the agent's own cap, lowered to the quota left.

    With no cap of its own, the quota's is sent only below QUOTA_CAP_FLOOR: every known model
    accepts that many, while a larger value could exceed a model's own limit and be refused.
    """
    if remaining is None:
        return configured
    if configured is not None:
        return min(configured, remaining)
    return remaining if remaining < QUOTA_CAP_FLOOR else None
