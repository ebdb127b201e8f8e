"""MCP servers and an agent's capabilities in headless Chromium against a live daphne.

An admin registers a real MCP server running on loopback, sees and refreshes its tools,
offers one of them to an agent with "ask the user", adds a guardrail, publishes, and finds
the capabilities on the published version's page. A viewer sees the servers without
controls. Every page is saved at 1280 and 390 pixels wide under test-results/screenshots/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connections
from playwright.sync_api import Playwright, expect

from hosted_agents.capabilities.services import mcp_server_create, mcp_server_refresh_tools
from hosted_agents.models import AgentVersion, McpServer
from hosted_agents.services import agent_create
from tenants.models import Tenant
from tests.console.conftest import STUB_KEY
from tests.console.test_agents_browser import SignIn, shots, sign_in
from tests.hosted_agents.capabilities.conftest import LoopbackMcp, loopback_mcp, mcp_transport
from tests.support.live_server import LiveServer
from tests.support.openai_stub import OpenAIStub

__all__ = ["loopback_mcp", "mcp_transport", "sign_in"]

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

SECRET = "Bearer browser-mcp-secret-0123456789"


@pytest.fixture(scope="module")
def live(
    playwright: Playwright,  # first: see tests/console/conftest.py
    django_db_setup: None,
    tmp_path_factory: pytest.TempPathFactory,
    stub: OpenAIStub,
) -> Iterator[LiveServer]:
    """The platform, allowed to reach loopback: the MCP server here is a local one."""
    env = {
        "OPENAI_API_KEY": STUB_KEY,
        "OPENAI_BASE_URL": stub.base_url,
        "CHATKIT_ALLOW_PRIVATE_NETWORK": "true",
    }
    server = LiveServer.start("daphne", tmp_path_factory.mktemp("daphne-capabilities"), env=env)
    yield server
    server.stop()


def test_admin_registers_an_mcp_server_and_gives_an_agent_capabilities(
    sign_in: SignIn,
    live: LiveServer,
    acme: Tenant,
    acme_admin: AbstractBaseUser,
    loopback_mcp: LoopbackMcp,
    screenshots: Path,
) -> None:
    agent_create(
        tenant=acme, slug="concierge", name="Concierge", model="demo",
        instructions="Answer briefly.", code_tools=["calculator"],
    )  # fmt: skip
    page = sign_in(acme_admin)
    page.goto(live.url("/console/acme/"))
    page.locator("#sidebar").get_by_role("link", name="MCP servers").click()
    expect(page.locator(".empty-state")).to_contain_text("No MCP servers yet")

    # Register the loopback server: saving fetches its tools, through the address policy.
    page.get_by_role("link", name="Add an MCP server").click()
    page.get_by_label("Name").fill("weather")
    page.get_by_label("URL").fill(loopback_mcp.url())
    page.get_by_label("Transport").select_option("streamable_http")
    page.get_by_label("Headers").fill(json.dumps({"Authorization": SECRET}))
    page.get_by_label("Time limit (seconds)").fill("8")
    shots(page, screenshots, "mcp-server-form")
    page.get_by_role("button", name="Add and fetch tools").click()
    expect(page.locator(".messages")).to_contain_text("Added weather: it lists 2 tools.")
    expect(page.locator("[data-mcp-tool]")).to_have_count(2)
    expect(page.locator('[data-mcp-tool="forecast"]')).to_contain_text("Tomorrow's forecast")
    assert SECRET not in page.content()
    assert any(seen.get("authorization") == SECRET for seen in loopback_mcp.seen_headers)
    server = McpServer.objects.for_tenant(acme).get(name="weather")
    fetched = server.tools_fetched_at

    # Refresh the tool list: fetched again, shown again.
    page.get_by_role("button", name="Refresh tools").click()
    expect(page.locator(".messages")).to_contain_text("Refreshed weather: it lists 2 tools.")
    server.refresh_from_db()
    assert fetched is not None and server.tools_fetched_at is not None
    assert server.tools_fetched_at > fetched
    page.locator('[data-mcp-tool="forecast"] summary').click()
    expect(page.locator('[data-mcp-tool="forecast"] .schema')).to_contain_text('"city"')
    shots(page, screenshots, "mcp-server")

    # Offer forecast (asking the user first), not delete_everything; add a PII guardrail.
    page.goto(live.url("/console/acme/agents/concierge/edit/"))
    mcp = page.locator('[data-mcp-server="weather"]')
    forecast = mcp.locator('[data-mcp-tool="forecast"] select')
    expect(forecast).to_have_value("off")
    forecast.select_option("ask")
    expect(mcp.locator('[data-mcp-tool="delete_everything"] select')).to_have_value("off")
    calculator = page.locator('[data-tool-row="calculator"]')
    expect(calculator.locator("select")).to_be_enabled()
    page.locator('[data-tool-row="current_time"] input').uncheck()
    expect(page.locator('[data-tool-row="current_time"] select')).to_be_disabled()
    calculator.locator("select").select_option("ask")
    stage = page.locator('[data-stage="input"]')
    stage.get_by_label("Personal data", exact=True).select_option("block")  # not "Kinds of"
    stage.get_by_label("Phone numbers").uncheck()
    page.get_by_label("Message when a check trips").fill("Please leave out personal data.")
    shots(page, screenshots, "agent-capabilities")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".messages")).to_contain_text("Draft saved.")
    draft = page.locator(".shown-mcp")
    expect(draft).to_contain_text("forecast")
    expect(draft).to_contain_text("asks the user")
    expect(page.locator(".shown-guardrails")).to_contain_text(
        "Personal data (e-mail, card numbers, IBAN): block"
    )

    # A bad guardrail is refused in its section, and nothing of that save is kept.
    page.goto(live.url("/console/acme/agents/concierge/edit/"))
    page.locator('[data-stage="output"]').get_by_label("Blocklist").fill("(unclosed")
    page.get_by_label("Greeting").fill("Not saved")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator('[data-section="guardrails"] .section-errors')).to_contain_text(
        "bad pattern '(unclosed'"
    )
    shots(page, screenshots, "agent-capabilities-error")
    page.goto(live.url("/console/acme/agents/concierge/"))
    expect(page.locator(".facts")).not_to_contain_text("Not saved")

    # Publish, and find the capabilities on the published version's page.
    page.get_by_label("Publish note").fill("weather, asked first")
    page.get_by_role("button", name="Publish draft").click()
    expect(page.locator(".status-line")).to_contain_text("serving version 1")
    page.locator('[data-version="1"] a').click()
    expect(page.locator("h1")).to_contain_text("Version 1")
    shown = page.locator('[data-shown-server="weather"]')
    expect(shown).to_contain_text("forecast")
    expect(shown).to_contain_text("asks the user")
    expect(shown).not_to_contain_text("delete_everything")
    expect(page.locator('[data-shown-tool="calculator"]')).to_contain_text("asks the user")
    expect(page.locator(".shown-guardrails")).to_contain_text("Please leave out personal data.")
    shots(page, screenshots, "agent-version-capabilities")
    version = AgentVersion.objects.for_tenant(acme).get(agent__slug="concierge", number=1)
    [frozen] = version.config["capabilities"]["mcp_servers"]
    assert [tool["name"] for tool in frozen["tools"]] == ["forecast"]
    assert frozen["approval_tools"] == ["forecast"]
    assert version.config["capabilities"]["guardrails"]["input"] == [
        {"kind": "pii", "action": "block", "types": ["email", "card", "iban"]}
    ]

    page.goto(live.url("/console/acme/mcp/"))
    row = page.locator('[data-mcp-server="weather"]')
    expect(row.locator("[data-tool-count]")).to_have_text("2")
    expect(row).to_contain_text("Concierge")
    shots(page, screenshots, "mcp-servers")


def _refresh(tenant: Tenant, server_id: int) -> None:
    try:
        mcp_server_refresh_tools(tenant=tenant, server_id=server_id)
    finally:
        connections.close_all()  # this thread's own connection


def test_a_viewer_sees_mcp_servers_without_controls(
    sign_in: SignIn,
    live: LiveServer,
    acme: Tenant,
    acme_viewer: AbstractBaseUser,
    loopback_mcp: LoopbackMcp,
) -> None:
    server = mcp_server_create(tenant=acme, name="weather", url=loopback_mcp.url())
    # In another thread: Playwright's event loop runs in this one, and the refresh is sync
    # over async (async_to_sync refuses to run under a running loop).
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_refresh, acme, server.pk).result(timeout=30)
    page = sign_in(acme_viewer)
    page.goto(live.url("/console/acme/mcp/"))
    page.get_by_role("link", name="weather").click()
    expect(page.locator("[data-mcp-tool]")).to_have_count(2)
    expect(page.locator("[data-edit-controls]")).to_have_count(0)
    expect(page.get_by_role("button", name="Refresh tools")).to_have_count(0)
