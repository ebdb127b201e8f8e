"""The console in headless Chromium against a live daphne: sign-in, keys, providers, roles.

Every page must load without a CSP violation or a script error. Screenshots of every
account-level page, at desktop (1280) and phone (390) width, go to test-results/screenshots/
as console-<page>-desktop.png and console-<page>-phone.png.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from playwright.sync_api import Browser, Page, Playwright, expect

from hosted_agents.models import Agent
from tenants.models import ApiKey, Membership, ProviderCredential, Tenant
from tenants.services import membership_invite, provider_credential_create
from tests.console.conftest import STUB_KEY
from tests.support.live_server import LiveServer
from tests.support.openai_stub import OpenAIStub

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 30_000

OpenPage = Callable[..., Page]


@pytest.fixture(scope="module")
def platform(
    playwright: Playwright,  # first: see tests/console/conftest.py
    django_db_setup: None,
    tmp_path_factory: pytest.TempPathFactory,
    stub: OpenAIStub,
) -> Iterator[LiveServer]:
    """The platform, allowed to reach the loopback stub with a tenant's credential."""
    env = {"CHATKIT_ALLOW_PRIVATE_NETWORK": "1"}
    server = LiveServer.start("daphne", tmp_path_factory.mktemp("console"), env=env)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def passwords_the_server_checks(django_user_model: type[AbstractBaseUser]) -> Callable[[], None]:
    """Hash the fixtures' passwords as the server does: tests hash with MD5 (settings), a
    hasher the live server does not accept. Call it once the users of a test exist."""

    def rehash() -> None:
        hasher = PBKDF2PasswordHasher()
        for user in django_user_model._default_manager.all():
            password = f"pw-{user.get_username()}"
            user.password = hasher.encode(password, hasher.salt(), iterations=1000)
            user.save(update_fields=["password"])

    return rehash


@pytest.fixture
def open_page(
    browser: Browser, passwords_the_server_checks: Callable[[], None]
) -> Iterator[OpenPage]:
    """A fresh browser context per call; at teardown, fail on CSP reports or page errors."""
    opened: list[tuple[Page, list[str]]] = []

    def open_(viewport: dict[str, int] = DESKTOP) -> Page:
        passwords_the_server_checks()
        context = browser.new_context(viewport=viewport, device_scale_factor=1)
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                problems.append(f"console: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )
        opened.append((page, problems))
        return page

    yield open_
    for page, problems in opened:
        page.context.close()
        assert not problems, problems


def sign_in(page: Page, platform: LiveServer, username: str, next_path: str = "") -> None:
    suffix = f"?next={next_path}" if next_path else ""
    page.goto(platform.url(f"/console/login/{suffix}"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"pw-{username}")
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/console/login/"), timeout=WAIT_MS)


def shot(page: Page, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"console-{name}.png"), full_page=True)


def test_owner_signs_in_creates_a_key_and_sees_it_once(
    open_page: OpenPage,
    platform: LiveServer,
    acme: Tenant,
    acme_owner: AbstractBaseUser,
    demo_agent: Agent,
    screenshots: Path,
) -> None:
    page = open_page()
    page.goto(platform.url("/console/acme/keys/"))
    expect(page).to_have_url(re.compile(r"/console/login/\?next="))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw-alice")
    page.keyboard.press("Enter")  # the keyboard is enough
    expect(page.get_by_role("heading", name="API keys", exact=True)).to_be_visible(timeout=WAIT_MS)

    page.get_by_role("link", name="New key").click()
    page.get_by_label("Name").fill("shop backend")
    page.get_by_label(re.compile(r"management:read: GET")).check()
    page.get_by_label("Expires").select_option("30")
    page.get_by_role("button", name="Create key").click()

    secret = page.locator("#new-key")
    expect(secret).to_have_text(re.compile(r"^ck"))
    raw = secret.inner_text()
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == raw
    shot(page, screenshots, "key-created-desktop")
    page.get_by_role("link", name="Done").click()

    row = page.locator("tr", has_text="shop backend")
    expect(row).to_contain_text("management:read")
    expect(row.locator(".badge")).to_have_text("active")
    assert raw not in page.content()
    key = ApiKey.objects.for_tenant(acme).get(name="shop backend")
    assert key.scopes == ["chat", "management:read"]

    # Revoking asks first.
    row.get_by_role("link", name="Revoke").click()
    page.get_by_role("button", name="Revoke the key").click()
    expect(page.locator(".message.success")).to_contain_text("is revoked")
    expect(page.locator("tr", has_text="shop backend").locator(".badge")).to_have_text("revoked")


def test_admin_adds_a_provider_and_tests_the_connection(
    open_page: OpenPage,
    platform: LiveServer,
    stub: OpenAIStub,
    acme: Tenant,
    acme_admin: AbstractBaseUser,
    screenshots: Path,
) -> None:
    page = open_page()
    sign_in(page, platform, "adam")
    page.get_by_role("link", name="Providers").click()
    page.get_by_role("link", name="Add a provider").click()
    page.get_by_label("Name").fill("local gateway")
    page.get_by_label("Kind").select_option("openai_compatible")
    page.get_by_label("Base URL").fill(stub.base_url)
    page.get_by_label("API", exact=True).select_option("chat_completions")
    page.get_by_label("API key").fill(STUB_KEY)
    page.get_by_role("button", name="Add provider").click()

    card = page.locator("section.card", has_text="local gateway")
    expect(card).to_contain_text("Chat Completions API")
    assert STUB_KEY not in page.content()
    hint = ProviderCredential.objects.for_tenant(acme).get().secret_hint
    expect(card.locator("[data-secret-hint]")).to_have_text(hint)

    card.get_by_role("button", name="Test connection").click()
    expect(card.locator(".alert.ok")).to_contain_text("Connected", timeout=WAIT_MS)
    expect(card.get_by_role("list", name="Models")).to_contain_text("stub-large")
    expect(page).to_have_url(re.compile(r"/console/acme/providers/$"))  # htmx, no reload
    shot(page, screenshots, "provider-tested-desktop")


def test_viewer_cannot_edit_and_another_tenant_is_not_found(
    open_page: OpenPage,
    platform: LiveServer,
    acme: Tenant,
    acme_viewer: AbstractBaseUser,
    globex: Tenant,
    acme_key: object,
    screenshots: Path,
) -> None:
    page = open_page()
    sign_in(page, platform, "vera")
    page.goto(platform.url("/console/acme/keys/"))
    expect(page.locator("tr", has_text="acme server")).to_be_visible()
    expect(page.get_by_role("link", name="New key")).to_have_count(0)
    expect(page.get_by_role("link", name="Revoke")).to_have_count(0)
    answer = page.goto(platform.url("/console/acme/keys/new/"))
    assert answer is not None and answer.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    shot(page, screenshots, "403-desktop")

    other = open_page()
    sign_in(other, platform, "greta")
    answer = other.goto(platform.url("/console/acme/"))
    assert answer is not None and answer.status == 404
    answer = other.goto(
        platform.url(f"/console/globex/keys/{ApiKey.objects.for_tenant(acme).get().pk}/revoke/")
    )
    assert answer is not None and answer.status == 404


def test_phone_menu_opens_and_closes_from_the_keyboard(
    open_page: OpenPage, platform: LiveServer, acme: Tenant, acme_owner: AbstractBaseUser,
    screenshots: Path,
) -> None:  # fmt: skip
    page = open_page(PHONE)
    sign_in(page, platform, "alice")
    nav = page.locator("#sidebar")
    expect(nav.get_by_role("link", name="Members")).not_to_be_in_viewport()
    page.get_by_role("button", name="Menu").click()
    expect(nav.get_by_role("link", name="Members")).to_be_in_viewport()
    shot(page, screenshots, "nav-phone")
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "false")


