"""Every ChatKit request type through the live endpoint, under daphne and under uvicorn."""

from __future__ import annotations

import pytest

from tenants.models import Thread, ThreadItem
from tests.chatkit_endpoints.client import Endpoint, user_input

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_threads_create_streams_the_answer_as_server_sent_events(endpoint: Endpoint) -> None:
    stream = endpoint.create("Hello?")

    assert stream.status == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.headers["cache-control"] == "no-cache"
    assert stream.kinds()[:3] == ["thread.created", "thread.item.done", "stream_options"]
    assert stream.text() == "Hello from the stub."
    assert all(
        block.startswith("data: ") or block.startswith(": keep-alive")
        for block in stream.raw.split("\n\n")
        if block
    )


def test_non_streaming_requests_answer_json(endpoint: Endpoint) -> None:
    thread_id = endpoint.create("First question").thread_id()

    thread = endpoint.call("threads.get_by_id", thread_id=thread_id)
    assert thread["id"] == thread_id and thread["title"] == "First question"
    assert [item["type"] for item in thread["items"]["data"]] == [
        "user_message",
        "assistant_message",
    ]
    listed = endpoint.call("threads.list", limit=10)
    assert [t["id"] for t in listed["data"]] == [thread_id]
    items = endpoint.call("items.list", thread_id=thread_id, order="asc")
    assistant_id = items["data"][1]["id"]

    renamed = endpoint.call("threads.update", thread_id=thread_id, title="Renamed")
    assert renamed["title"] == "Renamed"
    assert (
        endpoint.call(
            "items.feedback", thread_id=thread_id, item_ids=[assistant_id], kind="positive"
        )
        == {}
    )
    assert endpoint.call("threads.delete", thread_id=thread_id) == {}
    assert endpoint.call("threads.list")["data"] == []


def test_add_user_message_and_retry_stream_on_an_existing_thread(endpoint: Endpoint) -> None:
    thread_id = endpoint.create("One").thread_id()

    added = endpoint.stream(
        "threads.add_user_message", thread_id=thread_id, input=user_input("Two")
    )
    assert added.kinds()[:2] == ["thread.item.done", "stream_options"]
    assert "thread.created" not in added.kinds()
    user_item = added.events[0]["item"]["id"]

    retried = endpoint.stream("threads.retry_after_item", thread_id=thread_id, item_id=user_item)
    assert retried.kinds()[0] == "stream_options"
    assert retried.text() == "Hello from the stub."
    items = endpoint.call("items.list", thread_id=thread_id, order="asc")["data"]
    assert [item["type"] for item in items] == [
        "user_message", "assistant_message", "user_message", "assistant_message",
    ]  # fmt: skip


def test_streamed_requests_that_cannot_start_are_refused_before_the_stream(
    endpoint: Endpoint,
) -> None:
    # As the official SDK does: a missing thread or item is a 404, and a request that cannot
    # apply to the thread (no pending tool call) a 400, all before any byte is streamed.
    thread_id = endpoint.create("One").thread_id()

    for type_, params, status in [
        ("threads.add_client_tool_output", {"thread_id": thread_id, "result": {}}, 400),
        ("threads.custom_action", {"thread_id": thread_id, "item_id": "msg_none",
                                   "action": {"type": "x", "payload": {}}}, 404),
        ("threads.add_structured_input", {"thread_id": thread_id, "item_id": "msg_none",
                                          "input": {"answers": {}, "status": "answered"}}, 404),
        ("threads.add_user_message", {"thread_id": "thr_missing", "input": user_input("x")}, 404),
    ]:  # fmt: skip
        stream = endpoint.stream(type_, **params)
        assert stream.status == status, type_
        assert stream.events == [], type_
    items = endpoint.call("items.list", thread_id=thread_id)["data"]
    assert len(items) == 2, "a refused request wrote nothing"


@pytest.mark.parametrize(
    ("type_", "params"),
    [
        ("threads.sync_custom_action", {"thread_id": "T", "action": {"type": "x", "payload": {}}}),
        ("input.transcribe", {"audio_base64": "AAAA", "mime_type": "audio/webm"}),
    ],
)
def test_operations_the_platform_does_not_offer_answer_501(
    endpoint: Endpoint, type_: str, params: dict[str, object]
) -> None:
    if type_ == "threads.sync_custom_action":
        params = {**params, "thread_id": endpoint.create("One").thread_id()}
    response = endpoint.post({"type": type_, "params": params})

    assert response.status_code == 501
    assert response.json()["error"]["code"] == "unsupported_operation"


def test_a_missing_thread_answers_404(endpoint: Endpoint) -> None:
    response = endpoint.post({"type": "threads.get_by_id", "params": {"thread_id": "thr_nope"}})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "invalid_envelope"),
        (b'{"type": "threads.explode", "params": {}}', "unknown_type"),
        (b'{"type": "threads.list"}', "invalid_params"),
        (b'{"type": "threads.create", "params": {"input": {}}}', "invalid_params"),
    ],
)
def test_bad_bodies_answer_400_and_write_nothing(
    endpoint: Endpoint, body: bytes, code: str
) -> None:
    response = endpoint.post(body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert Thread.unscoped.count() == 0 and ThreadItem.unscoped.count() == 0


def test_wrong_content_type_method_and_size_are_refused(endpoint: Endpoint) -> None:
    body = {"type": "threads.list", "params": {}}

    wrong_type = endpoint.post(body, **{"content-type": "text/plain"})
    assert wrong_type.status_code == 415
    assert wrong_type.json()["error"]["code"] == "unsupported_media_type"

    # A form or multipart body reaches the endpoint too, even a malformed one: under daphne,
    # Twisted parsed them first and answered a multipart body without a boundary itself,
    # with a bare 400 and no JSON (chatkit_platform/daphne_requests.py).
    for content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = endpoint.post(b"--x\r\nnot a form\r\n", **{"content-type": content_type})
        assert form.status_code == 415, content_type
        assert form.json()["error"]["code"] == "unsupported_media_type"

    get = endpoint.client.get(endpoint.server.url(endpoint.path), headers=endpoint.headers())
    assert get.status_code == 405 and get.headers["allow"] == "POST, OPTIONS"

    huge = {"type": "threads.create", "params": {"input": user_input("x" * 70_000)}}
    too_big = endpoint.post(huge)
    assert too_big.status_code == 413
    assert too_big.json()["error"] == {
        "code": "request_too_large",
        "message": "The request body is larger than 65536 bytes.",
        "limit": 65536,
    }
    assert Thread.unscoped.count() == 0
