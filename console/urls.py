"""The console's URLs, under /console/.

Ownership while the console is being built: the sign-in pages, the tenant home and the
agents, tools, keys, providers, endpoints, playground and members sections are in
`console/views/` and listed here; the records sections (threads, usage, audit log) are in
`console/urls_records.py`. Every view under `<tenant>/` is wrapped in
`console.access.console_view` and receives no `tenant` argument: it reads
`request.console.tenant`.
"""

from django.urls import URLPattern, URLResolver, include, path

from console.views import home

app_name = "console"

tenant_patterns: list[URLPattern | URLResolver] = [
    path("", home.tenant_home, name="tenant_home"),
    path("", include("console.urls_agents")),
    path("", include("console.urls_records")),
]

urlpatterns = [
    path("", home.index, name="index"),
    path("<slug:tenant>/", include(tenant_patterns)),
]
