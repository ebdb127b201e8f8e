"""Attachments over HTTP: create, upload once, send, preview, delete; and every refusal.

A daphne of its own, with its files under a temporary MEDIA_ROOT the tests look into: a
refused upload leaves no file there, a deleted attachment takes its file along.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from django.utils import timezone

from hosted_agents.models import Agent
from tenants.models import Attachment, ClientSession, Tenant
from tenants.services import (
    IssuedApiKey,
    client_session_cancel,
    client_session_create,
    tenant_update,
)
from tests.chatkit_endpoints.client import Endpoint, user_input
from tests.chatkit_endpoints.conftest import live_env
from tests.support.live_server import LiveServer
from tests.support.openai_stub import OpenAIStub

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
NOTES = b"Order 1234: two lamps, one chair.\nDeliver on Friday.\n"
ALLOWED_ORIGIN = "https://shop.acme.com"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _empty_media(media: Path) -> None:
    """Each test starts with no file: rows of earlier tests went with their database."""
    for path in list(media.iterdir()):
        shutil.rmtree(path)


@pytest.fixture(scope="module")
def server(
    django_db_setup: None,
    tmp_path_factory: pytest.TempPathFactory,
    stub: OpenAIStub,
    media: Path,
) -> Iterator[LiveServer]:
    env = {**live_env(stub), "MEDIA_ROOT": str(media), "CHATKIT_ATTACHMENT_MAX_FILES": "3"}
    live = LiveServer.start("daphne", tmp_path_factory.mktemp("daphne"), env=env)
    yield live
    live.stop()


@pytest.fixture
def api(server: LiveServer, assistant: Agent, chat_key: IssuedApiKey) -> Iterator[Endpoint]:
    client = Endpoint(server, "acme", assistant.slug, chat_key.raw)
    yield client
    client.close()


Mint = Callable[..., Endpoint]


@pytest.fixture
def mint(server: LiveServer, acme: Tenant, assistant: Agent) -> Iterator[Mint]:
    """Return a client whose client secret is a session with `file_upload` as given."""
    clients: list[Endpoint] = []

    def make(user: str = "user-1", **file_upload: Any) -> Endpoint:
        issued = client_session_create(
            tenant=acme, agent=assistant, user=user, workflow_ref=assistant.slug,
            chatkit_configuration={"file_upload": {"enabled": True, **file_upload}},
        )  # fmt: skip
        clients.append(Endpoint(server, "acme", assistant.slug, issued.client_secret, user=None))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def files_in(media: Path) -> list[Path]:
    return sorted(path for path in media.rglob("*") if path.is_file())


def create(endpoint: Endpoint, name: str, mime_type: str, size: int) -> httpx.Response:
    params = {"name": name, "size": size, "mime_type": mime_type}
    return endpoint.post({"type": "attachments.create", "params": params})


def upload(
    attachment: dict[str, Any], content: bytes, name: str = "file", **headers: str
) -> httpx.Response:
    """Send the bytes as the ChatKit client does: the descriptor's URL, method, headers."""
    descriptor = attachment["upload_descriptor"]
    return httpx.request(
        descriptor["method"],
        descriptor["url"],
        files={name: (attachment["name"], content, attachment["mime_type"])},
        headers={**descriptor["headers"], **headers},
        timeout=30,
    )


def created(endpoint: Endpoint, name: str, mime_type: str, content: bytes) -> dict[str, Any]:
    response = create(endpoint, name, mime_type, len(content))
    assert response.status_code == 200, response.text
    attachment: dict[str, Any] = response.json()
    return attachment


def uploaded(endpoint: Endpoint, name: str, mime_type: str, content: bytes) -> dict[str, Any]:
    attachment = created(endpoint, name, mime_type, content)
    response = upload(attachment, content)
    assert response.status_code == 200, response.text
    return attachment


def message_with(text: str, *attachment_ids: str) -> dict[str, Any]:
    return {**user_input(text), "attachments": list(attachment_ids)}


def input_parts(stub: OpenAIStub, marker: str) -> list[dict[str, Any]]:
    """The content parts of the user message holding `marker`, as the model received them."""
    request = next(r for r in reversed(stub.requests) if marker in json.dumps(r.body))
    for message in request.body["input"]:
        content = message.get("content")
        if isinstance(content, list) and marker in json.dumps(content):
            return content
    raise AssertionError(f"no message with {marker}")


