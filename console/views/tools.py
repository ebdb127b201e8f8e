"""The tools section: built-in code tools (read-only), HTTP tools with "try it", client tools."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from console.access import console_get_or_404, console_view
from console.forms_agents import ClientToolForm, HttpToolForm, TryToolForm, add_domain_error
from hosted_agents.http_fetch import FetchError, FetchResult
from hosted_agents.models import Agent, ClientTool, HttpTool
from hosted_agents.services import (
    client_tool_create,
    client_tool_delete,
    client_tool_update,
    http_tool_create,
    http_tool_delete,
    http_tool_try,
    http_tool_update,
)
from hosted_agents.tools.registry import all_code_tools
from tenants.exceptions import DomainError, InvalidInput

BODY_SHOWN = 20_000  # characters of a tried response body shown on the page


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def _users(request: HttpRequest) -> dict[tuple[str, int], list[str]]:
    """Return the names of the agents whose drafts select each tool, by (kind, id)."""
    used: dict[tuple[str, int], list[str]] = {}
    agents = Agent.objects.for_tenant(request.console.tenant).order_by("name")  # type: ignore[attr-defined]
    for agent in agents.only("name", "http_tools", "client_tools"):
        for tool_id in agent.http_tools:
            used.setdefault(("http", tool_id), []).append(agent.name)
        for tool_id in agent.client_tools:
            used.setdefault(("client", tool_id), []).append(agent.name)
    return used


@console_view()
def tool_list(request: HttpRequest) -> HttpResponse:
    tenant = request.console.tenant  # type: ignore[attr-defined]
    used = _users(request)
    code = [{"tool": tool, "schema": _pretty(tool.params_schema)} for tool in all_code_tools()]
    http = [
        {"tool": tool, "used_by": used.get(("http", tool.pk), [])}
        for tool in HttpTool.objects.for_tenant(tenant).order_by("name")
    ]
    client = [
        {
            "tool": tool,
            "used_by": used.get(("client", tool.pk), []),
            "schema": _pretty(tool.args_schema),
        }
        for tool in ClientTool.objects.for_tenant(tenant).order_by("name")
    ]
    return render(
        request, "console/tools/list.html", {"code": code, "http": http, "client": client}
    )


def _tool_initial(tool: HttpTool | ClientTool) -> dict[str, Any]:
    initial: dict[str, Any] = {
        "name": tool.name,
        "description": tool.description,
        "args_schema": _pretty(tool.args_schema),
    }
    if isinstance(tool, HttpTool):
        initial |= {
            "method": tool.method,
            "url_template": tool.url_template,
            "time_limit_seconds": tool.time_limit_seconds,
            "max_response_bytes": tool.max_response_bytes,
        }
    return initial


def _edit_page(
    request: HttpRequest, kind: str, form: Any, tool: Any, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "console/tools/form.html",
        {"kind": kind, "form": form, "tool": tool},
        status=status,
    )


# --------------------------------------------------------------------------- HTTP tools


@console_view("admin")
def http_tool_new(request: HttpRequest) -> HttpResponse:
    console = request.console  # type: ignore[attr-defined]
    form = HttpToolForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            tool = http_tool_create(tenant=console.tenant, actor=console.actor, **form.values())
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"Created the HTTP tool {tool.name}. Try it below.")
            return redirect("console:http_tool", tenant=console.tenant.slug, tool=tool.pk)
    return _edit_page(request, "http", form, None, status=400 if request.method == "POST" else 200)


@console_view()
def http_tool_detail(request: HttpRequest, tool: int) -> HttpResponse:
    row = console_get_or_404(HttpTool, request, pk=tool)
    return _http_page(request, row, TryToolForm(initial={"arguments": _example_arguments(row)}))


def _example_arguments(tool: HttpTool) -> str:
    properties = tool.args_schema.get("properties", {})
    return _pretty({name: "" for name in properties}) if properties else "{}"


def _http_page(
    request: HttpRequest,
    tool: HttpTool,
    form: TryToolForm,
    result: FetchResult | None = None,
    failure: str | None = None,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "tool": tool,
        "schema": _pretty(tool.args_schema),
        "try_form": form,
        "result": result,
        "failure": failure,
    }
    if result is not None:
        body = _pretty(result.body_json) if result.body_json is not None else result.body_text
        context["body"] = body[:BODY_SHOWN]
        context["body_cut"] = len(body) > BODY_SHOWN
    return render(request, "console/tools/http_detail.html", context, status=status)


@console_view("admin")
def http_tool_edit(request: HttpRequest, tool: int) -> HttpResponse:
    console = request.console  # type: ignore[attr-defined]
    row = console_get_or_404(HttpTool, request, pk=tool)
    if request.method != "POST":
        return _edit_page(request, "http", HttpToolForm(initial=_tool_initial(row)), row)
    form = HttpToolForm(request.POST)
    if form.is_valid():
        try:
            http_tool_update(
                tenant=console.tenant, tool_id=row.pk, changes=form.values(), actor=console.actor
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, "Saved. Agents get the change at their next publish.")
            return redirect("console:http_tool", tenant=console.tenant.slug, tool=row.pk)
    return _edit_page(request, "http", form, row, status=400)


@console_view("admin")
@require_POST
def http_tool_try_view(request: HttpRequest, tool: int) -> HttpResponse:
    """Call the saved tool for real, through the platform's address policy, and show the answer."""
    console = request.console  # type: ignore[attr-defined]
    row = console_get_or_404(HttpTool, request, pk=tool)
    form = TryToolForm(request.POST)
    if not form.is_valid():
        return _http_page(request, row, form, status=400)
    try:
        result = http_tool_try(
            tenant=console.tenant,
            tool_id=row.pk,
            arguments=form.cleaned_data["arguments"],
            actor=console.actor,
        )
    except InvalidInput as error:
        form.add_error("arguments", error.message)
        return _http_page(request, row, form, status=400)
    except FetchError as error:
        return _http_page(request, row, form, failure=f"{error.reason}: {error}", status=502)
    return _http_page(request, row, form, result=result)


