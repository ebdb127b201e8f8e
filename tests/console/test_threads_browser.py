"""The records sections in Chromium: find a thread by text search, read it, export it, watch
it live; and screenshots of the thread list, a thread, usage and the audit log.

Sign-in is a session made by Django's test client (`force_login`) and handed to the
browser as its cookie: the sign-in page is tested with the rest of the console's frame.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, expect

from hosted_agents.metering import usage_record
from hosted_agents.models import Agent
from tenants.models import AuditEvent, Tenant
from tenants.services import IssuedApiKey
from tests.chatkit_endpoints.client import Endpoint, user_input
from tests.console.conftest import SLOW_WORDS
from tests.console.test_threads_views import WIDGET, assistant_says, make_thread, user_says
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
WAIT_MS = 20_000


def _context(
    browser: Browser, live: LiveServer, user: AbstractBaseUser, width: str
) -> BrowserContext:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    w, h = WIDTHS[width]
    context = browser.new_context(viewport={"width": w, "height": h}, accept_downloads=True)
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live.base_url}]
    )
    return context


@pytest.fixture
def owner_page(browser: Browser, live: LiveServer, acme_owner: AbstractBaseUser) -> Iterator[Page]:
    context = _context(browser, live, acme_owner, "desktop")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def endpoint(live: LiveServer, acme_key: IssuedApiKey, scripted: Agent) -> Iterator[Endpoint]:
    client = Endpoint(live, "acme", "scripted", token=acme_key.raw, user="shopper-7")
    yield client
    client.close()


def _background_threads(acme: Tenant, agent: Agent) -> None:
    start = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    for n in range(12):
        make_thread(
            acme, f"thr_seed{n:02d}", title=f"Question {n} about invoices", agent=agent,
            user=f"customer-{n % 4}", at=start + timedelta(hours=n),
            items=[user_says(f"Invoice {n} looks wrong"), assistant_says("Let me check."), WIDGET],
            version=1,
        )  # fmt: skip


def test_find_a_thread_by_search_open_it_and_export_it(
    owner_page: Page, live: LiveServer, endpoint: Endpoint, acme: Tenant, scripted: Agent,
    tmp_path: Path,
) -> None:  # fmt: skip
    _background_threads(acme, scripted)
    answer = endpoint.create("My parcel zebra42 has not arrived")
    assert answer.status == 200 and answer.text() == "A short scripted answer."
    thread_id = answer.thread_id()

    page = owner_page
    page.goto(live.url("/console/acme/threads/"))
    expect(page.locator("a.thread-link")).to_have_count(13)
    page.get_by_role("searchbox").fill("zebra42")
    page.get_by_role("searchbox").press("Enter")
    expect(page.locator("a.thread-link")).to_have_count(1, timeout=WAIT_MS)
    page.locator("a.thread-link").click()

    expect(page).to_have_url(live.url(f"/console/acme/threads/{thread_id}/"))
    transcript = page.locator("#transcript")
    expect(transcript).to_contain_text("My parcel zebra42 has not arrived")
    expect(transcript).to_contain_text("A short scripted answer.")
    expect(transcript.locator(".badge").first).to_have_text("v1 · gpt-4.1-mini")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"thread-{thread_id}.csv"
    saved = tmp_path / "export.csv"
    download.save_as(saved)
    exported = saved.read_text()
    assert "My parcel zebra42 has not arrived" in exported
    assert "A short scripted answer." in exported
    actions = set(AuditEvent.objects.for_tenant(acme).values_list("action", flat=True))
    assert {"thread.view", "thread.export"} <= actions


def test_an_open_thread_shows_a_new_turn_as_it_streams(
    owner_page: Page, live: LiveServer, endpoint: Endpoint
) -> None:
    thread_id = endpoint.create("Hello there").thread_id()
    page = owner_page
    page.goto(live.url(f"/console/acme/threads/{thread_id}/"))
    expect(page.locator("#live-status")).to_contain_text("Live", timeout=WAIT_MS)

    turn = threading.Thread(
        target=endpoint.stream, args=("threads.add_user_message",),
        kwargs={"thread_id": thread_id, "input": user_input("Tell me more [slow]")},
    )  # fmt: skip
    turn.start()
    try:
        transcript = page.locator("#transcript")
        expect(transcript).to_contain_text("Tell me more [slow]", timeout=WAIT_MS)
        # Words arrive while the answer is still being written, then the whole answer.
        expect(transcript).to_contain_text("word3", timeout=WAIT_MS)
        expect(transcript).to_contain_text(f"word{SLOW_WORDS - 1}", timeout=WAIT_MS)
        expect(page.locator("#live-status")).to_contain_text("ended", timeout=WAIT_MS)
    finally:
        turn.join(timeout=60)
    page.reload()
    expect(page.locator("#transcript")).to_contain_text(f"word{SLOW_WORDS - 1}")


def test_screenshots_of_the_records_pages(
    browser: Browser, live: LiveServer, acme_owner: AbstractBaseUser, acme: Tenant,
    scripted: Agent, endpoint: Endpoint, screenshots: Path,
) -> None:  # fmt: skip
    _background_threads(acme, scripted)
    thread_id = endpoint.create("Can I change the delivery address?").thread_id()
    today = datetime.now(UTC).date()
    for back in range(14):
        usage_record(tenant_id=acme.pk, agent_id=scripted.pk, input_tokens=900 + 130 * back,
                     output_tokens=300 + 40 * (back % 5), runs=3 + back % 4,
                     day=today - timedelta(days=back))  # fmt: skip
    pages = {
        "threads": "/console/acme/threads/",
        "thread": "/console/acme/threads/thr_seed11/",
        "thread-live": f"/console/acme/threads/{thread_id}/",
        "usage": f"/console/acme/usage/?since={today - timedelta(days=13):%Y-%m-%d}",
        "audit": "/console/acme/audit/",
        "thread-delete": "/console/acme/threads/thr_seed11/delete",
    }
    for width in WIDTHS:
        context = _context(browser, live, acme_owner, width)
        page = context.new_page()
        for name, path in pages.items():
            response = page.goto(live.url(path))
            assert response is not None and response.status == 200, path
            page.screenshot(path=str(screenshots / f"records-{name}-{width}.png"), full_page=True)
        context.close()
    assert (screenshots / "records-usage-phone.png").stat().st_size > 10_000
