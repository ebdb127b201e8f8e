"""Token usage per tenant, agent and UTC day, and the monthly quota checked before a run."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.db import IntegrityError, transaction
from django.db.models import F

from hosted_agents.exceptions import QuotaExhausted
from hosted_agents.models import UsageDaily
from hosted_agents.selectors import usage_tokens_since
from tenants.models import Tenant

__all__ = ["month_start", "quota_check", "usage_record"]


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


def quota_check(*, tenant: Tenant, today: date | None = None) -> None:
    """Raise `QuotaExhausted` when the tenant used its monthly tokens (UTC calendar month)."""
    quota = tenant.monthly_token_quota
    if quota is None:
        return
    used = usage_tokens_since(tenant=tenant, since=month_start(today or _today()))
    if used >= quota:
        raise QuotaExhausted(used, quota)