@console_view("admin")
@require_POST
def http_tool_delete_view(request: HttpRequest, tool: int) -> HttpResponse:
    console = request.console  # type: ignore[attr-defined]
    row = console_get_or_404(HttpTool, request, pk=tool)
    http_tool_delete(tenant=console.tenant, tool_id=row.pk, actor=console.actor)
    messages.success(
        request, f"Deleted the HTTP tool {row.name}; agent drafts no longer select it."
    )
    return redirect("console:tools", tenant=console.tenant.slug)


# --------------------------------------------------------------------------- client tools


@console_view("admin")
def client_tool_new(request: HttpRequest) -> HttpResponse:
    console = request.console  # type: ignore[attr-defined]
    form = ClientToolForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            tool = client_tool_create(tenant=console.tenant, actor=console.actor, **form.values())
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"Created the client tool {tool.name}.")
            return redirect("console:tools", tenant=console.tenant.slug)
    return _edit_page(
        request, "client", form, None, status=400 if request.method == "POST" else 200
    )


@console_view("admin")
def client_tool_edit(request: HttpRequest, tool: int) -> HttpResponse:
    console = request.console  # type: ignore[attr-defined]
    row = console_get_or_404(ClientTool, request, pk=tool)
    if request.method != "POST":
        return _edit_page(request, "client", ClientToolForm(initial=_tool_initial(row)), row)
    form = ClientToolForm(request.POST)
    if form.is_valid():
        try:
            client_tool_update(
                tenant=console.tenant, tool_id=row.pk, changes=form.values(), actor=console.actor
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, "Saved. Agents get the change at their next publish.")
            return redirect("console:tools", tenant=console.tenant.slug)
    return _edit_page(request, "client", form, row, status=400)


@console_view("admin")
@require_POST
def client_tool_delete_view(request: HttpRequest, tool: int) -> HttpResponse:
    console = request.console  # type: ignore[attr-defined]
    row = console_get_or_404(ClientTool, request, pk=tool)
    client_tool_delete(tenant=console.tenant, tool_id=row.pk, actor=console.actor)
    messages.success(
        request, f"Deleted the client tool {row.name}; agent drafts no longer select it."
    )
    return redirect("console:tools", tenant=console.tenant.slug)
