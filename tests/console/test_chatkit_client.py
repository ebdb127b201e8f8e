"""<chatkit-client> in headless Chromium, embedded on a tenant's site, against the live platform.

Every page runs under a Content-Security-Policy without inline scripts or styles, and each
test fails if the page logged a CSP violation or a script error. Screenshots go to
test-results/screenshots/.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import Browser, Page, expect

from hosted_agents.models import Agent
from tenants.models import Tenant
from tenants.services import IssuedApiKey, client_session_cancel, client_session_create
from tests.console.conftest import END_USER, SLOW_WORDS, STUB_KEY, Site
from tests.support.celery_worker import CeleryWorker, isolated_broker
from tests.support.live_server import LiveServer
from tests.support.openai_stub import OpenAIStub

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 30_000
LAST_WORD = f"word{SLOW_WORDS - 1}"
PENDING = re.compile(r"\bpending\b")
LONG_TOOLS = settings.CELERY_LONG_TOOL_QUEUE  # before isolated_broker renames it

OpenPage = Callable[..., Page]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[OpenPage]:
    """Open a URL in a fresh browser context; at teardown, fail on page errors or CSP reports."""
    opened: list[tuple[Page, list[str]]] = []

    def open_(url: str, viewport: dict[str, int] = DESKTOP) -> Page:
        context = browser.new_context(viewport=viewport, device_scale_factor=1)
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
        page.goto(url)
        expect(page.locator("chatkit-client .composer")).to_be_visible()
        opened.append((page, problems))
        return page

    yield open_
    for page, problems in opened:
        violations = page.evaluate("window.cspViolations || []")
        page.context.close()
        assert not violations, violations
        assert not problems, problems


def send(page: Page, text: str) -> None:
    """Type and send a message, once the answer before it (if any) has ended."""
    expect(page.locator("chatkit-client .send")).to_be_enabled(timeout=WAIT_MS)
    box = page.locator("chatkit-client textarea.input")
    box.fill(text)
    box.press("Enter")


def shot(page: Page, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), animations="disabled")


def test_answer_streams_in_word_by_word(
    open_page: OpenPage, site: Site, scripted: Agent, chat_key: IssuedApiKey
) -> None:
    page = open_page(site.page("slow", agent=scripted.slug, token=chat_key.raw))
    send(page, "Tell me something long [slow]")

    expect(page.locator(".user .bubble")).to_have_text("Tell me something long [slow]")
    answer = page.locator(".assistant").last
    expect(answer).to_contain_text("word3", timeout=WAIT_MS)
    # Part of the answer is on screen while the rest is still on its way.
    assert LAST_WORD not in answer.inner_text()
    expect(answer).to_have_class(PENDING)
    expect(answer).to_contain_text(LAST_WORD, timeout=WAIT_MS)
    expect(answer).not_to_have_class(PENDING)
    expect(page.locator(".send")).to_be_enabled()


def test_tool_call_of_the_page_shows_arguments_and_result(
    open_page: OpenPage,
    site: Site,
    demo_agent: Agent,
    chat_key: IssuedApiKey,
    screenshots: Path,
) -> None:
    page = open_page(site.page("tools", agent=demo_agent.slug, token=chat_key.raw))
    send(page, "Please switch_theme to dark")

    tool = page.locator(".tool-item")
    expect(tool.locator(".tool-name")).to_have_text("switch_theme", timeout=WAIT_MS)
    expect(tool.locator(".tool-args")).to_contain_text('"theme": "dark"')
    expect(tool.locator(".tool-result")).to_contain_text('"switched": true', timeout=WAIT_MS)
    expect(tool.locator(".tool-state")).to_have_text("Done")
    # The page's hook ran once with the model's arguments, and switched the theme.
    assert page.evaluate("window.clientToolCalls") == [
        {"name": "switch_theme", "args": {"theme": "dark"}}
    ]
    expect(page.locator(".root")).to_have_attribute("data-theme", "dark")
    # The result went back to the agent, which answered with it.
    answer = page.locator(".assistant").last
    expect(answer).to_contain_text("switch_theme returned", timeout=WAIT_MS)
    expect(answer).to_contain_text("switched")
    page.locator(".tool > summary").click()
    shot(page, screenshots, "client-tool-dark-desktop")


def test_widget_from_a_tool_is_rendered(
    open_page: OpenPage,
    site: Site,
    demo_agent: Agent,
    chat_key: IssuedApiKey,
    screenshots: Path,
) -> None:
    url = site.page(
        "widget", agent=demo_agent.slug, token=chat_key.raw,
        greeting="Ask the demo agent for a table or a sum.",
        starter_prompts="What is 12*7? Use the calculator|show_table please",
    )  # fmt: skip
    page = open_page(url)
    expect(page.locator(".starter")).to_have_count(2)
    shot(page, screenshots, "empty-desktop")

    page.locator(".starter", has_text="calculator").click()
    expect(page.locator(".assistant").last).to_contain_text('"result": 84', timeout=WAIT_MS)
    send(page, 'show_table title="Release plan"')

    card = page.locator(".widget-item .w-card")
    expect(card.locator(".w-title")).to_have_text("Release plan", timeout=WAIT_MS)
    expect(card.locator(".w-row")).to_have_count(2)  # the header row and one row of cells
    expect(card.locator(".w-row").first.locator(".w-text")).to_have_attribute(
        "data-weight", "semibold"
    )
    expect(page.locator(".assistant").last).to_contain_text("show_table returned", timeout=WAIT_MS)
    shot(page, screenshots, "conversation-desktop")
    page.set_viewport_size(PHONE)
    expect(page.locator(".menu")).to_be_visible()
    expect(page.locator(".sidebar")).to_be_hidden()
    shot(page, screenshots, "conversation-phone")
    page.locator(".menu").click()
    expect(page.locator(".sidebar .thread")).to_have_count(1)  # both messages in one thread
    expect(page.locator(".sidebar .thread")).to_contain_text("What is 12*7?")
    shot(page, screenshots, "threads-phone")
    page.keyboard.press("Escape")
    expect(page.locator(".sidebar")).to_be_hidden()


def test_error_event_offers_a_retry_that_answers(
    open_page: OpenPage,
    site: Site,
    scripted: Agent,
    chat_key: IssuedApiKey,
    screenshots: Path,
) -> None:
    page = open_page(site.page("flaky", agent=scripted.slug, token=chat_key.raw))
    send(page, "This fails once [flaky]")

    error = page.locator(".error-item")
    expect(error).to_contain_text("returned an error (HTTP 400)", timeout=WAIT_MS)
    shot(page, screenshots, "error-desktop")
    error.get_by_role("button", name="Retry").click()

    expect(page.locator(".assistant").last).to_have_text(
        "Recovered after a retry.", timeout=WAIT_MS
    )
    expect(page.locator(".error-item")).to_have_count(0)
    expect(page.locator(".user")).to_have_count(1)  # retried, not sent again


def test_reasoning_is_shown_as_a_workflow(
    open_page: OpenPage, site: Site, scripted: Agent, chat_key: IssuedApiKey
) -> None:
    page = open_page(site.page("think", agent=scripted.slug, token=chat_key.raw))
    send(page, "Think first [think]")

    workflow = page.locator(".workflow-item")
    expect(workflow.locator("summary")).to_contain_text("Thought for", timeout=WAIT_MS)
    workflow.locator("summary").click()
    expect(workflow.locator(".task-thought strong")).to_have_text("options")
    expect(page.locator(".assistant").last).to_have_text("Thought it over.")


def test_reload_shows_the_thread_and_the_thread_list(
    open_page: OpenPage, site: Site, demo_agent: Agent, chat_key: IssuedApiKey
) -> None:
    page = open_page(site.page("history", agent=demo_agent.slug, token=chat_key.raw))
    send(page, "what is (6*7)+1? use the calculator")
    expect(page.locator(".assistant").last).to_contain_text('"result": 43', timeout=WAIT_MS)
    thread_id = page.locator("chatkit-client").get_attribute("thread")
    assert thread_id

    page.reload()
    expect(page.locator(".user .bubble")).to_have_text("what is (6*7)+1? use the calculator")
    expect(page.locator(".assistant")).to_contain_text('"result": 43')
    current = page.locator('.thread[aria-current="true"]')
    expect(current).to_contain_text("what is (6*7)+1?")
    listed = page.locator(".thread", has_text="what is (6*7)+1?")

    page.get_by_role("button", name="New chat").first.click()
    expect(page.locator(".item")).to_have_count(0)
    expect(page.locator(".empty")).to_be_visible()
    expect(current).to_have_count(0)
    listed.click()
    expect(page.locator(".assistant")).to_contain_text('"result": 43')
    expect(listed).to_have_attribute("aria-current", "true")
    expect(page.locator("chatkit-client")).to_have_attribute("thread", thread_id)


def test_reload_mid_answer_follows_the_run_to_its_end(
    open_page: OpenPage, site: Site, scripted: Agent, chat_key: IssuedApiKey
) -> None:
    page = open_page(site.page("follow", agent=scripted.slug, token=chat_key.raw))
    send(page, "A long answer please [slow]")
    expect(page.locator(".assistant").last).to_contain_text("word3", timeout=WAIT_MS)
    assert LAST_WORD not in page.locator(".assistant").last.inner_text()

    page.reload()
    answer = page.locator(".assistant")
    # The reopened thread follows the run still in progress, and gets all of it once.
    expect(answer).to_contain_text(LAST_WORD, timeout=WAIT_MS)
    expect(answer).not_to_have_class(PENDING)
    expect(answer).to_have_count(1)
    expect(page.locator(".user")).to_have_count(1)
    assert answer.inner_text().count("word1 ") == 1
    expect(page.locator(".send")).to_be_enabled()


def test_client_secret_comes_from_the_site_and_is_refreshed_after_a_401(
    open_page: OpenPage,
    site: Site,
    acme: Tenant,
    scripted: Agent,
    screenshots: Path,
) -> None:
    """The embedding of the README: the element made by the site's script, which fetches
    client secrets from the site's backend (here: files the test writes from real
    sessions). The first secret was cancelled meanwhile; the component asks for another.
    """
    stale, fresh = (
        client_session_create(tenant=acme, agent=scripted, user=END_USER, workflow_ref="scripted")
        for _ in range(2)
    )
    client_session_cancel(tenant=acme, session_id=stale.session.public_id)
    for number, issued in enumerate((stale, fresh), start=1):
        answer = {
            "client_secret": issued.client_secret,
            "expires_at": int(issued.session.expires_at.timestamp()),
        }
        (site.root / f"secret-{number}.json").write_text(json.dumps(answer))
    (site.root / "embed.js").write_text(EMBED_JS)
    endpoint = site.platform.url(f"/t/acme/agents/{scripted.slug}/chatkit")
    csp = (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"connect-src 'self' {site.platform.base_url}"
    )
    (site.root / "embed.html").write_text(EMBED_HTML.format(csp=csp, endpoint=endpoint))
    page = open_page(f"{site.origin}/embed.html", PHONE)
    send(page, "Hello from a phone")

    expect(page.locator(".assistant").last).to_have_text(
        "A short scripted answer.", timeout=WAIT_MS
    )
    # First call: no secret yet; second: after the refusal, naming the secret refused.
    assert page.evaluate("window.secretRequests") == [None, stale.client_secret]
    expect(page.locator(".thread")).to_contain_text("Hello from a phone")
    shot(page, screenshots, "embedded-phone")


EMBED_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<title>Embedded with a client secret</title>
<link rel="stylesheet" href="/site.css">
<script src="/static/chatkit_platform/chatkit-client.js" defer></script>
<script src="/embed.js" defer></script>
</head><body data-endpoint="{endpoint}"></body></html>
"""

