"""Who may see a console page: one decorator on every console view.

Every console URL under `/console/<tenant>/` is served by a view wrapped in
`console_view(role)`. The wrapper:

* sends an anonymous visitor to the sign-in page (`settings.LOGIN_URL`, with `next`);
* finds the signed-in user's membership of the tenant named in the URL, in one query
  with the tenant joined; no membership (or an unknown or suspended tenant) answers 404,
  exactly like a missing page, so a URL never tells whether another tenant exists;
* refuses a member whose role is below `role` with 403 (a viewer on an edit page);
* hands the view a `ConsoleContext` as `request.console`: the tenant, the membership and
  the audited `Actor`, built once.

Objects named in a console URL are then looked up with `for_tenant(request.console.tenant)`
and a miss is a 404 (`console_get_or_404`), so another tenant's object answers like a
missing one. The URL-conf test (tests/console/test_view_access.py) walks every console
URL and fails on a view that is not wrapped here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.middleware import HtmxDetails

from tenants.actors import Actor
from tenants.models import Membership, Tenant

__all__ = [
    "ROLE_RANK",
    "ConsoleContext",
    "ConsoleRequest",
    "console_get_or_404",
    "console_view",
    "request_ip",
]

# Higher ranks may do everything lower ranks may.
ROLE_RANK = {
    Membership.Role.VIEWER: 0,
    Membership.Role.ADMIN: 1,
    Membership.Role.OWNER: 2,
}

_M = TypeVar("_M", bound=models.Model)
View = Callable[..., HttpResponse]


@dataclass(frozen=True)
class ConsoleContext:
    tenant: Tenant
    membership: Membership
    actor: Actor

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def can_manage(self) -> bool:
        """Owners and admins edit; viewers read."""
        return self.membership.can_manage

    @property
    def is_owner(self) -> bool:
        return self.membership.role == Membership.Role.OWNER


class ConsoleRequest(HttpRequest):
    """The request a console view gets, for type checkers: annotate views with it.

    `console` is set by `console_view`; `htmx` by django-htmx's middleware.
    """

    console: ConsoleContext
    htmx: HtmxDetails


def request_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def console_view(role: str = Membership.Role.VIEWER) -> Callable[[View], View]:
    """Wrap a console view that takes the tenant slug as its `tenant` URL argument.

    The view itself gets no `tenant` argument: it reads `request.console` (annotate it as
    `ConsoleRequest`). The wrapper carries `console_role`, which the URL-conf test reads.
    """
    if role not in ROLE_RANK:
        raise ValueError(f"unknown role {role!r}")
    needed = ROLE_RANK[Membership.Role(role)]

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, tenant: str, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
            # Membership.unscoped: the signed-in user decides the tenant here, like a
            # credential does in API key authentication; the row found is the user's own.
            membership = (
                Membership.unscoped.select_related("tenant")
                .filter(
                    user=request.user,
                    tenant__slug=tenant,
                    tenant__status=Tenant.Status.ACTIVE,
                )
                .first()
            )
            if membership is None:
                raise Http404("No such page.")
            if ROLE_RANK[Membership.Role(membership.role)] < needed:
                return render(
                    request,
                    "console/403.html",
                    {"needed_role": role, "membership": membership},
                    status=403,
                )
            request.console = ConsoleContext(  # type: ignore[attr-defined]
                tenant=membership.tenant,
                membership=membership,
                actor=Actor.for_user(request.user, ip=request_ip(request)),
            )
            return view(request, *args, **kwargs)

        wrapper.console_role = role  # type: ignore[attr-defined]
        return wrapper

    return decorate


def console_get_or_404(model: type[_M], request: HttpRequest, **lookup: Any) -> _M:
    """Return the tenant's `model` row matching `lookup`, or 404 as if it did not exist."""
    obj = model.objects.for_tenant(request.console.tenant).filter(**lookup).first()  # type: ignore[attr-defined]
    if obj is None:
        raise Http404("No such page.")
    return obj  # type: ignore[no-any-return]
