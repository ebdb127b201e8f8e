"""Token usage per tenant, agent and UTC day, and the monthly quota.

The quota is checked before each run; concurrent runs may overshoot it by at most their own
usage. A run that passes the check is told how many tokens are left (`quota_check`), and the
runtime caps the run's output tokens at that (see `output_token_cap`), so one run alone
cannot run far past the quota. Usage is written after the run, on PostgreSQL in the same
statement as the run's trace; a failed write is retried once (alone) and then logged as an
error naming the tokens that went unrecorded.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from django.db import DatabaseError, NotSupportedError, close_old_connections, connection
from django.utils.timezone import now

from hosted_agents.exceptions import QuotaExhausted
from hosted_agents.models import UsageDaily
from hosted_agents.selectors import usage_tokens_since
from hosted_agents.tracing import Statement
from tenants.models import Tenant

__all__ = [
    "QUOTA_CAP_FLOOR",
    "month_start",
    "output_token_cap",
    "quota_check",
    "usage_can_carry",
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
    carrying: Statement | None = None,
) -> None:
    """Add one run's tokens to the day's row, creating it if needed: one statement.

    INSERT ... ON CONFLICT DO UPDATE with increments (the same SQL on PostgreSQL and SQLite):
    concurrent runs never lose each other's counts, and the first run of a day needs no
    UPDATE that finds nothing. The ORM cannot write an increment on conflict, hence the SQL.

    `carrying` (PostgreSQL only, see `usage_can_carry`) is another INSERT written in the same
    statement, as a data-modifying CTE: PostgreSQL runs it exactly once, to completion, even
    though the upsert reads nothing of it, and the statement writes both or neither.
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
    if carrying is not None:
        if not usage_can_carry():
            raise NotSupportedError("Only PostgreSQL runs an INSERT inside a WITH clause")
        carried_sql, carried_params = carrying
        sql = f"WITH carried AS ({carried_sql}) {sql}"
        params = [*carried_params, *params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def usage_can_carry() -> bool:
    """Return whether `usage_record` can carry an INSERT (SQLite's WITH takes only SELECT)."""
    return connection.vendor == "postgresql"


def usage_record_or_log(
    *,
    tenant_id: int,
    agent_id: int,
    input_tokens: int,
    output_tokens: int,
    trace: Statement | None = None,
) -> bool:
    """Record one run's usage, retrying once; return whether it was recorded.

    The answer is already out when this runs, so a failure must not become the user's
    error; it is logged as an error that names the lost tokens, for the operator.

    `trace`, the INSERT of the run's spans (`tracing.run_spans_insert_sql`), is carried by
    the first try (`usage_can_carry` must be true). If that statement fails, the trace is
    given up and logged, and usage is then recorded alone, with its own retry: the failure
    may be a span the table refuses, which says nothing against recording the tokens.
    """

    def record(carrying: Statement | None = None) -> None:
        usage_record(
            tenant_id=tenant_id,
            agent_id=agent_id,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            carrying=carrying,
        )

    if trace is not None:
        try:
            record(trace)
            return True
        except Exception:  # a span's value may fail before the database sees it
            logger.exception(
                "Recording the trace of a run of agent %s failed; recording its usage alone",
                agent_id,
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
