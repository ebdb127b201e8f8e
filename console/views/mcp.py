"""The MCP servers section: the tenant's remote MCP servers, their cached tool lists.

Saving a server (new, or edited) fetches its tool list at once, since agents pick tools
from that list; a fetch that fails (a private target the address policy refuses, a server
that does not answer) leaves the saved definition as it is and is shown on the server's
page, where "Refresh tools" tries again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from console.access import ConsoleRequest, console_get_or_404, console_view
from console.forms_agents import add_domain_error
from console.forms_mcp import McpServerForm
from hosted_agents.capabilities.selectors import mcp_server_list
from hosted_agents.capabilities.services import (
    mcp_server_create,
    mcp_server_delete,
    mcp_server_refresh_tools,
    mcp_server_update,
)
from hosted_agents.models import AgentCapabilities, McpServer
from tenants.exceptions import DomainError, InvalidInput


@dataclass(frozen=True)
class ServerUse:
    """An agent whose draft uses a server: the tools it allows, and those that ask first."""

    agent_name: str
    agent_slug: str
    allowed: list[str]
    ask: list[str]


def _uses(request: ConsoleRequest) -> dict[int, list[ServerUse]]:
    """Return, by server id, the agents whose drafts use it (one statement)."""
    rows = (
        AgentCapabilities.objects.for_tenant(request.console.tenant)
        .select_related("agent")
        .only("mcp_servers", "agent__name", "agent__slug")
        .order_by("agent__name")
    )
    uses: dict[int, list[ServerUse]] = {}
    for row in rows:
        for entry in row.mcp_servers:
            use = ServerUse(
                row.agent.name, row.agent.slug, entry["allowed_tools"], entry["approval_tools"]
            )
            uses.setdefault(entry["server_id"], []).append(use)
    return uses


@console_view()
def mcp_server_list_view(request: ConsoleRequest) -> HttpResponse:
    uses = _uses(request)
    rows = [
        {"server": server, "used_by": uses.get(server.pk, [])}
        for server in mcp_server_list(tenant=request.console.tenant)
    ]
    return render(request, "console/mcp/list.html", {"rows": rows})


def _form_page(
    request: ConsoleRequest, form: McpServerForm, server: McpServer | None, status: int = 200
) -> HttpResponse:
    return render(request, "console/mcp/form.html", {"form": form, "server": server}, status=status)


def _saved(request: ConsoleRequest, server: McpServer, what: str) -> HttpResponse:
    """Fetch the saved server's tools, say how it went, and show the server's page."""
    console = request.console
    try:
        fresh = mcp_server_refresh_tools(
            tenant=console.tenant, server_id=server.pk, actor=console.actor
        )
    except InvalidInput as error:
        messages.warning(
            request, f"{what} {server.name}, but its tools could not be listed: {error.message}"
        )
    else:
        messages.success(request, f"{what} {server.name}: {_tools_text(fresh)}.")
    return redirect("console:mcp_server", tenant=console.tenant.slug, mcp_server=server.pk)


def _tools_text(server: McpServer) -> str:
    count = len(server.tools)
    return f"it lists {count} tool{'' if count == 1 else 's'}" if count else "it lists no tools"


@console_view("admin")
def mcp_server_new(request: ConsoleRequest) -> HttpResponse:
    console = request.console
    form = McpServerForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            server = mcp_server_create(tenant=console.tenant, actor=console.actor, **form.values())
        except DomainError as error:
            add_domain_error(form, error)
        else:
            return _saved(request, server, "Added")
    return _form_page(request, form, None, status=400 if request.method == "POST" else 200)


@console_view("admin")
def mcp_server_edit(request: ConsoleRequest, mcp_server: int) -> HttpResponse:
    console = request.console
    server = console_get_or_404(McpServer, request, pk=mcp_server)
    if request.method != "POST":
        return _form_page(request, McpServerForm(initial=McpServerForm.initial_of(server)), server)
    form = McpServerForm(request.POST)
    if form.is_valid():
        try:
            server = mcp_server_update(
                tenant=console.tenant, server_id=server.pk, changes=form.values(),
                actor=console.actor,
            )  # fmt: skip
        except DomainError as error:
            add_domain_error(form, error)
        else:
            return _saved(request, server, "Saved")
    return _form_page(request, form, server, status=400)


def _detail_page(
    request: ConsoleRequest, server: McpServer, failure: str | None = None, status: int = 200
) -> HttpResponse:
    allowed_by: dict[str, list[str]] = {}
    uses = _uses(request).get(server.pk, [])
    for use in uses:
        for name in use.allowed:
            ask = " (asks)" if name in use.ask else ""
            allowed_by.setdefault(name, []).append(use.agent_name + ask)
    tools = [
        {
            "name": tool["name"],
            "description": tool.get("description", ""),
            "schema": json.dumps(tool.get("input_schema", {}), indent=2, sort_keys=True),
            "allowed_by": allowed_by.get(tool["name"], []),
        }
        for tool in server.tools
    ]
    context: dict[str, Any] = {
        "server": server,
        "tools": tools,
        "used_by": uses,
        "failure": failure,
    }
    return render(request, "console/mcp/detail.html", context, status=status)


@console_view()
def mcp_server_detail(request: ConsoleRequest, mcp_server: int) -> HttpResponse:
    return _detail_page(request, console_get_or_404(McpServer, request, pk=mcp_server))


@console_view("admin")
@require_POST
def mcp_server_refresh_view(request: ConsoleRequest, mcp_server: int) -> HttpResponse:
    """Fetch the server's tool list now, through the address policy, and show it."""
    console = request.console
    server = console_get_or_404(McpServer, request, pk=mcp_server)
    try:
        server = mcp_server_refresh_tools(
            tenant=console.tenant, server_id=server.pk, actor=console.actor
        )
    except InvalidInput as error:
        server.refresh_from_db()  # the service kept the reason in `tools_error`
        return _detail_page(request, server, failure=error.message, status=502)
    messages.success(request, f"Refreshed {server.name}: {_tools_text(server)}.")
    return redirect("console:mcp_server", tenant=console.tenant.slug, mcp_server=server.pk)


@console_view("admin")
@require_POST
def mcp_server_delete_view(request: ConsoleRequest, mcp_server: int) -> HttpResponse:
    console = request.console
    server = console_get_or_404(McpServer, request, pk=mcp_server)
    mcp_server_delete(tenant=console.tenant, server_id=server.pk, actor=console.actor)
    messages.success(
        request,
        f"Deleted the MCP server {server.name}; agent drafts no longer use it. Published "
        "versions that use it answer its tools with an error until they are published again.",
    )
    return redirect("console:mcp_servers", tenant=console.tenant.slug)
