"""The agents, tools and playground pages in headless Chromium against a live daphne.

An admin creates an agent with a tool, publishes it, chats with it in the playground (the
answer streams in, the tool calls show), reloads in the middle of an answer and sees it
finish, tries an HTTP tool for real, and rolls the agent back; a viewer sees no edit
controls. Members sign in with a session made by Django's test client, copied into the
browser. Every page is saved at 1280 and 390 pixels wide under test-results/screenshots/.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from playwright.sync_api import Browser, Page, Playwright, expect

from hosted_agents.models import Agent, AgentVersion
from hosted_agents.services import agent_create, agent_publish, agent_update
from tenants.models import Tenant, ThreadItem
from tests.console.conftest import SLOW_WORDS, STUB_KEY
from tests.support.live_server import LiveServer
from tests.support.openai_stub import OpenAIStub

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 30_000
LAST_WORD = f"word{SLOW_WORDS - 1}"

SignIn = Callable[[AbstractBaseUser], Page]


@pytest.fixture(scope="module")
def live(
    playwright: Playwright,  # first: see tests/console/conftest.py
    django_db_setup: None,
    tmp_path_factory: pytest.TempPathFactory,
    stub: OpenAIStub,
) -> Iterator[LiveServer]:
    """The platform, allowed to reach loopback: the HTTP tool tried here is a local service."""
    env = {
        "OPENAI_API_KEY": STUB_KEY,
        "OPENAI_BASE_URL": stub.base_url,
        "CHATKIT_ALLOW_PRIVATE_NETWORK": "true",
    }
    server = LiveServer.start("daphne", tmp_path_factory.mktemp("daphne-agents"), env=env)
    yield server
    server.stop()


class _Stock(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"sku": self.path.rsplit("/", 1)[-1], "in_stock": 12}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def stock_service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stock)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def sign_in(browser: Browser, live: LiveServer) -> Iterator[SignIn]:
    """Open a page signed in as a user; at teardown, fail on script errors or CSP reports."""
    opened: list[tuple[Page, list[str]]] = []

    def open_(user: AbstractBaseUser) -> Page:
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        context = browser.new_context(viewport=DESKTOP, device_scale_factor=1)
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live.base_url}]
        )
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                problems.append(message.text)
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


def shots(page: Page, screenshots: Path, name: str) -> None:
    """Save the page at desktop and at phone width."""
    page.screenshot(
        path=str(screenshots / f"console-{name}-desktop.png"), full_page=True, animations="disabled"
    )
    page.set_viewport_size(PHONE)
    page.screenshot(
        path=str(screenshots / f"console-{name}-phone.png"), full_page=True, animations="disabled"
    )
    page.set_viewport_size(DESKTOP)


def eventually(read: Callable[[], Any], expected: Any, timeout: float = WAIT_MS / 1000) -> None:
    """Wait until `read()` returns `expected`: a turn's items are saved just after it ends."""
    deadline = time.monotonic() + timeout
    while (value := read()) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert value == expected


def _versions_of_answers(tenant: Tenant) -> set[int | None]:
    answers = ThreadItem.objects.for_tenant(tenant).filter(type="assistant_message")
    return set(answers.values_list("agent_version", flat=True))


def send(page: Page, text: str) -> None:
    expect(page.locator("chatkit-client .send")).to_be_enabled(timeout=WAIT_MS)
    box = page.locator("chatkit-client textarea.input")
    box.fill(text)
    box.press("Enter")


