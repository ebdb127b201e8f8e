"""Endpoints: each agent's ChatKit URL and workflow id, allowed origins, and snippets."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from console.access import ConsoleRequest, console_get_or_404, console_view
from console.forms.account import OriginsForm, form_add_domain_error
from hosted_agents.models import Agent
from hosted_agents.selectors import agent_list
from hosted_agents.services import agent_set_allowed_origins
from tenants.exceptions import InvalidInput
from tenants.models import Membership
from tenants.services import tenant_update

ADMIN = Membership.Role.ADMIN


def _endpoint_url(request: ConsoleRequest, agent: Agent) -> str:
    return request.build_absolute_uri(
        f"/t/{request.console.tenant.slug}/agents/{agent.slug}/chatkit"
    )


@console_view()
def endpoint_list(request: ConsoleRequest) -> HttpResponse:
    tenant = request.console.tenant
    agents = list(agent_list(tenant=tenant).select_related("published_version"))
    chosen = next((a for a in agents if a.slug == request.GET.get("agent")), None)
    chosen = chosen or (agents[0] if agents else None)
    context: dict[str, Any] = {
        "agents": [(agent, _endpoint_url(request, agent)) for agent in agents],
        "chosen": chosen,
        "chosen_url": _endpoint_url(request, chosen) if chosen else "",
        "platform_v1": request.build_absolute_uri("/v1"),
        "tenant_form": OriginsForm(initial={"origins": "\n".join(tenant.allowed_origins)}),
    }
    return render(request, "console/endpoints/list.html", context)


def _origins_page(request: ConsoleRequest, form: OriginsForm, agent: Agent | None) -> HttpResponse:
    context = {"form": form, "agent": agent, "tenant": request.console.tenant}
    status = 400 if form.is_bound else 200
    return render(request, "console/endpoints/origins.html", context, status=status)


@console_view(ADMIN)
def tenant_origins(request: ConsoleRequest) -> HttpResponse:
    """The tenant's allowed origins: every agent without a list of its own uses them."""
    tenant = request.console.tenant
    form = OriginsForm(request.POST or None, initial={"origins": "\n".join(tenant.allowed_origins)})
    if request.method == "POST" and form.is_valid():
        try:
            tenant_update(
                tenant=tenant, changes={"allowed_origins": form.cleaned_data["origins"]},
                actor=request.console.actor,
            )  # fmt: skip
        except InvalidInput as error:
            form_add_domain_error(form, error)
        else:
            messages.success(request, "The tenant's allowed origins are saved; they apply now.")
            return redirect("console:endpoints", tenant=tenant.slug)
    return _origins_page(request, form, None)


@console_view(ADMIN)
def agent_origins(request: ConsoleRequest, agent: str) -> HttpResponse:
    """One agent's own allowed origins (empty: the tenant's apply)."""
    row = console_get_or_404(Agent, request, slug=agent)
    form = OriginsForm(request.POST or None, initial={"origins": "\n".join(row.allowed_origins)})
    if request.method == "POST" and form.is_valid():
        try:
            agent_set_allowed_origins(
                tenant=request.console.tenant, agent_id=row.pk,
                origins=form.cleaned_data["origins"], actor=request.console.actor,
            )  # fmt: skip
        except InvalidInput as error:
            form_add_domain_error(form, error)
        else:
            messages.success(request, f"Allowed origins of “{row.name}” saved; they apply now.")
            url = reverse("console:endpoints", kwargs={"tenant": request.console.tenant.slug})
            return redirect(f"{url}?agent={row.slug}")
    return _origins_page(request, form, row)
