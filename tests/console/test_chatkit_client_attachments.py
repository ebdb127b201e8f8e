"""<chatkit-client> attaches a file through the platform's two-phase upload, in Chromium.

The page is on the tenant's site (another origin): the component creates the attachment,
uploads the bytes to the link the platform answered (cross-origin, without credentials),
sends the message with it, and shows the image from the platform's preview link.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from hosted_agents.models import Agent
from tenants.models import Attachment
from tenants.services import IssuedApiKey
from tests.console.conftest import STUB_KEY, Site
from tests.support.live_server import LiveServer
from tests.support.openai_stub import OpenAIStub

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

WAIT_MS = 30_000


def png(width: int = 4, height: int = 4) -> bytes:
    """Return a real (decodable) PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xd0\x40\x20" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def live(
    playwright: Playwright,  # first: see tests/console/conftest.py
    django_db_setup: None,
    tmp_path_factory: pytest.TempPathFactory,
    stub: OpenAIStub,
    media: Path,
) -> Iterator[LiveServer]:
    env = {"OPENAI_API_KEY": STUB_KEY, "OPENAI_BASE_URL": stub.base_url, "MEDIA_ROOT": str(media)}
    server = LiveServer.start("daphne", tmp_path_factory.mktemp("daphne"), env=env)
    yield server
    server.stop()


def page_with_attachments(browser: Browser, site: Site, agent: Agent, token: str) -> Page:
    url = site.page("attach", agent=agent.slug, token=token, attachments="")
    html = site.root / "attach.html"
    # The tenant's page must let images come from the platform (the preview links).
    html.write_text(
        html.read_text().replace(
            "img-src 'self' data: blob:", f"img-src 'self' data: blob: {site.platform.base_url}"
        )
    )
    page = browser.new_context().new_page()
    page.goto(url)
    expect(page.locator("chatkit-client .composer")).to_be_visible()
    return page


def test_an_attached_image_is_uploaded_sent_and_shown_from_its_preview(
    browser: Browser,
    site: Site,
    scripted: Agent,
    chat_key: IssuedApiKey,
    stub: OpenAIStub,
    media: Path,
) -> None:
    image = png()
    page = page_with_attachments(browser, site, scripted, chat_key.raw)

    page.locator("chatkit-client input[type=file]").set_input_files(
        files=[{"name": "dot.png", "mimeType": "image/png", "buffer": image}]
    )
    expect(page.locator("chatkit-client .chip-ready")).to_be_visible(timeout=WAIT_MS)
    box = page.locator("chatkit-client textarea.input")
    box.fill("What colour is this? [attach]")
    box.press("Enter")

    shown = page.locator("chatkit-client .user .attachment-image")
    expect(shown).to_be_visible(timeout=WAIT_MS)
    page.wait_for_function(
        "() => { const img = document.querySelector('chatkit-client').shadowRoot"
        ".querySelector('.user .attachment-image'); return img && img.naturalWidth === 4; }",
        timeout=WAIT_MS,
    )
    expect(page.locator("chatkit-client .assistant").last).to_contain_text(
        "A short scripted answer.", timeout=WAIT_MS
    )
    [stored] = [path for path in media.rglob("*") if path.is_file()]
    assert stored.read_bytes() == image
    sent = next(r for r in reversed(stub.requests) if "[attach]" in json.dumps(r.body))
    assert "data:image/png;base64," in json.dumps(sent.body)
    assert Attachment.unscoped.get().thread is not None
    page.context.close()


def test_a_refused_file_shows_as_not_uploaded(
    browser: Browser, site: Site, scripted: Agent, chat_key: IssuedApiKey
) -> None:
    page = page_with_attachments(browser, site, scripted, chat_key.raw)

    page.locator("chatkit-client input[type=file]").set_input_files(
        files=[{"name": "tool.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ"}]
    )

    failed = page.locator("chatkit-client .chip-failed")
    expect(failed).to_contain_text("not uploaded", timeout=WAIT_MS)
    assert "not accepted" in (failed.get_attribute("title") or "")
    assert not Attachment.unscoped.exists()
    page.context.close()
