"""Token usage of a tenant, summed per day, per agent, or per end user over a range of days.

Tokens are metered per agent and UTC day (UsageDaily). Per end user there is no token
meter, so that view counts what the end user did: threads started and items written.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, F, Sum

from hosted_agents.models import UsageDaily
from tenants.models import Tenant, Thread, ThreadItem

__all__ = ["usage_by_agent", "usage_by_day", "usage_by_end_user"]

_TOTALS = {"runs": Sum("runs"), "input_tokens": Sum("input_tokens"),
           "output_tokens": Sum("output_tokens")}  # fmt: skip


def _days(tenant: Tenant, since: date, until: date) -> Any:
    return UsageDaily.objects.for_tenant(tenant).filter(day__gte=since, day__lte=until)


def usage_by_day(*, tenant: Tenant, since: date, until: date) -> list[dict[str, Any]]:
    rows = _days(tenant, since, until).values("day").annotate(**_TOTALS).order_by("day")
    return list(rows)


def usage_by_agent(*, tenant: Tenant, since: date, until: date) -> list[dict[str, Any]]:
    """Return the totals per agent; a deleted agent's tokens stay, under agent None."""
    rows = (
        _days(tenant, since, until)
        .values(agent_slug=F("agent__slug"))
        .annotate(**_TOTALS)
        .order_by("agent_slug")
    )
    return list(rows)


def _bounds(since: date, until: date) -> tuple[datetime, datetime]:
    start = datetime.combine(since, time.min, tzinfo=UTC)
    return start, datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)


def usage_by_end_user(
    *, tenant: Tenant, since: date, until: date, limit: int = 100
) -> list[dict[str, Any]]:
    """Return threads started and items written per end user, busiest first."""
    start, end = _bounds(since, until)
    threads = (
        Thread.objects.for_tenant(tenant)
        .filter(created_at__gte=start, created_at__lt=end)
        .values("end_user_id")
        .annotate(threads=Count("id"))
    )
    items = (
        ThreadItem.objects.for_tenant(tenant)
        .filter(created_at__gte=start, created_at__lt=end)
        .values(end_user_id=F("thread__end_user_id"))
        .annotate(items=Count("id"))
    )
    by_user: dict[str, dict[str, Any]] = {}
    for started in threads:
        user = str(started["end_user_id"])
        by_user[user] = {"end_user_id": user, "threads": started["threads"], "items": 0}
    for written in items:
        user = str(written["end_user_id"])
        entry = by_user.setdefault(user, {"end_user_id": user, "threads": 0, "items": 0})
        entry["items"] = written["items"]
    ranked = sorted(by_user.values(), key=lambda e: (-e["items"], -e["threads"], e["end_user_id"]))
    return ranked[:limit]