PAGES = [
    ("home", "/console/acme/"),
    ("keys", "/console/acme/keys/"),
    ("key-new", "/console/acme/keys/new/"),
    ("key-revoke", "/console/acme/keys/{key}/revoke/"),
    ("providers", "/console/acme/providers/"),
    ("provider-new", "/console/acme/providers/new/"),
    ("provider-edit", "/console/acme/providers/{credential}/"),
    ("provider-test", "/console/acme/providers/{credential}/test/"),
    ("endpoints", "/console/acme/endpoints/"),
    ("origins", "/console/acme/endpoints/assistant/origins/"),
    ("members", "/console/acme/members/"),
    ("member-invite", "/console/acme/members/invite/"),
    ("member-role", "/console/acme/members/{member}/role/"),
    ("member-remove", "/console/acme/members/{member}/remove/"),
    ("password-change", "/console/password/"),
]
SIGNED_OUT_PAGES = [
    ("login", "/console/login/"),
    ("password-reset", "/console/password/reset/"),
    ("invite-accept", "/console/invite/{token}/"),
]


def test_screenshots_of_every_account_page(
    open_page: OpenPage,
    platform: LiveServer,
    acme: Tenant,
    acme_owner: AbstractBaseUser,
    acme_viewer: AbstractBaseUser,
    acme_key: object,
    demo_agent: Agent,
    globex: Tenant,
    screenshots: Path,
) -> None:
    credential = provider_credential_create(
        tenant=acme, name="production-openai", kind="openai", secret="sk-live-abcdef123456"
    )
    values = {
        "key": ApiKey.objects.for_tenant(acme).get().pk,
        "credential": credential.pk,
        "member": Membership.objects.for_tenant(acme).get(user=acme_viewer).pk,
        "token": membership_invite(tenant=acme, email="new@example.com", role="admin").token,
    }
    Membership.objects.for_tenant(globex).create(user=acme_owner, role="viewer")  # a switcher
    for viewport, width in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = open_page(viewport)
        for name, path in SIGNED_OUT_PAGES:
            answer = page.goto(platform.url(path.format(**values)))
            assert answer is not None and answer.status == 200, name
            shot(page, screenshots, f"{name}-{width}")
        sign_in(page, platform, "alice", "/console/acme/")
        for name, path in PAGES:
            answer = page.goto(platform.url(path.format(**values)))
            assert answer is not None and answer.status == 200, name
            expect(page.locator("main h1")).to_be_visible()
            # Nothing wider than the screen: tables scroll inside their frame.
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], name
            shot(page, screenshots, f"{name}-{width}")
        page.goto(platform.url("/console/"))
        expect(page.get_by_role("heading", name="Choose a tenant")).to_be_visible()
        shot(page, screenshots, f"tenants-{width}")
