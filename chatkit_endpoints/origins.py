"""Browser rules of the ChatKit endpoints: allowed origins and CORS.

A request that carries an `Origin` is served only if the origin is allowed: listed in the
agent's allowed origins, or the tenant's when the agent has none of its own (exact, or a
wildcard first label, see `tenants.models.tenancy.origin_matches`), or the platform's own
origin (the console's pages). Requests without an `Origin` come from servers, not browsers,
and are not checked.

A preflight (`OPTIONS`) carries no credential, so it is answered from the tenant and agent
named in the path (one statement); an unknown one is refused exactly like a refused origin.
"""

from __future__ import annotations

from typing import Any

from chatkit_endpoints.errors import EndpointError
from hosted_agents.models import Agent
from tenants.models import Tenant
from tenants.models.tenancy import origin_matches

__all__ = ["cors_headers", "origin_check", "preflight", "refusal_headers"]

ALLOWED_HEADERS = b"authorization, content-type, x-chatkit-user, openai-beta, accept-language"
MAX_AGE_SECONDS = b"600"


def _own_origin(scope: dict[str, Any]) -> str | None:
    host = dict(scope["headers"]).get(b"host")
    if host is None:
        return None
    scheme = "https" if scope.get("scheme") == "https" else "http"
    return f"{scheme}://{host.decode('latin-1').lower()}"


def _allowed(origin: str, tenant: Tenant, agent: Agent, scope: dict[str, Any]) -> bool:
    if origin.lower() == _own_origin(scope):
        return True
    if agent.allowed_origins:
        return any(origin_matches(origin, pattern) for pattern in agent.allowed_origins)
    return tenant.origin_allowed(origin)


def refused(origin: str, tenant_slug: str, agent_slug: str) -> EndpointError:
    return EndpointError(
        403,
        "origin_not_allowed",
        f"The origin {origin} may not call this endpoint. A workspace admin can allow it in "
        f"the allowed origins of workspace {tenant_slug!r}, or of its agent {agent_slug!r} "
        "(exact, like https://app.example.com, or a pattern, like "
        "https://*.preview.example.com).",
        origin=origin,
    )


def cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-expose-headers", b"retry-after"),
        (b"vary", b"origin"),
    ]


def origin_check(
    origin: str, tenant: Tenant, agent: Agent, scope: dict[str, Any]
) -> list[tuple[bytes, bytes]]:
    """Return the CORS headers for an allowed `origin`; raise a 403 for any other."""
    if not _allowed(origin, tenant, agent, scope):
        raise refused(origin, tenant.slug, agent.slug)
    return cors_headers(origin)


def preflight(
    *,
    origin: str,
    tenant_slug: str,
    agent_slug: str,
    scope: dict[str, Any],
    methods: tuple[str, ...],
) -> list[tuple[bytes, bytes]]:
    """Return the headers of the answer to a CORS preflight; raise a 403 if refused (sync)."""
    if not origin:
        raise EndpointError(400, "not_a_preflight", "A CORS preflight names its Origin.")
    if not _path_allows(origin, tenant_slug, agent_slug, scope):
        raise refused(origin, tenant_slug, agent_slug)
    return [
        *cors_headers(origin),
        (b"access-control-allow-methods", ", ".join((*methods, "OPTIONS")).encode()),
        (b"access-control-allow-headers", ALLOWED_HEADERS),
        (b"access-control-max-age", MAX_AGE_SECONDS),
    ]


def refusal_headers(
    *, origin: str, tenant_slug: str, agent_slug: str, scope: dict[str, Any]
) -> list[tuple[bytes, bytes]]:
    """Return the CORS headers of a refusal answered before the Origin was checked (sync).

    A browser shows a cross-origin answer without `Access-Control-Allow-Origin` to its
    page as a network error; with it, the page can read why it was refused (a bad or
    expired secret, a missing thread, a limit). Only an origin the path's agent allows
    gets it, so the refusal says nothing to other origins.
    """
    if not origin or not _path_allows(origin, tenant_slug, agent_slug, scope, for_refusal=True):
        return []
    return cors_headers(origin)


def _path_allows(
    origin: str,
    tenant_slug: str,
    agent_slug: str,
    scope: dict[str, Any],
    *,
    for_refusal: bool = False,
) -> bool:
    """Return whether the agent the path names allows `origin` (one statement).

    `for_refusal`: for an agent that does not exist, the tenant's origins decide (one more
    statement), so a page of the tenant can read that the agent is missing.
    """
    if origin.lower() == _own_origin(scope):
        return True
    # Unscoped: the path names the tenant, and nothing but its origins is read.
    agent = (
        Agent.unscoped.filter(tenant__slug=tenant_slug, slug=agent_slug)
        .select_related("tenant")
        .only("slug", "allowed_origins", "tenant__slug", "tenant__allowed_origins")
        .first()
    )
    if agent is not None:
        return _allowed(origin, agent.tenant, agent, scope)
    if not for_refusal:
        return False
    tenant = Tenant.objects.filter(slug=tenant_slug).only("allowed_origins").first()
    return tenant is not None and tenant.origin_allowed(origin)
