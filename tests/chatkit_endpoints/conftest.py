"""Live-server harness of the ChatKit endpoint tests.

stub          the loopback OpenAI stub every live server's agents talk to; it answers by
              what the last user message asks: "[slow]" streams a long answer word by word
              with pauses, "[pause]" waits before its first byte, anything else is short
live          a daphne (and, for the tests that ask, uvicorn) process on the test database
assistant     acme's published agent "assistant" on the stub's model
chat_key      an acme API key with only the chat scope
endpoint      a client (client.py) of the assistant's endpoint with the chat key
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings

from chatkit_endpoints.state import KEY_PREFIX
from hosted_agents.models import Agent
from hosted_agents.services import agent_create, agent_publish
from tenants.models import ApiKey, Tenant
from tenants.services import IssuedApiKey, api_key_create
from tests.chatkit_endpoints.client import Endpoint
from tests.support.live_server import LiveServer, ServerKind
from tests.support.openai_stub import OpenAIStub, RecordedRequest, Script, Text, Turn

SLOW_WORDS = 24
SLOW_DELAY = 0.15
STUB_KEY = "sk-stub-0123456789abcdef"
LIVE_ENV = {
    "CHATKIT_SSE_KEEPALIVE_SECONDS": "1",
    "CHATKIT_MAX_REQUEST_BYTES": "65536",
}


def slow_answer() -> str:
    return " ".join(f"word{n}" for n in range(SLOW_WORDS))


def _answer(request: RecordedRequest) -> Script:
    body = request.body if isinstance(request.body, dict) else {}
    last = json.dumps((body.get("input") or body.get("messages") or [{}])[-1])
    if "[slow]" in last:
        return Turn([Text(slow_answer())], delay=SLOW_DELAY)
    if "[pause]" in last:
        return Turn([Text("After a pause.")], headers_delay=2.5)
    return Turn([Text("Hello from the stub.")])


@pytest.fixture(scope="session", autouse=True)
def _fresh_shared_state() -> None:
    """Forget counters and run entries of earlier runs: ids restart with each test database."""
    if not settings.REDIS_URL:
        return
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        keys = list(client.scan_iter(match=KEY_PREFIX + "*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="session")
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub(api_key=STUB_KEY) as server:
        server.responder = _answer
        yield server


def live_env(stub: OpenAIStub) -> dict[str, str]:
    return {**LIVE_ENV, "OPENAI_API_KEY": STUB_KEY, "OPENAI_BASE_URL": stub.base_url}


def _start(kind: ServerKind, factory: pytest.TempPathFactory, stub: OpenAIStub) -> LiveServer:
    return LiveServer.start(kind, factory.mktemp(kind), env=live_env(stub))


@pytest.fixture(scope="module")
def daphne(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory, stub: OpenAIStub
) -> Iterator[LiveServer]:
    server = _start("daphne", tmp_path_factory, stub)
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["daphne", "uvicorn"])
def live(
    request: pytest.FixtureRequest,
    django_db_setup: None,
    tmp_path_factory: pytest.TempPathFactory,
    stub: OpenAIStub,
) -> Iterator[LiveServer]:
    server = _start(request.param, tmp_path_factory, stub)
    yield server
    server.stop()


@pytest.fixture
def second_server(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory, stub: OpenAIStub
) -> Iterator[LiveServer]:
    server = _start("daphne", tmp_path_factory, stub)
    yield server
    server.stop()


@pytest.fixture
def assistant(acme: Tenant) -> Agent:
    agent = agent_create(
        tenant=acme, slug="assistant", name="Assistant", model="gpt-4.1-mini",
        instructions="Answer briefly.",
    )  # fmt: skip
    agent_publish(tenant=acme, agent_id=agent.pk)
    agent.refresh_from_db()
    return agent


@pytest.fixture
def chat_key(acme: Tenant) -> IssuedApiKey:
    return api_key_create(tenant=acme, name="backend", scopes=[ApiKey.Scope.CHAT])


@pytest.fixture
def endpoint(live: LiveServer, assistant: Agent, chat_key: IssuedApiKey) -> Iterator[Endpoint]:
    client = Endpoint(live, "acme", assistant.slug, chat_key.raw)
    yield client
    client.close()
