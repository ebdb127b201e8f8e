"""The console's front: where a signed-in member lands, and a tenant's overview."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from console.access import ConsoleRequest, console_view
from hosted_agents.models import Agent
from hosted_agents.selectors import usage_tokens_since
from tenants.models import Membership, Tenant, Thread
from tenants.selectors import audit_event_list

RECENT_ACTIVITY = 8


def user_memberships(request: HttpRequest) -> list[Membership]:
    """The signed-in user's memberships of active tenants, for the tenant switcher."""
    return list(
        Membership.unscoped.select_related("tenant")
        .filter(user=cast(User, request.user), tenant__status=Tenant.Status.ACTIVE)
        .order_by("tenant__name")
    )


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """Send a member of one tenant to it; let a member of several choose."""
    memberships = user_memberships(request)
    if len(memberships) == 1:
        return redirect("console:tenant_home", tenant=memberships[0].tenant.slug)
    return render(request, "console/index.html", {"memberships": memberships})


def month_start(now: datetime) -> datetime:
    """Return the first instant of `now`'s month, in UTC (quotas count per UTC month)."""
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@console_view()
def tenant_home(request: ConsoleRequest) -> HttpResponse:
    """The overview: agents, this month's threads and tokens against the quota, activity."""
    tenant = request.console.tenant
    since = month_start(timezone.now())
    agents = Agent.objects.for_tenant(tenant)
    tokens = usage_tokens_since(tenant=tenant, since=since.date())
    quota = tenant.monthly_token_quota
    context = {
        "agent_count": agents.count(),
        "published_count": agents.filter(published_version__isnull=False).count(),
        "thread_count": Thread.objects.for_tenant(tenant).filter(created_at__gte=since).count(),
        "tokens": tokens,
        "quota": quota,
        "quota_percent": min(100, round(100 * tokens / quota)) if quota else None,
        "month": since,
        "activity": list(audit_event_list(tenant=tenant)[:RECENT_ACTIVITY]),
    }
    return render(request, "console/tenant_home.html", context)