def test_admin_creates_publishes_chats_and_rolls_back(
    sign_in: SignIn,
    live: LiveServer,
    acme: Tenant,
    acme_admin: AbstractBaseUser,
    screenshots: Path,
) -> None:
    page = sign_in(acme_admin)
    page.goto(live.url("/console/acme/agents/"))
    expect(page.locator(".empty-state")).to_be_visible()
    shots(page, screenshots, "agents-empty")

    # Create an agent with a tool; the placeholder is highlighted as it is typed.
    page.get_by_role("link", name="Create the first agent").click()
    page.get_by_label("Slug").fill("shop")
    page.get_by_label("Name").fill("Shop assistant")
    page.get_by_label("Instructions").fill("Help {{ state.customer }} with their order.")
    expect(page.locator(".highlight-backdrop mark")).to_have_text("{{ state.customer }}")
    expect(page.locator(".placeholder-list code")).to_have_text("customer")
    page.get_by_label("Model", exact=True).fill("demo")
    page.locator('input[value="calculator"]').check()
    page.locator('input[value="switch_theme"]').check()
    page.get_by_label("Temperature").fill("5")
    page.get_by_label("Greeting").fill("Ask me about your order.")
    page.get_by_label("Starter prompts").fill("What is (6*7)+1? Use the calculator")
    page.get_by_role("button", name="Create agent").click()
    # The service's range, shown on the field; nothing saved.
    expect(page.locator('[data-field="temperature"] .error')).to_contain_text(
        "less than or equal to 2"
    )
    shots(page, screenshots, "agent-form-error")
    page.get_by_label("Temperature").fill("0.3")
    page.get_by_role("button", name="Create agent").click()
    expect(page.locator(".status-line")).to_contain_text("not published")
    shots(page, screenshots, "agent-draft")

    # Publish with a note.
    page.get_by_label("Publish note").fill("first release")
    page.get_by_role("button", name="Publish draft").click()
    expect(page.locator(".status-line")).to_contain_text("serving version 1")
    expect(page.locator('[data-version="1"]')).to_contain_text("first release")

    # Chat in the playground: the answer streams, the server tool's result and the
    # client tool call (with its arguments and result) show.
    page.get_by_role("link", name="Playground").click()
    expect(page.locator("chatkit-client .composer")).to_be_visible()
    expect(page.locator("chatkit-client .starter")).to_have_count(1)
    page.locator("chatkit-client .starter").click()
    answer = page.locator("chatkit-client .assistant").last
    expect(answer).to_contain_text("calculator returned", timeout=WAIT_MS)
    expect(answer).to_contain_text('"result": 43')
    send(page, "Please switch_theme to dark")
    tool = page.locator("chatkit-client .tool-item")
    expect(tool.locator(".tool-name")).to_have_text("switch_theme", timeout=WAIT_MS)
    expect(tool.locator(".tool-args")).to_contain_text('"theme": "dark"')
    expect(tool.locator(".tool-result")).to_contain_text('"switched": true', timeout=WAIT_MS)
    expect(page.locator("chatkit-client .assistant").last).to_contain_text(
        "switch_theme returned", timeout=WAIT_MS
    )
    page.locator("chatkit-client .tool > summary").click()
    shots(page, screenshots, "playground")
    agent = Agent.objects.for_tenant(acme).get(slug="shop")
    eventually(lambda: _versions_of_answers(acme), {1})

    # Edit the draft, publish again, compare, then roll back to version 1.
    page.goto(live.url("/console/acme/agents/shop/edit/"))
    shots(page, screenshots, "agent-form")
    page.get_by_label("Instructions").fill("Help {{ state.customer }} quickly.")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".status-line")).to_contain_text("draft changes pending")
    page.get_by_role("link", name="Review the changes first").click()
    expect(page.locator(".diff-add")).to_contain_text("quickly")
    shots(page, screenshots, "agent-publish")
    page.get_by_label("Note").fill("faster")
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.locator(".status-line")).to_contain_text("serving version 2")
    shots(page, screenshots, "agent")
    page.get_by_role("button", name="Show diff").click()
    expect(page.locator(".diff-del")).to_contain_text("with their order.")
    expect(page.locator(".diff-add")).to_contain_text("quickly.")
    shots(page, screenshots, "agent-diff")
    page.go_back()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Roll back to v1").click()
    expect(page.locator(".status-line")).to_contain_text("serving version 3")
    expect(page.locator(".messages")).to_contain_text("version 3 is a copy of version 1")
    served = AgentVersion.objects.for_tenant(acme).get(agent=agent, number=3)
    assert served.config["instructions"] == "Help {{ state.customer }} with their order."
    page.locator('[data-version="3"] a').click()
    expect(page.locator("h1")).to_contain_text("Version 3")
    shots(page, screenshots, "agent-version")

    page.goto(live.url("/console/acme/agents/shop/duplicate/"))
    shots(page, screenshots, "agent-duplicate")
    page.get_by_role("button", name="Duplicate").click()
    expect(page.locator("h1")).to_have_text("Shop assistant (copy)")
    page.goto(live.url("/console/acme/agents/"))
    expect(page.locator("[data-agent]")).to_have_count(2)
    shots(page, screenshots, "agents")


def test_playground_follows_an_answer_after_a_reload(
    sign_in: SignIn, live: LiveServer, acme: Tenant, acme_admin: AbstractBaseUser
) -> None:
    agent = agent_create(tenant=acme, slug="writer", name="Writer", model="gpt-4.1-mini")
    agent_publish(tenant=acme, agent_id=agent.pk)
    page = sign_in(acme_admin)
    page.goto(live.url("/console/acme/agents/writer/playground/"))
    send(page, "Tell me something long [slow]")

    answer = page.locator("chatkit-client .assistant").last
    expect(answer).to_contain_text("word3", timeout=WAIT_MS)
    assert LAST_WORD not in answer.inner_text()
    page.reload()

    # A fresh session for the same member; the client reopens the thread and follows it.
    answer = page.locator("chatkit-client .assistant").last
    expect(answer).to_contain_text(LAST_WORD, timeout=WAIT_MS)
    expect(page.locator("chatkit-client .user .bubble")).to_have_text(
        "Tell me something long [slow]"
    )


