"""The thread browser: the filtered list, one thread's transcript, export and deletion.

Every transcript shown and every export is recorded in the audit trail ("thread.view",
"thread.export", "threads.export"), with the filters used, before the page is answered.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from console.access import console_get_or_404, console_view
from console.views.threads_forms import ExportForm, ThreadFilterForm, query_without
from console.views.threads_transcript import transcript_entries
from hosted_agents.selectors import agent_list, run_tokens_of_items
from hosted_agents.selectors_tool_calls import tool_call_list_for_thread
from management_api.exports import export_response
from tenants.admin_transcript import item_text
from tenants.models import Membership, Thread
from tenants.selectors_threads import (
    THREAD_COLUMNS,
    feedback_search,
    thread_browse_page,
    thread_export_rows,
    thread_item_export_rows,
    thread_item_page,
)
from tenants.services import thread_delete as thread_delete_service
from tenants.services.audit import audit_event_record

PAGE_SIZE = 25
ITEMS_PAGE_SIZE = 100
ITEM_EXPORT_COLUMNS = ["thread_id", "id", "type", "created_at", "agent_version", "model",
                       "text", "data"]  # fmt: skip


def _filter_form(request: HttpRequest) -> ThreadFilterForm:
    agents = list(agent_list(tenant=request.console.tenant))  # type: ignore[attr-defined]
    form = ThreadFilterForm(request.GET, agents=agents)
    form.is_valid()
    return form


@console_view()
def thread_list(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    context: dict[str, Any] = {"form": form, "threads": [], "has_more": False}
    if form.errors:
        return render(request, "console/threads/list.html", context, status=400)
    rows, has_more = thread_browse_page(
        tenant=request.console.tenant,  # type: ignore[attr-defined]
        where=form.where(),
        after=form.cleaned_data.get("after") or None,
        limit=PAGE_SIZE,
    )
    filters = query_without(request.GET, "after")
    context |= {
        "threads": rows,
        "has_more": has_more,
        "is_first_page": not form.cleaned_data.get("after"),
        "filters": filters,
        "next_query": query_without(request.GET, after=rows[-1]["public_id"]) if has_more else "",
    }
    # htmx asks for the results only when a filter changes (the page works without it).
    is_partial = request.headers.get("HX-Request") == "true"
    template = "console/threads/_results.html" if is_partial else "console/threads/list.html"
    return render(request, template, context)


@console_view()
def thread_detail(request: HttpRequest, thread: str) -> HttpResponse:
    console = request.console  # type: ignore[attr-defined]
    found = console_get_or_404(Thread, request, public_id=thread)
    after = request.GET.get("after") or None
    if after is not None and len(after) > 200:
        after = None
    items, has_more = thread_item_page(
        tenant=console.tenant, thread=found, after=after, limit=ITEMS_PAGE_SIZE
    )
    calls = list(tool_call_list_for_thread(tenant=console.tenant, thread_id=found.public_id))
    feedback = list(feedback_search(tenant=console.tenant, thread_id=found.public_id))
    audit_event_record(
        tenant=console.tenant, actor=console.actor, action="thread.view", target=found,
        after={"id": found.public_id, "page_after": after},
    )  # fmt: skip
    on_items: dict[str, list[str]] = {}
    for given in feedback:
        for item_id in given.item_ids or []:
            on_items.setdefault(str(item_id), []).append(given.kind)
    answered = {(i["agent_version"], i["model"]) for i in items if i["agent_version"] is not None}
    # Tokens per answer, from the run traces the platform keeps (hosted_agents/tracing.py).
    answers = [i["public_id"] for i in items if i["type"] == "assistant_message"]
    tokens = run_tokens_of_items(tenant=console.tenant, thread_pk=found.pk, item_ids=answers)
    entries = transcript_entries(items, calls, has_more=has_more, feedback=on_items)
    for entry in entries:
        entry.tokens = tokens.get(entry.id)
    context = {
        "thread": found,
        "entries": entries,
        "tokens_in": sum(pair[0] for pair in tokens.values()),
        "tokens_out": sum(pair[1] for pair in tokens.values()),
        "has_more": has_more,
        "next_after": items[-1]["public_id"] if has_more else "",
        "is_first_page": after is None,
        "calls": calls,
        "feedback": feedback,
        "answered_by": sorted(answered, key=lambda pair: pair[0] or 0),
        "live_url": f"/t/{console.tenant.slug}/live/threads/{found.public_id}",
    }
    return render(request, "console/threads/detail.html", context)


# console_view types its views as returning HttpResponse; a download streams.
@console_view()  # type: ignore[arg-type]
def thread_export(request: HttpRequest, thread: str) -> HttpResponse | StreamingHttpResponse:
    console = request.console  # type: ignore[attr-defined]
    found = console_get_or_404(Thread, request, public_id=thread)
    form = ExportForm(request.GET)
    if not form.is_valid():
        return HttpResponse("Unknown export format.", status=400, content_type="text/plain")
    fmt = form.export_format()
    audit_event_record(
        tenant=console.tenant, actor=console.actor, action="thread.export", target=found,
        after={"id": found.public_id, "format": fmt},
    )  # fmt: skip
    rows = (_item_row(found.public_id, row) for row in thread_item_export_rows(
        tenant=console.tenant, thread=found))  # fmt: skip
    return export_response(
        rows, columns=ITEM_EXPORT_COLUMNS, fmt=fmt,
        name=f"thread-{found.public_id}",
    )  # fmt: skip


def _item_row(thread_id: str, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "thread_id": thread_id, "id": row["public_id"], "type": row["type"],
        "created_at": row["created_at"], "agent_version": row["agent_version"],
        "model": row["model"], "text": item_text(row["type"], row["data"]), "data": row["data"],
    }  # fmt: skip


@console_view()  # type: ignore[arg-type]
def threads_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    console = request.console  # type: ignore[attr-defined]
    form, export = _filter_form(request), ExportForm(request.GET)
    if form.errors or not export.is_valid():
        return HttpResponse("Bad filters or export format.", status=400, content_type="text/plain")
    fmt = export.export_format()
    filters = {k: v for k, v in form.cleaned_data.items() if v not in (None, "") and k != "after"}
    if "agent" in filters:
        filters["agent"] = filters["agent"].slug
    audit_event_record(
        tenant=console.tenant, actor=console.actor, action="threads.export",
        target=console.tenant, after={"filters": _plain(filters), "format": fmt},
    )  # fmt: skip
    rows = thread_export_rows(tenant=console.tenant, where=form.where())
    return export_response(
        rows,
        columns=list(THREAD_COLUMNS),
        fmt=fmt,
        name="threads",
    )


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value if isinstance(value, int | str) else str(value) for key, value in values.items()
    }


@console_view(Membership.Role.ADMIN)
def thread_delete(request: HttpRequest, thread: str) -> HttpResponse:
    """Ask first (GET); delete on the confirmation's POST, through the audited service."""
    console = request.console  # type: ignore[attr-defined]
    found = console_get_or_404(Thread, request, public_id=thread)
    if request.method != "POST":
        return render(request, "console/threads/delete.html", {"thread": found})
    thread_delete_service(tenant=console.tenant, thread_id=found.public_id, actor=console.actor)
    messages.success(request, f"Thread {found.public_id} was deleted.")
    return redirect(reverse("console:threads", kwargs={"tenant": console.tenant.slug}))
