"""The console's live WebSocket: members of the tenant watch a thread's runs as they happen."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from hosted_agents.models import Agent
from tenants.services import IssuedApiKey
from tests.chatkit_endpoints.client import Endpoint, Stream, user_input
from tests.chatkit_endpoints.conftest import slow_answer
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def endpoint(daphne: LiveServer, assistant: Agent, chat_key: IssuedApiKey) -> Iterator[Endpoint]:
    client = Endpoint(daphne, "acme", assistant.slug, chat_key.raw)
    yield client
    client.close()


def session_cookie(user: AbstractBaseUser | None) -> dict[str, str]:
    if user is None:
        return {}
    client = Client()
    client.force_login(user)
    return {"Cookie": f"sessionid={client.cookies['sessionid'].value}"}


def watch(server: LiveServer, thread_id: str, user: AbstractBaseUser | None) -> ClientConnection:
    url = f"ws://127.0.0.1:{server.port}/t/acme/live/threads/{thread_id}"
    headers = {"Origin": server.base_url, **session_cookie(user)}
    return connect(url, additional_headers=headers, open_timeout=30)


def test_a_member_watches_a_runs_events_and_new_items_live(
    endpoint: Endpoint, acme_viewer: AbstractBaseUser
) -> None:
    thread_id = endpoint.create("first").thread_id()
    answer: list[Stream] = []
    with watch(endpoint.server, thread_id, acme_viewer) as socket:
        turn = threading.Thread(
            target=lambda: answer.append(
                endpoint.stream(
                    "threads.add_user_message", thread_id=thread_id, input=user_input("[slow] go")
                )
            )
        )
        turn.start()
        seen: list[dict[str, Any]] = []
        while not seen or seen[-1]["type"] != "run.done":
            seen.append(json.loads(socket.recv(timeout=30)))
        turn.join(60)

    events = [message["event"] for message in seen if message["type"] == "thread.event"]
    assert events == answer[0].events
    done = [e["item"] for e in events if e["type"] == "thread.item.done"]
    assert [item["type"] for item in done] == ["user_message", "assistant_message"]
    assert "".join(part["text"] for part in done[1]["content"]) == slow_answer()


@pytest.mark.parametrize("who", ["anonymous", "outsider", "globex_owner"])
def test_only_members_of_the_tenant_may_watch(
    endpoint: Endpoint, request: pytest.FixtureRequest, who: str
) -> None:
    thread_id = endpoint.create("first").thread_id()
    user = None if who == "anonymous" else request.getfixturevalue(who)

    with pytest.raises(InvalidStatus) as refused:
        watch(endpoint.server, thread_id, user)

    assert refused.value.response.status_code == 403


def test_a_thread_that_does_not_exist_is_refused_like_a_foreign_one(
    endpoint: Endpoint, acme_owner: AbstractBaseUser
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        watch(endpoint.server, "thr_missing", acme_owner)

    assert refused.value.response.status_code == 403
