"""The console's URLs, under /console/.

Three modules, one per group of sections, so that they can be built side by side:

* this one: sign-in and the account pages, the tenant home, and the account-level
  sections (API keys, providers, endpoints, members), with their views in `console/views/`;
* `console/urls_agents.py`: agents, their versions, tools and the playground;
* `console/urls_records.py`: threads, usage, the audit log and exports.

Every view under `<tenant>/` is wrapped in `console.access.console_view` and receives no
`tenant` argument: it reads `request.console.tenant`. tests/console/test_view_access.py
walks all of them. The pages outside a tenant are listed there as `PUBLIC_VIEWS`.
"""

from django.urls import URLPattern, URLResolver, include, path

from console.views import auth, endpoints, home, keys, members, providers

app_name = "console"

account_patterns: list[URLPattern | URLResolver] = [
    path("login/", auth.ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth.ConsoleLogoutView.as_view(), name="logout"),
    path("password/", auth.ConsolePasswordChangeView.as_view(), name="password_change"),
    path("password/done/", auth.password_change_done, name="password_change_done"),
    path("password/reset/", auth.ConsolePasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", auth.password_reset_done, name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        auth.ConsolePasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password/reset/complete/", auth.password_reset_complete, name="password_reset_complete"),
    path("invite/<str:token>/", members.invite_accept, name="invite_accept"),
]

tenant_patterns: list[URLPattern | URLResolver] = [
    path("", home.tenant_home, name="tenant_home"),
    path("keys/", keys.key_list, name="keys"),
    path("keys/new/", keys.key_create, name="key_create"),
    path("keys/<int:key>/revoke/", keys.key_revoke, name="key_revoke"),
    path("providers/", providers.provider_list, name="providers"),
    path("providers/new/", providers.provider_create, name="provider_create"),
    path("providers/<int:credential>/", providers.provider_edit, name="provider_edit"),
    path("providers/<int:credential>/test/", providers.provider_test, name="provider_test"),
    path("endpoints/", endpoints.endpoint_list, name="endpoints"),
    path("endpoints/origins/", endpoints.tenant_origins, name="tenant_origins"),
    path("endpoints/<slug:agent>/origins/", endpoints.agent_origins, name="agent_origins"),
    path("members/", members.member_list, name="members"),
    path("members/invite/", members.member_invite, name="member_invite"),
    path("members/<int:member>/role/", members.member_role, name="member_role"),
    path("members/<int:member>/remove/", members.member_remove, name="member_remove"),
    path("", include("console.urls_agents")),
    path("", include("console.urls_records")),
]

urlpatterns = [
    path("", home.index, name="index"),
    *account_patterns,
    path("<slug:tenant>/", include(tenant_patterns)),
]
