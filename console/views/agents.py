"""The agents section: the list, an agent's page, its draft, publishing, versions, duplicates.

Every view parses, calls one hosted_agents service or selector, and shapes the page. A
service's refusal is shown on the form (or as a message) and nothing is written: each
service runs in one transaction.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from console.access import console_view
from console.forms_agents import AgentForm, DuplicateForm, PublishForm, add_domain_error
from console.forms_capabilities import CapabilitiesForm
from console.views.agents_capabilities import draft_capabilities, frozen_capabilities
from console.views.agents_diff import config_field_diffs
from hosted_agents.capabilities.freeze import CAPABILITY_FIELDS, provider_check
from hosted_agents.capabilities.selectors import agent_capabilities_get, mcp_server_list
from hosted_agents.capabilities.services import agent_capabilities_set
from hosted_agents.instructions import instructions_placeholders
from hosted_agents.models import (
    DEFAULT_MODEL,
    KNOWN_MODELS,
    Agent,
    AgentCapabilities,
    AgentVersion,
)
from hosted_agents.selectors_agents import AgentStatus, agent_status_get, agent_status_list
from hosted_agents.services import agent_create, agent_publish, agent_rollback, agent_update
from hosted_agents.services.agents import ToolRows, agent_draft_config
from hosted_agents.services.connection import provider_credential_test
from hosted_agents.services.definitions import agent_duplicate
from tenants.exceptions import DomainError, InvalidInput

VERSIONS_SHOWN = 50


def agent_or_404(request: HttpRequest, slug: str) -> Agent:
    """Return the tenant's agent `slug` with its published version, or 404."""
    agent = (
        Agent.objects.for_tenant(request.console.tenant)  # type: ignore[attr-defined]
        .select_related("published_version")
        .filter(slug=slug)
        .first()
    )
    if agent is None:
        raise Http404("No such page.")
    return agent


def _version(request: HttpRequest, agent: Agent, number: int) -> AgentVersion:
    version = (
        AgentVersion.objects.for_tenant(request.console.tenant)  # type: ignore[attr-defined]
        .filter(agent_id=agent.pk, number=number)
        .first()
    )
    if version is None:
        raise Http404("No such page.")
    return version


@console_view()
def agent_list(request: HttpRequest) -> HttpResponse:
    statuses = agent_status_list(tenant=request.console.tenant)  # type: ignore[attr-defined]
    return render(request, "console/agents/list.html", {"statuses": statuses})


def _form_page(
    request: HttpRequest,
    form: AgentForm,
    agent: Agent | None,
    capabilities: CapabilitiesForm | None = None,
    status: int = 200,
) -> HttpResponse:
    instructions = form["instructions"].value() or ""
    context = {
        "form": form,
        "agent": agent,
        "placeholders": instructions_placeholders(instructions),
        "capabilities": capabilities,
        "hosted_refusal": _hosted_refusal(agent) if agent is not None else None,
    }
    return render(request, "console/agents/form.html", context, status=status)


def _hosted_refusal(agent: Agent) -> str | None:
    """Why the draft's provider cannot run OpenAI's hosted tools, or None if it can."""
    try:
        provider_check(agent, {"hosted_tools": [{"type": "web_search"}]})
    except InvalidInput as refused:
        # "web_search: OpenAI's hosted tools need ...": the reason, without the tool's name.
        return refused.message.split(": ", 1)[-1]
    return None


def _capabilities_form(
    request: HttpRequest, agent: Agent, row: AgentCapabilities | None
) -> CapabilitiesForm:
    tenant = request.console.tenant  # type: ignore[attr-defined]
    return CapabilitiesForm(
        request.POST if request.method == "POST" else None,
        agent=agent,
        servers=list(mcp_server_list(tenant=tenant)),
        agents=list(Agent.objects.for_tenant(tenant).order_by("name")),
        row=row,
    )