def error_of(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/json"
    code: str = response.json()["error"]["code"]
    return code


def test_an_image_goes_from_upload_to_the_model_to_the_thread_to_its_preview_and_away(
    api: Endpoint, stub: OpenAIStub, media: Path
) -> None:
    attachment = created(api, "cat.png", "image/png", PNG)
    assert attachment["type"] == "image" and attachment["id"].startswith("atc_")
    assert attachment["upload_descriptor"]["method"] == "POST"
    assert urlsplit(attachment["upload_descriptor"]["url"]).path == (
        f"/t/acme/agents/assistant/attachments/{attachment['id']}/upload"
    )
    assert "metadata" not in attachment

    answer = upload(attachment, PNG)

    assert answer.status_code == 200, answer.text
    assert "upload_descriptor" not in answer.json()
    [stored] = files_in(media)
    assert stored.read_bytes() == PNG
    stream = api.stream(
        "threads.create", input=message_with("[img] what is this?", attachment["id"])
    )
    assert stream.text() == "Hello from the stub."
    [text, image] = input_parts(stub, "[img] what is this?")
    assert text["type"] == "input_text"
    assert image["type"] == "input_image"
    assert image["image_url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()

    items = api.call("items.list", thread_id=stream.thread_id(), order="asc")["data"]
    [shown] = items[0]["attachments"]
    assert (shown["id"], shown["name"], shown["thread_id"]) == (
        attachment["id"], "cat.png", stream.thread_id()
    )  # fmt: skip
    assert "upload_descriptor" not in shown and "metadata" not in shown
    preview = httpx.get(shown["preview_url"], timeout=30)
    assert preview.status_code == 200
    assert preview.headers["content-type"] == "image/png"
    assert preview.headers["x-content-type-options"] == "nosniff"
    assert preview.content == PNG

    assert api.call("attachments.delete", attachment_id=attachment["id"]) == {}
    assert files_in(media) == []
    assert httpx.get(shown["preview_url"], timeout=30).status_code == 404
    assert not Attachment.unscoped.filter(public_id=attachment["id"]).exists()


def test_a_text_file_reaches_the_model_as_text_and_a_pdf_as_a_file(
    api: Endpoint, stub: OpenAIStub
) -> None:
    notes = uploaded(api, "notes.txt", "text/plain", NOTES)
    pdf = uploaded(api, "spec.pdf", "application/pdf", b"%PDF-1.4\n%fake\n")
    assert notes["type"] == "file" and "preview_url" not in notes

    api.stream("threads.create", input=message_with("[txt] read it", notes["id"], pdf["id"]))

    [_, text, file] = input_parts(stub, "[txt] read it")
    assert text["type"] == "input_text"
    assert "notes.txt" in text["text"] and "Deliver on Friday." in text["text"]
    assert file["type"] == "input_file" and file["filename"] == "spec.pdf"
    assert file["file_data"].startswith("data:application/pdf;base64,")


def test_a_thread_deleted_takes_its_attachments_and_their_files(api: Endpoint, media: Path) -> None:
    attachment = uploaded(api, "cat.png", "image/png", PNG)
    stream = api.stream("threads.create", input=message_with("with a cat", attachment["id"]))
    assert len(files_in(media)) == 1

    assert api.call("threads.delete", thread_id=stream.thread_id()) == {}

    assert not Attachment.unscoped.filter(public_id=attachment["id"]).exists()
    assert files_in(media) == []


def test_an_upload_works_once(api: Endpoint, media: Path) -> None:
    attachment = uploaded(api, "cat.png", "image/png", PNG)

    again = upload(attachment, PNG)

    assert again.status_code == 409
    assert error_of(again) == "already_uploaded"
    assert [path.read_bytes() for path in files_in(media)] == [PNG]


def test_a_file_of_a_refused_type_is_refused_at_create_and_at_upload(
    api: Endpoint, media: Path
) -> None:
    refused = create(api, "setup.exe", "application/x-msdownload", 100)
    assert refused.status_code == 415
    assert error_of(refused) == "type_not_allowed"

    disguised = created(api, "cat.png", "image/png", PNG)
    answer = upload(disguised, b"MZ\x90\x00 not an image at all")
    assert answer.status_code == 415
    assert error_of(answer) == "content_mismatch"
    binary_text = created(api, "notes.txt", "text/plain", NOTES)
    assert upload(binary_text, b"\xff\xfe\x00\x00binary").status_code == 415

    assert files_in(media) == []
    # Nothing half-written: the attachment can still get its real file.
    assert upload(disguised, PNG).status_code == 200


def test_a_file_over_the_limit_is_refused_with_413_and_leaves_no_file(
    mint: Mint, media: Path
) -> None:
    browser = mint(max_file_size=1)
    megabyte = 1024 * 1024

    too_big = create(browser, "big.png", "image/png", megabyte + 1)
    assert too_big.status_code == 413
    assert error_of(too_big) == "file_too_large"
    assert str(megabyte) in too_big.json()["error"]["message"]

    declared_small = created(browser, "big.png", "image/png", PNG)
    answer = upload(declared_small, PNG + b"\x00" * megabyte)
    assert answer.status_code == 413
    assert error_of(answer) == "file_too_large"
    assert files_in(media) == []


def test_files_beyond_the_sessions_max_files_are_refused(mint: Mint) -> None:
    browser = mint(max_files=2)
    created(browser, "a.png", "image/png", PNG)
    created(browser, "b.png", "image/png", PNG)

    third = create(browser, "c.png", "image/png", len(PNG))

    assert third.status_code == 409
    assert error_of(third) == "too_many_files"


def test_an_api_key_caller_gets_the_platforms_default_number_of_pending_files(
    api: Endpoint,
) -> None:
    for name in ("a.png", "b.png", "c.png"):
        created(api, name, "image/png", PNG)

    assert error_of(create(api, "d.png", "image/png", len(PNG))) == "too_many_files"
    # Another end user has their own count.
    assert create(api.clone(user="user-2"), "d.png", "image/png", len(PNG)).status_code == 200


def test_a_session_without_file_upload_refuses_attachments(
    server: LiveServer, acme: Tenant, assistant: Agent
) -> None:
    issued = client_session_create(
        tenant=acme, agent=assistant, user="user-1", workflow_ref=assistant.slug
    )
    browser = Endpoint(server, "acme", assistant.slug, issued.client_secret, user=None)

    refused = create(browser, "a.png", "image/png", len(PNG))

    assert refused.status_code == 403
    assert error_of(refused) == "uploads_disabled"
    browser.close()


def test_another_end_users_attachment_answers_like_a_missing_one(
    api: Endpoint, media: Path
) -> None:
    mine = created(api, "cat.png", "image/png", PNG)
    other = api.clone(user="user-2")

    sent = other.post(
        {"type": "threads.create", "params": {"input": message_with("hi", mine["id"])}}
    )
    deleted = other.post({"type": "attachments.delete", "params": {"attachment_id": mine["id"]}})
    missing = api.post({"type": "attachments.delete", "params": {"attachment_id": "atc_nothing"}})
    as_other = upload(
        mine, PNG, authorization=f"Bearer {api.token}", **{"x-chatkit-user": "user-2"}
    )

    assert (sent.status_code, deleted.status_code, missing.status_code) == (404, 404, 404)
    assert as_other.status_code == 404 and error_of(as_other) == "not_found"
    assert files_in(media) == []
    as_owner = upload(
        mine, PNG, authorization=f"Bearer {api.token}", **{"x-chatkit-user": "user-1"}
    )
    assert as_owner.status_code == 200


def test_an_attachment_not_uploaded_yet_cannot_be_sent(api: Endpoint) -> None:
    pending = created(api, "cat.png", "image/png", PNG)

    sent = api.post(
        {"type": "threads.create", "params": {"input": message_with("hi", pending["id"])}}
    )

    assert sent.status_code == 404
    assert api.call("threads.list")["data"] == []


def test_a_tampered_or_foreign_upload_link_is_refused(api: Endpoint, media: Path) -> None:
    attachment = created(api, "cat.png", "image/png", PNG)
    url = attachment["upload_descriptor"]["url"]

    def at(link: str) -> dict[str, Any]:
        return {**attachment, "upload_descriptor": {**attachment["upload_descriptor"], "url": link}}

    tampered = at(url[:-6] + "AAAAAA")
    elsewhere = at(url.replace("/agents/assistant/", "/agents/other/"))
    no_token = at(url.split("?")[0])

    for link in (tampered, elsewhere, no_token):
        answer = upload(link, PNG)
        assert answer.status_code == 404, answer.text
        assert error_of(answer) == "not_found"
    assert error_of(upload(attachment, PNG, name="not_file")) == "invalid_upload"
    assert files_in(media) == []


def test_an_ended_session_can_neither_create_nor_upload(
    mint: Mint, media: Path, acme: Tenant
) -> None:
    cancelled, expired = mint(user="user-1"), mint(user="user-2")
    attachment = created(cancelled, "cat.png", "image/png", PNG)
    later = created(expired, "cat.png", "image/png", PNG)
    sessions = {s.end_user_id: s for s in ClientSession.unscoped.all()}
    client_session_cancel(tenant=acme, session_id=sessions["user-1"].public_id)
    ClientSession.unscoped.filter(pk=sessions["user-2"].pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    after_cancel = upload(attachment, PNG)
    after_expiry = upload(later, PNG)
    refused = create(expired, "cat.png", "image/png", len(PNG))

    assert (after_cancel.status_code, error_of(after_cancel)) == (401, "session_ended")
    # The link expires with its session.
    assert after_expiry.status_code == 401
    assert error_of(after_expiry) in ("upload_link_expired", "session_ended")
    assert (refused.status_code, error_of(refused)) == (401, "invalid_credential")
    assert files_in(media) == []


def test_an_allowed_origin_uploads_and_reads_the_answer(api: Endpoint, acme: Tenant) -> None:
    tenant_update(tenant=acme, changes={"allowed_origins": [ALLOWED_ORIGIN]})
    attachment = created(api, "cat.png", "image/png", PNG)

    allowed = upload(attachment, PNG, origin=ALLOWED_ORIGIN)
    refused = upload(created(api, "b.png", "image/png", PNG), PNG, origin="https://evil.example")

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers
    assert error_of(refused) == "origin_not_allowed"


def test_links_are_never_made_for_a_host_the_platform_does_not_serve(api: Endpoint) -> None:
    params = {"name": "cat.png", "size": len(PNG), "mime_type": "image/png"}

    refused = api.post({"type": "attachments.create", "params": params}, host="evil.example")

    assert refused.status_code == 400
    assert error_of(refused) == "invalid_host"
    assert not Attachment.unscoped.exists()
