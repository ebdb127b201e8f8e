"""Provider credentials: add, replace (the key is write-only), test the connection."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from console.access import ConsoleRequest, console_get_or_404, console_view
from console.forms.account import ProviderCredentialForm, form_add_domain_error
from hosted_agents.services.connection import provider_credential_test
from tenants.exceptions import AlreadyExists, InvalidInput
from tenants.models import Membership, ProviderCredential
from tenants.selectors import provider_credential_list
from tenants.services import provider_credential_create, provider_credential_update

ADMIN = Membership.Role.ADMIN


@console_view()
def provider_list(request: ConsoleRequest) -> HttpResponse:
    credentials = list(provider_credential_list(tenant=request.console.tenant))
    return render(request, "console/providers/list.html", {"credentials": credentials})


def _save(request: ConsoleRequest, form: ProviderCredentialForm, pk: int | None) -> bool:
    """Create or update from a valid form; put a service's refusal on the form."""
    data, console = form.cleaned_data, request.console
    try:
        if pk is None:
            provider_credential_create(
                tenant=console.tenant, name=data["name"], kind=data["kind"],
                secret=data["secret"], base_url=data["base_url"], api=data["api"],
                actor=console.actor,
            )  # fmt: skip
        else:
            changes = {key: data[key] for key in ("name", "base_url", "api", "secret")}
            provider_credential_update(
                tenant=console.tenant, credential_id=pk, changes=changes, actor=console.actor
            )
    except InvalidInput as error:
        form_add_domain_error(form, error)
        return False
    except AlreadyExists:
        form.add_error("name", "Another credential has this name.")
        return False
    return True


@console_view(ADMIN)
def provider_create(request: ConsoleRequest) -> HttpResponse:
    form = ProviderCredentialForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _save(request, form, None):
        messages.success(request, f"Credential “{form.cleaned_data['name']}” added. Test it below.")
        return redirect("console:providers", tenant=request.console.tenant.slug)
    status = 400 if form.is_bound else 200
    return render(request, "console/providers/form.html", {"form": form}, status=status)


@console_view(ADMIN)
def provider_edit(request: ConsoleRequest, credential: int) -> HttpResponse:
    row = console_get_or_404(ProviderCredential, request, pk=credential)
    initial = {"name": row.name, "kind": row.kind, "base_url": row.base_url, "api": row.api}
    form = ProviderCredentialForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid() and _save(request, form, row.pk):
        messages.success(request, f"Credential “{form.cleaned_data['name']}” saved.")
        return redirect("console:providers", tenant=request.console.tenant.slug)
    status = 400 if form.is_bound else 200
    context = {"form": form, "credential": row}
    return render(request, "console/providers/form.html", context, status=status)


@console_view(ADMIN)
def provider_test(request: ConsoleRequest, credential: int) -> HttpResponse:
    """GET: the test page; POST: list the provider's models with the stored key.

    From htmx, POST answers only the result panel, swapped in beside the button.
    """
    row = console_get_or_404(ProviderCredential, request, pk=credential)
    check = None
    if request.method == "POST":
        check = provider_credential_test(tenant=request.console.tenant, credential_id=row.pk)
        if request.htmx:
            return render(request, "console/providers/test_result.html", {"check": check})
    return render(request, "console/providers/test.html", {"credential": row, "check": check})
