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

from django.db import (
    DatabaseError,
    IntegrityError,
    close_old_connections,
    connection,
    transaction,
)
from django.db.models import F

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
    """Add one run's tokens to the day's row, creating it if needed.

    The increment is one UPDATE with F() expressions, so concurrent runs never lose each
    other's counts; the first run of a day inserts the row, and if another run inserted it
    meanwhile the unique constraint sends this one back to the UPDATE.
    """
    day = day or _today()
    rows = UsageDaily.objects.for_tenant(tenant_id).filter(agent_id=agent_id, day=day)
    increments = {
        "runs": F("runs") + runs,
        "input_tokens": F("input_tokens") + input_tokens,
        "output_tokens": F("output_tokens") + output_tokens,
    }
    if rows.update(**increments):
        return
    try:
        with transaction.atomic():
            UsageDaily(
                tenant_id=tenant_id,
                agent_id=agent_id,
                day=day,
                runs=runs,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
            ).save(force_insert=True)
    except IntegrityError:
        rows.update(**increments)


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