EMBED_JS = """
window.cspViolations = [];
window.secretRequests = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
const chat = document.createElement("chatkit-client");
chat.setAttribute("endpoint", document.body.dataset.endpoint);
chat.setAttribute("heading", "Help");
chat.getClientSecret = async (current) => {
  window.secretRequests.push(current);
  const answer = await fetch(`/secret-${window.secretRequests.length}.json`);
  return (await answer.json()).client_secret;
};
document.body.append(chat);
"""


def _item(item_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"id": item_id, "thread_id": "thr_1", "created_at": "2026-01-01T10:00:00Z",
            "type": kind, **fields}  # fmt: skip


def _action(kind: str, **payload: Any) -> dict[str, Any]:
    return {"type": kind, "payload": payload, "handler": "server", "loadingBehavior": "auto",
            "streaming": True}  # fmt: skip


UNSAFE_MARKDOWN = (
    "Here is **bold**, `code` and a [safe link](https://example.com/docs).\n\n"
    "- first\n- second\n\n"
    "```python\nprint('hi')\n```\n\n"
    "Not HTML: <img src=x onerror=alert(1)> and [not a link](javascript:alert(1))."
)

TASK_CARD = {
    "type": "Card",
    "size": "md",
    "children": [
        {"type": "Row", "children": [
            {"type": "Title", "value": "New task", "size": "sm"},
            {"type": "Spacer"},
            {"type": "Badge", "label": "Draft", "color": "info", "pill": True},
        ]},
        {"type": "Form", "direction": "col", "gap": 3, "children": [
            {"type": "Label", "value": "Title", "fieldName": "task.title"},
            {"type": "Input", "name": "task.title", "placeholder": "What needs doing?",
             "required": True},
            {"type": "Row", "gap": 3, "children": [
                {"type": "Select", "name": "task.priority", "defaultValue": "normal", "options": [
                    {"value": "normal", "label": "Normal"}, {"value": "high", "label": "High"}]},
                {"type": "Checkbox", "name": "notify", "label": "Notify the team"},
            ]},
            {"type": "Divider"},
            {"type": "Row", "justify": "end", "children": [
                {"type": "Button", "label": "Save task", "submit": True,
                 "onClickAction": _action("task.save", list_id=7)},
            ]},
        ]},
    ],
}  # fmt: skip

