"""The audit log: who did what, when, from where, to what; filtered, paged, exported."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from console.access import console_view
from console.views.threads_forms import AuditFilterForm, ExportForm, day_start, query_without
from management_api.exports import export_response
from management_api.pagination import pk_page
from tenants.models import AuditEvent
from tenants.selectors_threads import audit_event_search
from tenants.services.audit import audit_event_record

PAGE_SIZE = 50
EXPORT_CHUNK = 2000
AUDIT_COLUMNS = ["id", "created_at", "actor_label", "actor_kind", "action", "target_type",
                 "target_id", "ip", "before", "after"]  # fmt: skip


def _events(request: HttpRequest, form: AuditFilterForm) -> QuerySet[AuditEvent]:
    data = form.cleaned_data
    return audit_event_search(
        tenant=request.console.tenant,  # type: ignore[attr-defined]
        actor_label=data.get("actor") or None,
        action=data.get("action") or None,
        since=day_start(data.get("since")),
        until=day_start(data.get("until"), days=1),
    )


@console_view()
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    context: dict[str, Any] = {"form": form, "events": [], "has_more": False}
    if not form.is_valid():
        return render(request, "console/audit/log.html", context, status=400)
    after = form.cleaned_data.get("after")
    events, has_more = pk_page(_events(request, form), cursor_field="pk", after=after,
                               limit=PAGE_SIZE)  # fmt: skip
    context |= {
        "events": events,
        "has_more": has_more,
        "is_first_page": after is None,
        "filters": query_without(request.GET, "after"),
        "next_query": query_without(request.GET, after=str(events[-1].pk)) if has_more else "",
    }
    return render(request, "console/audit/log.html", context)


# console_view types its views as returning HttpResponse; a download streams.
@console_view()  # type: ignore[arg-type]
def audit_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    console = request.console  # type: ignore[attr-defined]
    form, export = AuditFilterForm(request.GET), ExportForm(request.GET)
    if not form.is_valid() or not export.is_valid():
        return HttpResponse("Bad filters or export format.", status=400, content_type="text/plain")
    fmt = export.export_format()
    filters = {k: str(v) for k, v in form.cleaned_data.items() if v and k != "after"}
    # Recorded first, so that the export shows its own line too.
    audit_event_record(
        tenant=console.tenant, actor=console.actor, action="audit.export",
        target=console.tenant, after={"filters": filters, "format": fmt},
    )  # fmt: skip
    rows = _events(request, form).order_by("id").values_list(*AUDIT_COLUMNS)
    records = (dict(zip(AUDIT_COLUMNS, row, strict=True))
               for row in rows.iterator(chunk_size=EXPORT_CHUNK))  # fmt: skip
    return export_response(
        records,
        columns=AUDIT_COLUMNS,
        fmt=fmt,
        name="audit-log",
    )
