"""Usage: tokens and runs per day and per agent, activity per end user, and the quota."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.access import console_view
from console.views.usage_chart import daily_series, tokens_chart
from hosted_agents.metering import month_start
from hosted_agents.selectors import usage_tokens_since
from hosted_agents.selectors_usage import usage_by_agent, usage_by_day, usage_by_end_user

MAX_DAYS = 366


class UsageRangeForm(forms.Form):
    since = forms.DateField(required=False, label="From")
    until = forms.DateField(required=False, label="To")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        today = datetime.now(UTC).date()
        since, until = data.get("since") or month_start(today), data.get("until") or today
        if since > until:
            raise forms.ValidationError("The range ends before it starts.")
        if (until - since).days >= MAX_DAYS:
            raise forms.ValidationError(f"Choose at most {MAX_DAYS} days.")
        data["since"], data["until"] = since, until
        return data


def _totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    keys = ("runs", "input_tokens", "output_tokens")
    return {key: sum(int(row.get(key) or 0) for row in rows) for key in keys}


@console_view()
def usage(request: HttpRequest) -> HttpResponse:
    tenant = request.console.tenant  # type: ignore[attr-defined]
    form = UsageRangeForm(request.GET)
    today = datetime.now(UTC).date()
    used = usage_tokens_since(tenant=tenant, since=month_start(today))
    context: dict[str, Any] = {
        "form": form,
        "quota": tenant.monthly_token_quota,
        "used_this_month": used,
        "quota_left": max(tenant.monthly_token_quota - used, 0)
        if tenant.monthly_token_quota is not None else None,
    }  # fmt: skip
    if not form.is_valid():
        return render(request, "console/usage/usage.html", context, status=400)
    since: date = form.cleaned_data["since"]
    until: date = form.cleaned_data["until"]
    days = daily_series(usage_by_day(tenant=tenant, since=since, until=until), since, until)
    context |= {
        "since": since,
        "until": until,
        "days": days,
        "busy_days": [d for d in reversed(days) if d["runs"] or d["input_tokens"]],
        "chart": tokens_chart(days),
        "totals": _totals(days),
        "agents": usage_by_agent(tenant=tenant, since=since, until=until),
        "end_users": usage_by_end_user(tenant=tenant, since=since, until=until, limit=50),
        "previous": (since - timedelta(days=1)).replace(day=1),
    }
    return render(request, "console/usage/usage.html", context)
