"""Every console URL, walked from the URL conf: sign-in, tenant isolation and roles.

A view added under `/console/<tenant>/` is tested here without anyone writing a test for
it: it must be wrapped in `console.access.console_view` (which sets `console_role`), and

* an anonymous visitor is sent to the sign-in page;
* a signed-in user who belongs to no tenant gets 404, like a missing page;
* a member of globex who puts acme's objects in a globex URL gets 404;
* a viewer (and an admin, for owners' views) gets 403 where the role is too low;
* a member with exactly the view's role gets a page (GET: no 4xx or 5xx).

URL arguments come from `KWARGS`, keyed by the argument's name, from objects that both
tenants have. A view with an argument of a new name fails until `KWARGS` learns it.
Pages outside a tenant (sign-in, password, invitations) are listed in `PUBLIC_VIEWS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from console.access import ROLE_RANK
from hosted_agents.capabilities.services import mcp_server_create
from hosted_agents.models import Agent, AgentVersion, ClientTool, HttpTool, McpServer
from hosted_agents.services import agent_create, agent_publish, client_tool_create, http_tool_create
from tenants.models import ApiKey, Membership, ProviderCredential, Tenant, Thread
from tenants.services import (
    api_key_create,
    membership_invite,
    provider_credential_create,
)

# --------------------------------------------------------------------------- the URL conf


@dataclass(frozen=True)
class ConsoleUrl:
    name: str  # without the namespace
    route: str
    args: tuple[str, ...]  # URL argument names, `tenant` excepted
    under_tenant: bool
    view: Callable[..., Any]

    @property
    def role(self) -> str | None:
        return getattr(self.view, "console_role", None)

    def __str__(self) -> str:
        return self.name


def _walk(
    patterns: list[URLPattern | URLResolver], route: str, args: tuple[str, ...]
) -> Iterator[ConsoleUrl]:
    for pattern in patterns:
        here = route + str(pattern.pattern)
        names = args + tuple(getattr(pattern.pattern, "converters", {}))
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, here, names)
        elif pattern.name:
            others = tuple(n for n in names if n != "tenant")
            yield ConsoleUrl(pattern.name, here, others, "tenant" in names, pattern.callback)


def console_urls() -> list[ConsoleUrl]:
    resolver = next(
        p for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and p.namespace == "console"
    )  # fmt: skip
    return list(_walk(resolver.url_patterns, "/console/", ()))


URLS = console_urls()
TENANT_URLS = [url for url in URLS if url.under_tenant]
GUARDED_URLS = [url for url in TENANT_URLS if url.role != Membership.Role.VIEWER]
OBJECT_URLS = [url for url in TENANT_URLS if url.args]

# Views that act on POST and have no page of their own (GET answers 405, after the sign-in,
# membership and role checks): their object lookup is checked with a POST instead.
POST_ONLY = {
    "agent_rollback",
    "playground_session",
    "http_tool_try",
    "http_tool_delete",
    "client_tool_delete",
    "mcp_server_refresh",
    "mcp_server_delete",
}

# Pages outside a tenant: what an anonymous visitor gets.
PUBLIC_VIEWS = {
    "index": "sign-in",
    "login": "page",
    "logout": "post-only",
    "password_change": "sign-in",
    "password_change_done": "sign-in",
    "password_reset": "page",
    "password_reset_done": "page",
    "password_reset_confirm": "page",  # an invalid link says so
    "password_reset_complete": "page",
    "invite_accept": "page",
}

# --------------------------------------------------------------------------- the objects


@dataclass
class TenantObjects:
    """One of each object a console URL can name, in one tenant."""

    tenant: Tenant
    agent: Agent
    version: AgentVersion
    http_tool: HttpTool
    client_tool: ClientTool
    mcp_server: McpServer
    thread: Thread
    api_key: ApiKey
    credential: ProviderCredential
    member: Membership
    invite_token: str


def _objects(tenant: Tenant, viewer: AbstractBaseUser) -> TenantObjects:
    prefix = tenant.slug
    http_tool = http_tool_create(
        tenant=tenant, name=f"{prefix}_lookup", description="Look up.",
        url_template="https://api.example.com/items/{id}",
        args_schema={"type": "object", "properties": {"id": {"type": "string"}}},
    )  # fmt: skip
    client_tool = client_tool_create(tenant=tenant, name=f"{prefix}_pick", description="Pick.")
    agent = agent_create(
        tenant=tenant, slug=f"{prefix}-bot", name=f"{prefix} bot", model="demo",
        instructions="Answer briefly.", http_tools=[http_tool.pk], client_tools=[client_tool.pk],
    )  # fmt: skip
    version = agent_publish(tenant=tenant, agent_id=agent.pk)
    thread = Thread(
        tenant=tenant, public_id=f"thr_{prefix}0001", agent=agent, agent_slug=agent.slug,
        end_user_id="u1", created_at=timezone.now(),
    )  # fmt: skip
    thread.save()
    credential = provider_credential_create(
        tenant=tenant, name=f"{prefix}-openai", kind="openai", secret="sk-test-1234567890"
    )
    return TenantObjects(
        tenant=tenant,
        agent=agent,
        version=version,
        http_tool=http_tool,
        client_tool=client_tool,
        mcp_server=mcp_server_create(
            tenant=tenant, name=f"{prefix}_mcp", url=f"https://mcp.{prefix}.example/mcp"
        ),
        thread=thread,
        api_key=api_key_create(tenant=tenant, name=f"{prefix} key", scopes=["chat"]).api_key,
        credential=credential,
        member=Membership.objects.for_tenant(tenant).get(user=viewer),
        invite_token=membership_invite(
            tenant=tenant, email=f"new@{prefix}.example", role="viewer"
        ).token,
    )


def _tool(objects: TenantObjects, url: ConsoleUrl) -> int:
    # One argument name for both kinds of tool: the URL's name says which.
    return (objects.client_tool if "client" in url.name else objects.http_tool).pk


# URL argument name -> its value in a tenant. Extend this for a new argument name.
KWARGS: dict[str, Callable[[TenantObjects, ConsoleUrl], Any]] = {
    "agent": lambda o, url: o.agent.slug,
    "version": lambda o, url: o.version.number,
    "tool": _tool,
    "http_tool": lambda o, url: o.http_tool.pk,
    "client_tool": lambda o, url: o.client_tool.pk,
    "mcp_server": lambda o, url: o.mcp_server.pk,
    "thread": lambda o, url: o.thread.public_id,
    "key": lambda o, url: o.api_key.pk,
    "credential": lambda o, url: o.credential.pk,
    "member": lambda o, url: o.member.pk,
    "token": lambda o, url: o.invite_token,
}


def url_for(url: ConsoleUrl, objects: TenantObjects, tenant: Tenant | None = None) -> str:
    """Return `url` for `tenant` (default: the objects' own) with the objects' values."""
    kwargs: dict[str, Any] = {}
    for name in url.args:
        if name not in KWARGS:
            pytest.fail(
                f"console:{url.name} ({url.route}) takes <{name}>, which KWARGS in "
                "tests/console/test_view_access.py does not know: add a builder for it"
            )
        kwargs[name] = KWARGS[name](objects, url)
    if url.under_tenant:
        kwargs["tenant"] = (tenant or objects.tenant).slug
    return reverse(f"console:{url.name}", kwargs=kwargs)


@dataclass
class World:
    acme: TenantObjects
    globex: TenantObjects
    by_role: dict[str, AbstractBaseUser]  # acme's members


@pytest.fixture
def world(
    acme: Tenant,
    globex: Tenant,
    acme_owner: AbstractBaseUser,
    acme_admin: AbstractBaseUser,
    acme_viewer: AbstractBaseUser,
    globex_viewer: AbstractBaseUser,
) -> World:
    return World(
        acme=_objects(acme, acme_viewer),
        globex=_objects(globex, globex_viewer),
        by_role={
            Membership.Role.OWNER: acme_owner,
            Membership.Role.ADMIN: acme_admin,
            Membership.Role.VIEWER: acme_viewer,
        },
    )


def signed_in(user: AbstractBaseUser) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --------------------------------------------------------------------------- the tests


def test_the_walk_finds_the_console_sections() -> None:
    names = {url.name for url in TENANT_URLS}
    assert {"tenant_home", "keys", "providers", "endpoints", "members"} <= names
    assert all(url.route.startswith("/console/<slug:tenant>/") for url in TENANT_URLS)


@pytest.mark.parametrize("url", TENANT_URLS, ids=str)
def test_every_tenant_view_is_wrapped_by_console_view(url: ConsoleUrl) -> None:
    assert url.role in ROLE_RANK, (
        f"console:{url.name} ({url.route}) is not wrapped in console.access.console_view"
    )


def test_every_page_outside_a_tenant_is_listed() -> None:
    outside = {url.name for url in URLS if not url.under_tenant}
    assert outside == set(PUBLIC_VIEWS), "list it in PUBLIC_VIEWS with what an anonymous gets"


@pytest.mark.parametrize("url", TENANT_URLS, ids=str)
def test_anonymous_visitor_is_sent_to_sign_in(url: ConsoleUrl, world: World) -> None:
    path = url_for(url, world.acme)
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/?next=")


@pytest.mark.parametrize("url", TENANT_URLS, ids=str)
def test_user_of_no_tenant_gets_404(
    url: ConsoleUrl, world: World, outsider: AbstractBaseUser
) -> None:
    assert signed_in(outsider).get(url_for(url, world.acme)).status_code == 404


@pytest.mark.parametrize("url", OBJECT_URLS, ids=str)
def test_other_tenants_objects_answer_404(
    url: ConsoleUrl, world: World, globex_owner: AbstractBaseUser
) -> None:
    client = signed_in(globex_owner)
    foreign = url_for(url, world.acme, tenant=world.globex.tenant)
    if url.name in POST_ONLY:
        # Acting on acme's object from globex finds nothing, and changes nothing.
        assert client.post(foreign).status_code == 404
        return
    # globex's own objects work (so the 404 below is about acme's) ...
    assert client.get(url_for(url, world.globex)).status_code < 400
    # ... and acme's, named in a globex URL, are missing.
    assert client.get(foreign).status_code == 404


@pytest.mark.parametrize("url", GUARDED_URLS, ids=str)
def test_lower_roles_get_403(url: ConsoleUrl, world: World) -> None:
    assert url.role is not None
    needed = ROLE_RANK[Membership.Role(url.role)]
    lower = [role for role, rank in ROLE_RANK.items() if rank < needed]
    for role in lower:
        response = signed_in(world.by_role[role]).get(url_for(url, world.acme))
        assert response.status_code == 403, role


@pytest.mark.parametrize("url", TENANT_URLS, ids=str)
def test_member_with_the_role_gets_the_page(url: ConsoleUrl, world: World) -> None:
    assert url.role is not None
    response = signed_in(world.by_role[url.role]).get(url_for(url, world.acme))
    if url.name in POST_ONLY:
        assert response.status_code == 405
        return
    assert response.status_code < 400, (
        f"console:{url.name}: {response.status_code} (a view that only acts on POST "
        "goes in POST_ONLY)",
        response.content[:500],
    )


@pytest.mark.parametrize("url", [url for url in URLS if not url.under_tenant], ids=str)
def test_pages_outside_a_tenant_answer_an_anonymous_visitor(url: ConsoleUrl, world: World) -> None:
    expected = PUBLIC_VIEWS[url.name]
    if url.name == "password_reset_confirm":
        path = reverse(f"console:{url.name}", kwargs={"uidb64": "MQ", "token": "bad-token"})
    else:
        path = url_for(url, world.acme)
    response = Client().get(path)
    if expected == "sign-in":
        assert response.status_code == 302
        assert response["Location"].startswith("/console/login/")
    elif expected == "post-only":
        assert response.status_code == 405
    else:
        assert response.status_code == 200
