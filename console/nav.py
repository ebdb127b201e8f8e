"""The console's sidebar: one list of sections, each shown once its URL exists.

Sections are built by different people at different times, so an entry whose URL name does
not reverse yet is skipped instead of breaking every page. Add a section here when its
view lands; `icon` names a symbol in templates/console/icons.html.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

__all__ = ["NAV", "NavEntry", "NavLink", "nav_links"]


@dataclass(frozen=True)
class NavEntry:
    label: str
    url_name: str  # in the `console` namespace, taking only the tenant
    group: str
    icon: str


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str
    group: str
    icon: str
    current: bool


NAV: tuple[NavEntry, ...] = (
    NavEntry("Overview", "console:tenant_home", "Build", "home"),
    NavEntry("Agents", "console:agents", "Build", "agent"),
    NavEntry("Tools", "console:tools", "Build", "tool"),
    NavEntry("MCP servers", "console:mcp_servers", "Build", "server"),
    NavEntry("Endpoints", "console:endpoints", "Build", "plug"),
    NavEntry("Threads", "console:threads", "Records", "chat"),
    NavEntry("Usage", "console:usage", "Records", "chart"),
    NavEntry("Audit log", "console:audit", "Records", "list"),
    NavEntry("API keys", "console:keys", "Settings", "key"),
    NavEntry("Providers", "console:providers", "Settings", "cloud"),
    NavEntry("Members", "console:members", "Settings", "people"),
)


def nav_links(tenant_slug: str, path: str) -> list[NavLink]:
    """Return the sidebar's links for a tenant; `path` marks the current section."""
    links = []
    for entry in NAV:
        try:
            url = reverse(entry.url_name, kwargs={"tenant": tenant_slug})
        except NoReverseMatch:
            continue
        home = entry.url_name == "console:tenant_home"
        current = path == url if home else path.startswith(url)
        links.append(NavLink(entry.label, url, entry.group, entry.icon, current))
    return links