LIST_WIDGET = {
    "type": "ListView",
    "limit": 2,
    "children": [
        {"type": "ListViewItem", "children": [
            {"type": "Text", "value": f"Item {n}", "weight": "medium"},
            {"type": "Caption", "value": f"Caption {n}"}]}
        for n in range(1, 4)
    ] + [{"type": "ListViewItem", "children": [{"type": "Sparkline", "points": [1, 2]}]}],
}  # fmt: skip


def test_widgets_render_and_their_actions_carry_the_form_values(
    open_page: OpenPage, site: Site, screenshots: Path
) -> None:
    """Against the site's scripted endpoint: the platform's agents do not make these."""
    script = site.scripted()
    script.answers["threads.create"] = [
        {"type": "thread.created", "thread": {"id": "thr_1", "created_at": "2026-01-01T10:00:00Z",
         "status": {"type": "active"}, "metadata": {}, "items": {"data": [], "has_more": False}}},
        {"type": "thread.item.done", "item": _item("msg_u1", "user_message", content=[
            {"type": "input_text", "text": "Make me a task"}], attachments=[],
            inference_options={})},
        {"type": "stream_options", "stream_options": {"allow_cancel": True}},
        {"type": "thread.item.done", "item": _item("msg_a1", "assistant_message", content=[
            {"type": "output_text", "text": UNSAFE_MARKDOWN, "annotations": []}])},
        {"type": "thread.item.done", "item": _item("msg_w1", "widget", widget=TASK_CARD)},
        {"type": "thread.item.done", "item": _item("msg_w2", "widget", widget=LIST_WIDGET)},
        {"type": "notice", "level": "info", "message": "Tasks are saved to **Inbox**."},
    ]  # fmt: skip
    script.answers["threads.custom_action"] = [
        {"type": "stream_options", "stream_options": {"allow_cancel": True}},
        {"type": "progress_update", "text": "Saving…"},
        {"type": "thread.item.updated", "item_id": "msg_w1", "update": {
            "type": "widget.root.updated", "widget": {"type": "Card", "children": [
                {"type": "Text", "value": "Saved to Inbox", "color": "success"}]}}},
    ]  # fmt: skip
    page = open_page(site.page("widgets", agent="scripted-endpoint", token="unused"))
    send(page, "Make me a task")

    answer = page.locator(".assistant")
    expect(answer.locator("strong")).to_have_text("bold")
    expect(answer.locator("li")).to_have_count(2)
    expect(answer.locator("pre.code")).to_have_attribute("data-lang", "python")
    expect(answer.locator("a")).to_have_count(1)
    expect(answer.locator("a")).to_have_attribute("href", "https://example.com/docs")
    expect(answer).to_contain_text("<img src=x onerror=alert(1)>")  # shown as text
    expect(answer.locator("img")).to_have_count(0)
    expect(answer).to_contain_text("and not a link.")  # a javascript: link is only its text
    expect(page.locator(".notice strong")).to_have_text("Inbox")
    expect(page.locator(".log > .item").last).to_have_class(re.compile(r"\bnotice-info\b"))

    card = page.locator('[data-item-id="msg_w1"]')
    expect(card.locator(".w-badge")).to_have_text("Draft")
    listing = page.locator('[data-item-id="msg_w2"]')
    expect(listing.locator(".w-list-item:visible")).to_have_count(2)
    listing.get_by_role("button", name="Show 2 more").click()
    expect(listing.locator(".w-unknown-label")).to_have_text("Unsupported widget: Sparkline")
    shot(page, screenshots, "widgets-desktop")

    card.get_by_role("button", name="Save task").click()  # the required title is empty
    assert [r["type"] for r in script.requests].count("threads.custom_action") == 0
    card.get_by_label("Title").fill("Write the release notes")
    card.locator("select").select_option("high")
    card.get_by_label("Notify the team").check()
    card.get_by_role("button", name="Save task").click()

    expect(card).to_have_text("Saved to Inbox")
    action = next(r for r in script.requests if r["type"] == "threads.custom_action")
    assert action["params"] == {
        "thread_id": "thr_1",
        "item_id": "msg_w1",
        "action": {
            "type": "task.save",
            "payload": {
                "list_id": 7,
                "task": {"title": "Write the release notes", "priority": "high"},
                "notify": True,
            },
        },
    }
    page.set_viewport_size(PHONE)
    page.locator("chatkit-client").evaluate("(el) => el.setAttribute('theme', 'dark')")
    shot(page, screenshots, "widgets-dark-phone")


