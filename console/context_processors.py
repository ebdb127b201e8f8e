"""What every console template may use: the sidebar and the tenant switcher."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from console.nav import nav_links


def console(request: HttpRequest) -> dict[str, Any]:
    """Add `console_nav` and `console_memberships`, computed only if a template reads them."""
    context = getattr(request, "console", None)
    if context is None:
        return {}
    from console.views.home import user_memberships

    slug = context.tenant.slug
    return {
        "console_nav": SimpleLazyObject(lambda: nav_links(slug, request.path)),
        # One query, and only on pages that show the switcher.
        "console_memberships": SimpleLazyObject(lambda: user_memberships(request)),
    }
