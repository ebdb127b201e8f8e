"""Browser harness of the <chatkit-client> tests: the platform, a tenant's page, Chromium.

stub        the loopback OpenAI stub the "scripted" agent talks to: "[slow]" streams a long
            answer word by word, "[flaky]" fails once with HTTP 400 and then answers,
            "[think]" reasons before it answers, anything else is a short answer
live        the platform (daphne) on the test database
demo_agent  acme's published agent "assistant" on the offline demo model, with the demo tools
scripted    acme's published agent "scripted" on the stub's model
site        a tenant's web site on another loopback port: it serves the component from the
            console's static folder and pages written by the tests (see `Site.page`); its
            origin is one of acme's allowed origins
browser     headless Chromium (Debian's), one per test session
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from hosted_agents.models import Agent
from hosted_agents.services import agent_create, agent_publish
from tenants.models import ApiKey, Tenant
from tenants.services import IssuedApiKey, api_key_create
from tenants.services.tenants import tenant_update
from tests.support.live_server import LiveServer
from tests.support.openai_stub import (
    HTTPError,
    OpenAIStub,
    Reasoning,
    RecordedRequest,
    Script,
    Text,
    Turn,
)

BASE_DIR = Path(__file__).resolve().parents[2]
STATIC_DIR = BASE_DIR / "console" / "static" / "chatkit_platform"
SCREENSHOTS = BASE_DIR / "test-results" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
STUB_KEY = "sk-stub-0123456789abcdef"
SLOW_WORDS = 40
SLOW_DELAY = 0.12
DEMO_TOOLS = ["calculator", "current_time", "show_table", "switch_theme", "analyze_text"]
END_USER = "browser-user"


def slow_answer() -> str:
    return " ".join(f"word{n}" for n in range(SLOW_WORDS))


class ScriptedModel:
    """Answers of the stub, by what the last user message asks."""

    def __init__(self) -> None:
        self.failed: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Script:
        body = request.body if isinstance(request.body, dict) else {}
        last = json.dumps((body.get("input") or body.get("messages") or [{}])[-1])
        if "[slow]" in last:
            return Turn([Text(slow_answer())], delay=SLOW_DELAY)
        if "[flaky]" in last:
            with self.lock:
                first = last not in self.failed
                self.failed.add(last)
            if first:
                return HTTPError(400, "Scripted failure for the retry.", "invalid_request_error")
            return Turn([Text("Recovered after a retry.")])
        if "[think]" in last:
            return Turn([Reasoning(["Weighing the **options** first."]), Text("Thought it over.")])
        return Turn([Text("A short scripted answer.")])


@pytest.fixture(scope="session")
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub(api_key=STUB_KEY) as server:
        server.responder = ScriptedModel()
        yield server


@pytest.fixture(scope="module")
def live(
    playwright: Playwright,  # first: see there
    django_db_setup: None,
    tmp_path_factory: pytest.TempPathFactory,
    stub: OpenAIStub,
) -> Iterator[LiveServer]:
    env = {"OPENAI_API_KEY": STUB_KEY, "OPENAI_BASE_URL": stub.base_url}
    server = LiveServer.start("daphne", tmp_path_factory.mktemp("daphne"), env=env)
    yield server
    server.stop()


@pytest.fixture
def demo_agent(acme: Tenant) -> Agent:
    agent = agent_create(
        tenant=acme, slug="assistant", name="Demo assistant", model="demo",
        instructions="Answer briefly.", code_tools=DEMO_TOOLS,
    )  # fmt: skip
    agent_publish(tenant=acme, agent_id=agent.pk)
    agent.refresh_from_db()
    return agent


@pytest.fixture
def scripted(acme: Tenant) -> Agent:
    agent = agent_create(
        tenant=acme, slug="scripted", name="Scripted", model="gpt-4.1-mini",
        instructions="Answer briefly.",
    )  # fmt: skip
    agent_publish(tenant=acme, agent_id=agent.pk)
    agent.refresh_from_db()
    return agent


@pytest.fixture
def chat_key(acme: Tenant) -> IssuedApiKey:
    return api_key_create(tenant=acme, name="site backend", scopes=[ApiKey.Scope.CHAT])


# --------------------------------------------------------------------------- the site


class _SiteHandler(SimpleHTTPRequestHandler):
    def __init__(self, *args: Any, pages: Path, **kwargs: Any) -> None:
        self.pages = pages
        super().__init__(*args, directory=str(pages), **kwargs)

    def translate_path(self, path: str) -> str:
        prefix = "/static/chatkit_platform/"
        clean = path.split("?", 1)[0]
        if clean.startswith(prefix):
            return str(STATIC_DIR / Path(clean[len(prefix) :]).name)
        return super().translate_path(path)

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_POST(self) -> None:
        """Answer `/scripted/chatkit` from `server.script` (see `ScriptedEndpoint`)."""
        script: ScriptedEndpoint | None = getattr(self.server, "script", None)
        if script is None or self.path != "/scripted/chatkit":
            self.send_error(404)
            return
        request = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
        script.requests.append(request)
        answer = script.answers.get(request["type"], {"data": [], "has_more": False})
        if isinstance(answer, list):
            body = b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in answer)
            content_type = "text/event-stream"
        else:
            body, content_type = json.dumps(answer).encode(), "application/json"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class ScriptedEndpoint:
    """A fake ChatKit endpoint at the site's `/scripted/chatkit`, for what the platform's
    agents do not produce: each request type gets its scripted answer (a list: SSE events;
    anything else: JSON), and every request is recorded."""

    answers: dict[str, Any] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Site:
    """A tenant's web site that embeds the component, on its own origin."""

    root: Path
    server: ThreadingHTTPServer
    platform: LiveServer
    pages: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def scripted(self) -> ScriptedEndpoint:
        script = ScriptedEndpoint()
        self.server.script = script  # type: ignore[attr-defined]
        return script

    def page(self, name: str, *, agent: str, token: str, theme: str = "light", **attrs: str) -> str:
        """Write a page that embeds <chatkit-client> for `agent`; return its URL.

        The agent "scripted-endpoint" is the site's own `ScriptedEndpoint`."""
        endpoint = self.platform.url(f"/t/acme/agents/{agent}/chatkit")
        if agent == "scripted-endpoint":
            endpoint = f"{self.origin}/scripted/chatkit"
        extra = "".join(f' {key.replace("_", "-")}="{value}"' for key, value in attrs.items())
        csp = (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            f"connect-src 'self' {self.platform.base_url}"
        )
        html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<title>Embedded chat</title>
