"""Streaming as produced, keep-alives, runs that outlive the connection, following a run."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.conf import settings

from hosted_agents.models import Agent
from tenants.models import ThreadItem
from tenants.services import IssuedApiKey
from tests.chatkit_endpoints.client import Endpoint, Stream, user_input, wait_for
from tests.chatkit_endpoints.conftest import SLOW_DELAY, SLOW_WORDS, slow_answer
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def endpoint(live: LiveServer, assistant: Agent, chat_key: IssuedApiKey) -> Iterator[Endpoint]:
    client = Endpoint(live, "acme", assistant.slug, chat_key.raw)
    yield client
    client.close()


def is_delta(event: dict[str, Any]) -> bool:
    return event["type"] == "thread.item.updated"


def assistant_texts(endpoint: Endpoint, thread_id: str) -> list[str]:
    items = endpoint.call("items.list", thread_id=thread_id, order="asc", limit=100)["data"]
    return [
        "".join(part["text"] for part in item["content"])
        for item in items
        if item["type"] == "assistant_message"
    ]


def test_events_are_written_as_the_model_produces_them(endpoint: Endpoint) -> None:
    stream = endpoint.create("[slow] tell me a story")

    assert stream.text() == slow_answer()
    deltas = [
        at for at, event in zip(stream.arrivals, stream.events, strict=True) if is_delta(event)
    ]
    assert len(deltas) >= SLOW_WORDS // 2
    # Buffered, they would arrive together at the end; streamed, over the model's pauses.
    assert deltas[-1] - deltas[0] >= SLOW_DELAY * SLOW_WORDS / 2


def test_a_keep_alive_comment_is_sent_while_nothing_else_is(endpoint: Endpoint) -> None:
    stream = endpoint.create("[pause] take your time")

    assert stream.text() == "After a pause."
    before_answer = stream.raw.split('"thread.item.added"')[0]
    assert ": keep-alive\n\n" in before_answer


def test_a_client_that_leaves_mid_answer_finds_the_whole_answer_later(
    endpoint: Endpoint,
) -> None:
    partial = endpoint.create("[slow] a long answer please", until=is_delta)
    thread_id = partial.thread_id()
    # The connection is closed here, a few words into the answer.

    texts = wait_for(
        lambda: [t for t in assistant_texts(endpoint, thread_id) if t == slow_answer()],
        what="the whole answer in the thread",
    )
    assert texts == [slow_answer()]
    thread = endpoint.call("threads.get_by_id", thread_id=thread_id)
    assert [item["type"] for item in thread["items"]["data"]] == [
        "user_message",
        "assistant_message",
    ]


def test_a_second_message_while_a_run_goes_on_gets_a_protocol_error(endpoint: Endpoint) -> None:
    thread_id = endpoint.create("first").thread_id()
    first = endpoint.clone(client=httpx.Client(timeout=60))
    started = threading.Event()
    result: list[Stream] = []

    def slow_turn() -> None:
        def seen(event: dict[str, Any]) -> bool:
            if is_delta(event):
                started.set()
            return False

        result.append(
            first.stream(
                "threads.add_user_message", until=seen, thread_id=thread_id,
                input=user_input("[slow] again"),
            )
        )  # fmt: skip

    worker = threading.Thread(target=slow_turn)
    worker.start()
    try:
        assert started.wait(30)
        items_before = ThreadItem.unscoped.count()
        second = endpoint.stream(
            "threads.add_user_message", thread_id=thread_id, input=user_input("meanwhile")
        )
        assert second.status == 200
        [error] = second.events
        assert error["type"] == "error" and "still answering" in error["message"]
        assert ThreadItem.unscoped.count() == items_before
    finally:
        worker.join(60)
        first.close()
    assert result[0].text() == slow_answer()
    # Once the run is over, the thread takes messages again.
    assert (
        endpoint.stream(
            "threads.add_user_message", thread_id=thread_id, input=user_input("now")
        ).text()
        == "Hello from the stub."
    )


def _follow_midway(leader: Endpoint, follower: Endpoint) -> tuple[Stream, Stream]:
    """Start a slow turn with `leader`; once it streams, follow it with `follower`."""
    started = threading.Event()
    leader_stream: list[Stream] = []

    def lead() -> None:
        def seen(event: dict[str, Any]) -> bool:
            if is_delta(event):
                started.set()
            return False

        leader_stream.append(leader.create("[slow] follow me", until=seen))

    worker = threading.Thread(target=lead)
    worker.start()
    try:
        assert started.wait(30)
        thread_id = wait_for(lambda: leader.call("threads.list")["data"])[0]["id"]
        followed = follower.follow(thread_id)
    finally:
        worker.join(60)
    return leader_stream[0], followed


def test_a_returning_client_follows_the_run_to_its_end(endpoint: Endpoint) -> None:
    follower = endpoint.clone(client=httpx.Client(timeout=60))
    try:
        led, followed = _follow_midway(endpoint, follower)
    finally:
        follower.close()

    assert followed.status == 200
    assert followed.headers["content-type"].startswith("text/event-stream")
    # The replay starts at the beginning, then the live events follow, each once.
    assert followed.events == led.events
    assert followed.text() == slow_answer()


def test_following_a_thread_without_a_run_answers_204_and_an_unknown_one_404(
    endpoint: Endpoint,
) -> None:
    thread_id = endpoint.create("done already").thread_id()

    idle = endpoint.client.get(
        endpoint.server.url(f"/t/acme/agents/assistant/threads/{thread_id}/stream"),
        headers=endpoint.headers(),
    )
    other_user = endpoint.clone(user="someone-else").client.get(
        endpoint.server.url(f"/t/acme/agents/assistant/threads/{thread_id}/stream"),
        headers=endpoint.clone(user="someone-else").headers(),
    )

    assert idle.status_code == 204
    assert other_user.status_code == 404
    assert other_user.json()["error"]["code"] == "not_found"


def test_a_run_is_followed_from_another_web_process(
    live: LiveServer,
    second_server: LiveServer,
    assistant: Agent,
    chat_key: IssuedApiKey,
) -> None:
    leader = Endpoint(live, "acme", assistant.slug, chat_key.raw)
    follower = Endpoint(second_server, "acme", assistant.slug, chat_key.raw)
    try:
        led, followed = _follow_midway(leader, follower)
        thread_id = led.thread_id()
        wait_for(lambda: slow_answer() in assistant_texts(follower, thread_id))
    finally:
        leader.close()
        follower.close()

    if settings.REDIS_URL:
        assert followed.events == led.events
        assert followed.text() == slow_answer()
    else:
        # The in-memory channel layer and cache reach one process: the other one knows of
        # no run on the thread, and says so; the answer is in the thread all the same.
        assert followed.status == 204 and followed.events == []
