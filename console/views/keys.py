"""API keys: list, create (the secret shown once), revoke after a confirmation."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from console.access import ConsoleRequest, console_get_or_404, console_view
from console.forms.account import ApiKeyForm, form_add_domain_error
from tenants.exceptions import InvalidInput
from tenants.models import ApiKey, Membership
from tenants.selectors import api_key_list
from tenants.services import api_key_create, api_key_revoke

ADMIN = Membership.Role.ADMIN


@console_view()
def key_list(request: ConsoleRequest) -> HttpResponse:
    keys = list(api_key_list(tenant=request.console.tenant).select_related("created_by"))
    return render(request, "console/keys/list.html", {"keys": keys, "now": timezone.now()})


@never_cache
@console_view(ADMIN)
def key_create(request: ConsoleRequest) -> HttpResponse:
    """On success, answer the page that shows the new key: the only time it is readable."""
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = api_key_create(
                tenant=request.console.tenant,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=form.expires_at(),
                actor=request.console.actor,
            )
        except InvalidInput as error:
            form_add_domain_error(form, error)
        else:
            return render(request, "console/keys/created.html", {"issued": issued}, status=201)
    status = 400 if form.is_bound else 200
    return render(request, "console/keys/form.html", {"form": form}, status=status)


@console_view(ADMIN)
def key_revoke(request: ConsoleRequest, key: int) -> HttpResponse:
    api_key = console_get_or_404(ApiKey, request, pk=key)
    if request.method == "POST":
        api_key_revoke(
            tenant=request.console.tenant, key_id=api_key.pk, actor=request.console.actor
        )
        messages.success(request, f"The key “{api_key.name}” is revoked; it stops working now.")
        return redirect("console:keys", tenant=request.console.tenant.slug)
    return render(request, "console/keys/revoke.html", {"key": api_key})