<link rel="stylesheet" href="/site.css">
<script src="/site.js"></script>
<script src="/static/chatkit_platform/chatkit-client.js" defer></script>
</head><body data-theme="{theme}">
<chatkit-client endpoint="{endpoint}" token="{token}" user="{END_USER}" theme="{theme}"
  heading="Acme support"{extra}></chatkit-client>
</body></html>
"""
        (self.root / f"{name}.html").write_text(html)
        return f"{self.origin}/{name}.html"


# The page's own script: answers client tools, and records what the tests check.
SITE_JS = """
window.cspViolations = [];
window.clientToolCalls = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
document.addEventListener("DOMContentLoaded", () => {
  const chat = document.querySelector("chatkit-client");
  chat.onClientTool = async (name, args) => {
    window.clientToolCalls.push({ name, args });
    if (name !== "switch_theme") throw new Error("unknown tool " + name);
    chat.setAttribute("theme", args.theme);
    document.body.dataset.theme = args.theme;
    return { theme: args.theme, switched: true };
  };
});
"""

SITE_CSS = """
html, body { height: 100%; margin: 0; }
body { background: #eef0f4; font-family: system-ui, sans-serif; display: flex; }
body[data-theme="dark"] { background: #0c0d10; }
chatkit-client { flex: 1; margin: 16px; height: auto; }
@media (max-width: 500px) {
  chatkit-client { margin: 0; }
  chatkit-client::part(root) { border-radius: 0; }
}
"""


@pytest.fixture
def site(live: LiveServer, acme: Tenant, tmp_path: Path) -> Iterator[Site]:
    (tmp_path / "site.js").write_text(SITE_JS)
    (tmp_path / "site.css").write_text(SITE_CSS)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_SiteHandler, pages=tmp_path))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    site = Site(tmp_path, server, live)
    tenant_update(tenant=acme, changes={"allowed_origins": [site.origin]})
    yield site
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    # Playwright's sync API keeps an asyncio loop running in this thread, which makes
    # Django refuse ORM calls from the (sync) fixtures; they are sync, so this is safe.
    # Module-scoped: while that loop runs, no asyncio test can run in this process, so it
    # must stop when the browser tests' module ends, not at the end of the session.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "1"
    try:
        with sync_playwright() as driver:
            yield driver
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