def test_playground_runs_the_draft_when_asked(
    sign_in: SignIn, live: LiveServer, acme: Tenant, acme_admin: AbstractBaseUser
) -> None:
    agent = agent_create(tenant=acme, slug="calc", name="Calc", model="demo")
    agent_publish(tenant=acme, agent_id=agent.pk)
    agent_update(tenant=acme, agent_id=agent.pk, changes={"code_tools": ["calculator"]})
    page = sign_in(acme_admin)
    page.goto(live.url("/console/acme/agents/calc/playground/?version=draft"))
    expect(page.locator(".playground-note")).to_contain_text("draft")
    send(page, "What is 2+3? use the calculator")

    # Only the draft has the calculator.
    expect(page.locator("chatkit-client .assistant").last).to_contain_text(
        '"result": 5', timeout=WAIT_MS
    )
    eventually(lambda: _versions_of_answers(acme), {0})


def test_tools_pages_and_a_real_try(
    sign_in: SignIn,
    live: LiveServer,
    acme: Tenant,
    acme_admin: AbstractBaseUser,
    stock_service: str,
    screenshots: Path,
) -> None:
    page = sign_in(acme_admin)
    page.goto(live.url("/console/acme/tools/"))
    page.locator('[data-tool="calculator"] summary').click()
    expect(page.locator('[data-tool="calculator"] .schema')).to_contain_text('"expression"')
    shots(page, screenshots, "tools")

    page.get_by_role("link", name="New HTTP tool").click()
    page.get_by_label("Name").fill("stock")
    page.get_by_label("Description").fill("How many items of a SKU are in stock.")
    page.get_by_label("URL").fill(stock_service + "/stock/{sku}")
    page.get_by_label("Args schema").fill(
        '{"type": "object", "properties": {"sku": {"type": "string"}}}'
    )
    page.get_by_label("Headers").fill('{"X-Api-Key": "stock-secret-123456"}')
    shots(page, screenshots, "http-tool-form")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("h1")).to_contain_text("stock")
    page.get_by_label("Arguments").fill('{"sku": "B-42"}')
    page.get_by_role("button", name="Try it").click()
    expect(page.locator(".try-status")).to_have_text("HTTP 200")
    expect(page.locator(".try-body")).to_contain_text('"in_stock": 12')
    assert "stock-secret-123456" not in page.content()
    shots(page, screenshots, "http-tool")

    page.goto(live.url("/console/acme/tools/client/new/"))
    page.get_by_label("Name").fill("open_cart")
    page.get_by_label("Description").fill("Open the cart drawer on the page.")
    page.get_by_role("button", name="Create").click()
    expect(page.locator('[data-tool="open_cart"]')).to_be_visible()


def test_viewer_sees_no_edit_controls(
    sign_in: SignIn,
    live: LiveServer,
    acme: Tenant,
    acme_viewer: AbstractBaseUser,
    screenshots: Path,
) -> None:
    agent = agent_create(tenant=acme, slug="faq", name="FAQ", model="demo", instructions="Be kind.")
    agent_publish(tenant=acme, agent_id=agent.pk, note="launch")
    page = sign_in(acme_viewer)

    for path in ("/console/acme/agents/", "/console/acme/agents/faq/", "/console/acme/tools/"):
        page.goto(live.url(path))
        expect(page.locator("h1")).to_be_visible()
        expect(page.locator("[data-edit-controls]")).to_have_count(0)
        expect(
            page.get_by_role("button", name=re.compile("Publish|Roll back|Try it"))
        ).to_have_count(0)
    page.goto(live.url("/console/acme/agents/faq/"))
    shots(page, screenshots, "agent-viewer")
    assert page.goto(live.url("/console/acme/agents/faq/edit/")).status == 403  # type: ignore[union-attr]


def test_official_chatkit_loads_only_when_picked(
    sign_in: SignIn,
    live: LiveServer,
    acme: Tenant,
    acme_admin: AbstractBaseUser,
    screenshots: Path,
) -> None:
    agent = agent_create(tenant=acme, slug="official", name="Official", model="demo")
    agent_publish(tenant=acme, agent_id=agent.pk)
    page = sign_in(acme_admin)
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url) if not request.url.startswith(live.base_url) else None
        ),
    )
    # No network here: OpenAI's CDN is out of reach, as on an air-gapped site.
    page.route("https://cdn.platform.openai.com/**", lambda route: route.abort())

    page.goto(live.url("/console/acme/agents/official/playground/"))
    expect(page.locator("chatkit-client .composer")).to_be_visible()
    assert outside == []

    page.get_by_role("link", name="Official ChatKit JS").click()
    expect(page.locator(".playground-note")).to_contain_text("it needs internet access")
    expect(page.locator(".official-missing")).to_be_visible(timeout=WAIT_MS)
    assert outside == ["https://cdn.platform.openai.com/deployments/chatkit/chatkit.js"]
    shots(page, screenshots, "playground-official-offline")