@pytest.fixture
def worker_site(
    site: Site, tmp_path_factory: pytest.TempPathFactory, stub: OpenAIStub
) -> Iterator[Site]:
    """The site, with a platform of its own that sends long tool calls to a real worker."""
    with isolated_broker(tmp_path_factory.mktemp("celery")) as broker:
        # The platform process queues on the settings' queue (isolated_broker renames it in
        # this process only), so the worker serves that one, in this run's broker folder.
        worker = CeleryWorker.start(broker, tmp_path_factory.mktemp("worker"), queue=LONG_TOOLS)
        env = {"OPENAI_API_KEY": STUB_KEY, "OPENAI_BASE_URL": stub.base_url}
        if broker.data_dir is not None:
            env["PLATFORM_DATA_DIR"] = str(broker.data_dir)
        platform = LiveServer.start("daphne", tmp_path_factory.mktemp("daphne"), env=env)
        try:
            yield Site(site.root, site.server, platform)
        finally:
            platform.stop()
            worker.stop()


def test_a_long_tool_shows_its_progress_from_the_worker(
    open_page: OpenPage, worker_site: Site, demo_agent: Agent, chat_key: IssuedApiKey
) -> None:
    page = open_page(worker_site.page("long", agent=demo_agent.slug, token=chat_key.raw))
    send(page, 'analyze_text "The cat sat on the mat. The dog ran far away."')

    progress = page.locator(".progress")
    expect(progress).to_contain_text("Counting words", timeout=WAIT_MS)
    expect(page.locator(".assistant").last).to_contain_text('"words": 11', timeout=WAIT_MS)
    expect(progress).to_be_hidden()
