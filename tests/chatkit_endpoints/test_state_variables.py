"""A client session's `state_variables` reach the agent's HTTP tools, through the endpoint.

The session's values fill `{{ state.name }}` in the tool's URL (URL-encoded, one segment)
and in its header values (percent-encoded control characters: no header injection).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hosted_agents.models import Agent
from hosted_agents.services import agent_create, agent_publish, http_tool_create
from tenants.models import Tenant
from tenants.services import client_session_create
from tests.chatkit_endpoints.client import Endpoint
from tests.chatkit_endpoints.conftest import live_env
from tests.support.live_server import LiveServer
from tests.support.openai_stub import FunctionCall, OpenAIStub

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@dataclass
class Seen:
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


@pytest.fixture
def api_server() -> Iterator[tuple[str, Seen]]:
    """A loopback HTTP server the tool calls; it records each request's path and headers."""
    seen = Seen()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            body = json.dumps({"offers": ["free shipping"]}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory, stub: OpenAIStub
) -> Iterator[LiveServer]:
    env = {**live_env(stub), "CHATKIT_ALLOW_PRIVATE_NETWORK": "1"}
    live = LiveServer.start("daphne", tmp_path_factory.mktemp("daphne"), env=env)
    yield live
    live.stop()


@pytest.fixture
def offers_agent(acme: Tenant, api_server: tuple[str, Seen]) -> Agent:
    base, _ = api_server
    tool = http_tool_create(
        tenant=acme,
        name="offers",
        description="The offers for the customer's account.",
        url_template=base + "/accounts/{{ state.account }}/offers?tier={{state.tier}}&q={topic}",
        headers={"X-Account": "{{ state.account }}", "X-Note": "note: {{ state.note }}"},
        args_schema={
            "type": "object",
            "properties": {"topic": {"type": "string"}},
            "required": ["topic"],
        },
    )
    agent = agent_create(
        tenant=acme, slug="offers", name="Offers", model="gpt-4.1-mini", http_tools=[tool.pk]
    )
    agent_publish(tenant=acme, agent_id=agent.pk)
    agent.refresh_from_db()
    return agent


def test_state_variables_fill_the_http_tools_url_and_headers_escaped(
    server: LiveServer,
    acme: Tenant,
    offers_agent: Agent,
    stub: OpenAIStub,
    api_server: tuple[str, Seen],
) -> None:
    _, seen = api_server
    state = {"account": "A/17 ?x", "tier": "gold plus", "note": "hi\r\nX-Evil: 1", "vip": True}
    issued = client_session_create(
        tenant=acme, agent=offers_agent, user="customer-9", workflow_ref="offers",
        state_variables=state,
    )  # fmt: skip
    browser = Endpoint(server, "acme", "offers", issued.client_secret, user=None)
    call = FunctionCall("offers", {"topic": "lamps"})
    stub.add(call)
    stub.add("You get free shipping.")

    stream = browser.create("[state] any offers?")
    browser.close()

    assert stream.text() == "You get free shipping."
    [(path, headers)] = seen.requests
    assert path == "/accounts/A%2F17%20%3Fx/offers?tier=gold%20plus&q=lamps"
    assert headers["x-account"] == "A/17 ?x"
    assert headers["x-note"] == "note: hi%0D%0AX-Evil: 1"
    assert "x-evil" not in headers


def test_an_api_key_caller_has_no_state_and_placeholders_read_empty(
    server: LiveServer, offers_agent: Agent, stub: OpenAIStub, api_server: tuple[str, Seen]
) -> None:
    from tenants.models import ApiKey
    from tenants.services import api_key_create

    _, seen = api_server
    key = api_key_create(tenant=offers_agent.tenant, name="backend", scopes=[ApiKey.Scope.CHAT])
    backend = Endpoint(server, "acme", "offers", key.raw)
    stub.add(FunctionCall("offers", {"topic": "chairs"}))
    stub.add("Nothing today.")

    stream = backend.create("[state] offers?")
    backend.close()

    assert stream.text() == "Nothing today.", stream.raw

    [(path, headers)] = seen.requests
    assert path == "/accounts//offers?tier=&q=chairs"
    assert headers["x-note"] == "note:"
