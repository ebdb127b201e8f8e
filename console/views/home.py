"""The console's front: where a signed-in member lands, and a tenant's home."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from console.access import console_view
from tenants.models import Membership, Tenant


def user_memberships(request: HttpRequest) -> list[Membership]:
    """The signed-in user's memberships of active tenants, for the tenant switcher."""
    return list(
        Membership.unscoped.select_related("tenant")
        .filter(user=cast(User, request.user), tenant__status=Tenant.Status.ACTIVE)
        .order_by("tenant__name")
    )


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """Send a member of one tenant to it; let a member of several choose."""
    memberships = user_memberships(request)
    if len(memberships) == 1:
        return redirect("console:tenant_home", tenant=memberships[0].tenant.slug)
    return render(request, "console/index.html", {"memberships": memberships})


@console_view()
def tenant_home(request: HttpRequest) -> HttpResponse:
    return render(request, "console/tenant_home.html", {})