@console_view("admin")
def agent_new(request: HttpRequest) -> HttpResponse:
    console = request.console  # type: ignore[attr-defined]
    if request.method != "POST":
        form = AgentForm(tenant=console.tenant, creating=True, initial={"model": DEFAULT_MODEL})
        return _form_page(request, form, None)
    form = AgentForm(request.POST, tenant=console.tenant, creating=True)
    if form.is_valid():
        draft = form.draft()
        try:
            agent = agent_create(
                tenant=console.tenant, slug=form.cleaned_data["slug"], actor=console.actor, **draft
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(
                request, f"Created {agent.name}. Publish it to serve it at its endpoint."
            )
            return redirect("console:agent", tenant=console.tenant.slug, agent=agent.slug)
    return _form_page(request, form, None, status=400)


@console_view("admin")
def agent_edit(request: HttpRequest, agent: str) -> HttpResponse:
    """The draft and its capabilities, saved together through their two services."""
    console = request.console  # type: ignore[attr-defined]
    row = agent_or_404(request, agent)
    stored = agent_capabilities_get(tenant=console.tenant, agent_id=row.pk)
    capabilities = _capabilities_form(request, row, stored)
    if request.method != "POST":
        form = AgentForm(tenant=console.tenant, creating=False, initial=AgentForm.initial_of(row))
        return _form_page(request, form, row, capabilities)
    form = AgentForm(request.POST, tenant=console.tenant, creating=False)
    if form.is_valid() and capabilities.is_valid():
        changes = {key: value for key, value in form.draft().items() if getattr(row, key) != value}
        capability_changes = capabilities.changes(stored)
        try:
            # One transaction: a refusal of the second service leaves nothing of the first.
            with transaction.atomic():
                if changes:
                    agent_update(
                        tenant=console.tenant, agent_id=row.pk, changes=changes,
                        actor=console.actor,
                    )  # fmt: skip
                if capability_changes:
                    agent_capabilities_set(
                        tenant=console.tenant, agent_id=row.pk, changes=capability_changes,
                        actor=console.actor,
                    )  # fmt: skip
        except InvalidInput as error:
            if error.field in CAPABILITY_FIELDS:
                capabilities.add_domain_error(error)
            else:
                add_domain_error(form, error)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            saved = changes or capability_changes
            text = "Draft saved. Publish to serve it." if saved else "Nothing changed."
            messages.success(request, text)
            return redirect("console:agent", tenant=console.tenant.slug, agent=row.slug)
    return _form_page(request, form, row, capabilities, status=400)


def _pending(request: HttpRequest, status: AgentStatus) -> list[Any]:
    if not status.draft_valid:
        return []
    rows = ToolRows.of_tenant(request.console.tenant)  # type: ignore[attr-defined]
    before = status.published.config if status.published is not None else None
    return config_field_diffs(before, agent_draft_config(status.agent, rows))


@console_view()
def agent_detail(request: HttpRequest, agent: str) -> HttpResponse:
    tenant = request.console.tenant  # type: ignore[attr-defined]
    row = agent_or_404(request, agent)
    status = agent_status_get(tenant=tenant, agent=row)
    versions = list(
        AgentVersion.objects.for_tenant(tenant)
        .filter(agent_id=row.pk)
        .select_related("created_by")
        .defer("config")  # a whole frozen agent each: the table needs none of it
        .order_by("-number")[:VERSIONS_SHOWN]
    )
    stored = agent_capabilities_get(tenant=tenant, agent_id=row.pk)
    context = {
        "status": status,
        "agent": row,
        "capabilities": draft_capabilities(tenant, stored),
        "versions": versions,
        "placeholders": instructions_placeholders(row.instructions),
        "publish_form": PublishForm(),
    }
    return render(request, "console/agents/detail.html", context)


@console_view("admin")
def agent_publish_view(request: HttpRequest, agent: str) -> HttpResponse:
    """GET: what a publish would change; POST: publish with a note."""
    console = request.console  # type: ignore[attr-defined]
    row = agent_or_404(request, agent)
    form = PublishForm(request.POST if request.method == "POST" else None)
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            version = agent_publish(
                tenant=console.tenant,
                agent_id=row.pk,
                actor=console.actor,
                note=form.cleaned_data["note"],
            )
        except InvalidInput as refused:
            error = f"Cannot publish: {refused.field.replace('_', ' ')}: {refused.message}"
        else:
            messages.success(
                request, f"Published version {version.number}: the endpoint serves it now."
            )
            return redirect("console:agent", tenant=console.tenant.slug, agent=row.slug)
    status = agent_status_get(tenant=console.tenant, agent=row)
    if not status.draft_valid and error is None:
        error = "The draft names a tool or credential that is gone: edit the draft first."
    context = {
        "agent": row,
        "status": status,
        "form": form,
        "error": error,
        "changes": _pending(request, status),
    }
    return render(
        request,
        "console/agents/publish.html",
        context,
        status=400 if request.method == "POST" else 200,
    )


@console_view()
def agent_version(request: HttpRequest, agent: str, version: int) -> HttpResponse:
    row = agent_or_404(request, agent)
    shown = _version(request, row, version)
    previous = None
    if shown.number > 1:
        previous = shown.number - 1
    context = {
        "agent": row,
        "version": shown,
        "config": shown.config,
        "capabilities": frozen_capabilities(shown.config),
        "previous": previous,
        "serving": row.published_version_id == shown.pk,
        "changes": config_field_diffs(_config_of(request, row, previous), shown.config),
    }
    return render(request, "console/agents/version.html", context)


def _config_of(request: HttpRequest, agent: Agent, side: int | str | None) -> dict[str, Any] | None:
    if side is None:
        return None
    if side == "draft":
        return agent_draft_config(agent)
    return dict(_version(request, agent, int(side)).config)


def _side(value: str | None) -> int | str | None:
    if value == "draft":
        return value
    if value is None or not value.isdigit() or not 0 < int(value) < 2**31:
        return None
    return int(value)


@console_view()
def agent_diff(request: HttpRequest, agent: str) -> HttpResponse:
    """Compare any two versions (`?from=2&to=5`), or a version with the draft (`to=draft`)."""
    row = agent_or_404(request, agent)
    first, second = _side(request.GET.get("from")), _side(request.GET.get("to"))
    numbers = list(
        AgentVersion.objects.for_tenant(request.console.tenant)  # type: ignore[attr-defined]
        .filter(agent_id=row.pk)
        .order_by("-number")
        .values_list("number", flat=True)
    )
    context: dict[str, Any] = {
        "agent": row,
        "numbers": numbers,
        "first": first,
        "second": second,
        "changes": None,
    }
    if first is None or second is None:
        given = "from" in request.GET or "to" in request.GET
        context["error"] = "Pick two versions to compare." if given else None
        return render(request, "console/agents/diff.html", context, status=400 if given else 200)
    try:
        before = _config_of(request, row, first)
        after = _config_of(request, row, second)
    except InvalidInput as error:
        context["error"] = f"The draft names something that is gone: {error.message}"
        return render(request, "console/agents/diff.html", context, status=400)
    context["changes"] = config_field_diffs(before, after or {})
    return render(request, "console/agents/diff.html", context)


@console_view("admin")
@require_POST
def agent_rollback_view(request: HttpRequest, agent: str, version: int) -> HttpResponse:
    console = request.console  # type: ignore[attr-defined]
    row = agent_or_404(request, agent)
    _version(request, row, version)  # 404 for a version that does not exist
    try:
        copy = agent_rollback(
            tenant=console.tenant, agent_id=row.pk, number=version, actor=console.actor
        )
    except InvalidInput as error:
        messages.error(request, f"Cannot roll back: {error.message}")
    else:
        messages.success(
            request,
            f"Rolled back: version {copy.number} is a copy of version {version} and serves now.",
        )
    return redirect("console:agent", tenant=console.tenant.slug, agent=row.slug)


@console_view("admin")
def agent_duplicate_view(request: HttpRequest, agent: str) -> HttpResponse:
    console = request.console  # type: ignore[attr-defined]
    row = agent_or_404(request, agent)
    if request.method != "POST":
        form = DuplicateForm(
            initial={"slug": f"{row.slug}-copy"[:100], "name": f"{row.name} (copy)"[:200]}
        )
        return render(request, "console/agents/duplicate.html", {"agent": row, "form": form})
    form = DuplicateForm(request.POST)
    if form.is_valid():
        try:
            copy = agent_duplicate(
                tenant=console.tenant, agent_id=row.pk, slug=form.cleaned_data["slug"],
                name=form.cleaned_data["name"], actor=console.actor,
            )  # fmt: skip
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(
                request, f"Created {copy.name}, a copy of the draft of {row.name} (not published)."
            )
            return redirect("console:agent", tenant=console.tenant.slug, agent=copy.slug)
    return render(
        request, "console/agents/duplicate.html", {"agent": row, "form": form}, status=400
    )


@console_view("admin")
def agent_models(request: HttpRequest) -> HttpResponse:
    """The model suggestions of the agent editor, from the chosen provider's own list.

    htmx asks for it (the editor's "Load the provider's models"); it answers the datalist
    and a line saying where the names came from. Without a credential, or when the
    provider cannot be reached, the known models stay.
    """
    console = request.console  # type: ignore[attr-defined]
    raw = request.GET.get("provider_credential") or ""
    names: list[tuple[str, str]] = list(KNOWN_MODELS)
    if not raw:
        status = "No provider credential chosen: the platform's provider serves the agent."
    elif not raw.isdigit():
        status = "No such provider credential."
    else:
        try:
            check = provider_credential_test(tenant=console.tenant, credential_id=int(raw))
        except DomainError:
            status = "No such provider credential."
        else:
            if check.ok and check.models:
                names = [(name, name) for name in check.models]
                status = f"{len(names)} models listed by the provider."
            else:
                status = f"The provider did not list its models: {check.message}."
    return render(
        request, "console/agents/_models.html", {"known_models": names, "models_status": status}
    )
