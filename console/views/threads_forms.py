"""The query-string forms of the records sections: thread filters, audit filters, exports.

Filters travel in the query string (a filtered list is a link one can share); a value that
does not parse answers the page with the form's errors and status 400.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django import forms

from hosted_agents.models import Agent
from management_api.exports import ExportFormat
from tenants.selectors_threads import ThreadFilter

__all__ = ["AuditFilterForm", "ExportForm", "ThreadFilterForm", "day_start", "query_without"]

_YES_NO = [("", "Any"), ("yes", "Yes"), ("no", "No")]
EXPORT_FORMATS = [("jsonl", "JSON lines"), ("csv", "CSV")]


def day_start(day: date | None, *, days: int = 0) -> datetime | None:
    """Return midnight UTC of `day` plus `days`, or None."""
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=days), time.min, tzinfo=UTC)


def _yes_no(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


class ThreadFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    agent = forms.ChoiceField(required=False, label="Agent")
    version = forms.IntegerField(required=False, min_value=1, label="Version")
    user = forms.CharField(required=False, max_length=200, label="End user")
    since = forms.DateField(required=False, label="From")
    until = forms.DateField(required=False, label="To")
    feedback = forms.ChoiceField(choices=_YES_NO, required=False, label="Feedback")
    # Not `errors`: that name is the form's own error list.
    failed = forms.ChoiceField(choices=_YES_NO, required=False, label="Errors")
    after = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    def __init__(self, *args: Any, agents: list[Agent], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._agents = {agent.slug: agent for agent in agents}
        field = self.fields["agent"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Any"), *((slug, slug) for slug in self._agents)]

    def clean_agent(self) -> Agent | None:
        slug = self.cleaned_data.get("agent") or ""
        return self._agents[slug] if slug else None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("version") and not data.get("agent"):
            self.add_error("version", "Choose the agent whose version this is.")
        return data

    def where(self) -> ThreadFilter:
        data = self.cleaned_data
        agent = data.get("agent")
        return ThreadFilter(
            agent_id=agent.pk if agent else None,
            agent_version=data.get("version"),
            end_user_id=data.get("user") or None,
            created_after=day_start(data.get("since")),
            created_before=day_start(data.get("until"), days=1),
            has_feedback=_yes_no(data.get("feedback") or ""),
            has_errors=_yes_no(data.get("failed") or ""),
            text=(data.get("q") or "").strip() or None,
        )


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=200, label="Who")
    action = forms.CharField(required=False, max_length=100, label="Action")
    since = forms.DateField(required=False, label="From")
    until = forms.DateField(required=False, label="To")
    after = forms.CharField(required=False, max_length=30, widget=forms.HiddenInput)

    def clean_after(self) -> str | None:
        after = self.cleaned_data.get("after") or ""
        if after and not after.isdigit():
            raise forms.ValidationError("Not a page cursor.")
        return after or None


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=EXPORT_FORMATS, required=False)

    def export_format(self) -> ExportFormat:
        return "csv" if self.cleaned_data.get("format") == "csv" else "jsonl"


def query_without(query: Any, *names: str, **changes: str) -> str:
    """Return the query string `query` (a QueryDict) without `names`, with `changes`."""
    copy = query.copy()
    for name in names:
        copy.pop(name, None)
    for name, value in changes.items():
        copy[name] = value
    return str(copy.urlencode())
