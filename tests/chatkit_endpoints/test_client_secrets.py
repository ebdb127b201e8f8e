"""Client secrets on the ChatKit endpoint: the session decides who, which agent and version,
how often, and what the end user may see."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone

from hosted_agents.models import Agent
from hosted_agents.services import agent_create, agent_publish, agent_update
from tenants.models import ClientSession, Tenant, Thread
from tenants.services import IssuedApiKey, client_session_cancel, client_session_create
from tests.chatkit_endpoints.client import Endpoint
from tests.support.live_server import LiveServer
from tests.support.openai_stub import OpenAIStub

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

LIST = {"type": "threads.list", "params": {}}

Mint = Callable[..., Endpoint]


@pytest.fixture
def mint(daphne: LiveServer, acme: Tenant, assistant: Agent) -> Iterator[Callable[..., Endpoint]]:
    """Mint a session of the assistant (or `agent=`) and return a client using its secret."""
    clients: list[Endpoint] = []

    def make(agent: Agent | None = None, **options: Any) -> Endpoint:
        agent = agent or assistant
        issued = client_session_create(
            tenant=agent.tenant, agent=agent, user=options.pop("user", "user-1"),
            workflow_ref=agent.slug, **options,
        )  # fmt: skip
        clients.append(Endpoint(daphne, "acme", assistant.slug, issued.client_secret, user=None))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def instructions_sent(stub: OpenAIStub, marker: str) -> str:
    request = next(r for r in reversed(stub.requests) if marker in str(r.body))
    return str(request.body.get("instructions", ""))


def until_refused(send: Callable[[], httpx.Response], limit: int) -> tuple[int, httpx.Response]:
    """Send until a 429 (a one-minute window may turn over once); return passes and it."""
    passed = 0
    for _ in range(2 * limit + 1):
        response = send()
        if response.status_code == 429:
            return passed, response
        assert response.status_code == 200, response.text
        passed += 1
    raise AssertionError(f"no 429 after {passed} requests")


def test_a_client_secret_speaks_for_its_sessions_end_user(mint: Mint) -> None:
    browser = mint(user="customer-42")

    stream = browser.create("Hello with a secret")

    assert stream.text() == "Hello from the stub."
    thread = Thread.unscoped.get(public_id=stream.thread_id())
    assert thread.end_user_id == "customer-42"
    assert [t["id"] for t in browser.call("threads.list")["data"]] == [stream.thread_id()]


def test_the_end_user_header_cannot_change_the_sessions_user(mint: Mint) -> None:
    browser = mint(user="customer-42")
    browser.create("mine")

    impostor = browser.clone(user="someone-else")

    assert len(impostor.call("threads.list")["data"]) == 1


def test_expired_and_cancelled_secrets_are_refused(mint: Mint, acme: Tenant) -> None:
    expired, cancelled = mint(), mint()
    assert cancelled.post(LIST).status_code == 200
    ClientSession.objects.for_tenant(acme).filter(lookup_id=expired.token[5:13]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    session = ClientSession.objects.for_tenant(acme).get(lookup_id=cancelled.token[5:13])
    client_session_cancel(tenant=acme, session_id=session.public_id)

    for client in (expired, cancelled, expired.clone(token="ckcs_" + "A" * 57)):
        response = client.post(LIST)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_credential"


def test_a_secret_works_only_on_its_own_agent_and_tenant(
    mint: Mint, acme: Tenant, globex_key: IssuedApiKey
) -> None:
    other = agent_create(tenant=acme, slug="other", name="Other", model="gpt-4.1-mini")
    agent_publish(tenant=acme, agent_id=other.pk)
    other.refresh_from_db()
    browser = mint(agent=other)

    on_assistant = browser.post(LIST)
    on_globex = browser.clone(tenant="globex", agent="other").post(LIST)

    assert on_assistant.status_code == 403
    assert on_assistant.json()["error"]["code"] == "credential_mismatch"
    assert on_globex.status_code == 403
    assert browser.clone(agent="other").post(LIST).status_code == 200


def test_the_sessions_rate_limit_is_enforced(mint: Mint) -> None:
    browser = mint(max_requests_per_1_minute=2)

    passed, refused = until_refused(lambda: browser.post(LIST), 2)

    assert passed >= 2
    assert refused.json()["error"]["code"] == "rate_limited"
    assert "this credential allows 2 per minute" in refused.json()["error"]["message"]
    assert int(refused.headers["retry-after"]) >= 1
    # Another session of the same end user has a budget of its own.
    assert mint(max_requests_per_1_minute=2).post(LIST).status_code == 200


def test_a_pinned_version_is_served_after_a_newer_publish(
    mint: Mint, acme: Tenant, assistant: Agent, stub: OpenAIStub
) -> None:
    agent_update(tenant=acme, agent_id=assistant.pk, changes={"instructions": "Version two."})
    agent_publish(tenant=acme, agent_id=assistant.pk)
    pinned, latest = mint(version=1), mint()

    pinned.create("marker-pinned")
    latest.create("marker-latest")

    assert instructions_sent(stub, "marker-pinned") == "Answer briefly."
    assert instructions_sent(stub, "marker-latest") == "Version two."


def test_state_variables_fill_the_instructions(
    mint: Mint, acme: Tenant, assistant: Agent, stub: OpenAIStub
) -> None:
    agent_update(
        tenant=acme, agent_id=assistant.pk,
        changes={"instructions": "Customer tier: {{ state.tier }}; {{ state.missing }}."},
    )  # fmt: skip
    agent_publish(tenant=acme, agent_id=assistant.pk)

    mint(state_variables={"tier": "gold"}).create("marker-state")

    assert instructions_sent(stub, "marker-state") == "Customer tier: gold; ."


def test_history_off_hides_earlier_threads_and_titling_off_keeps_threads_untitled(
    mint: Mint, chat_key: IssuedApiKey
) -> None:
    earlier = mint().create("from an earlier session").thread_id()
    browser = mint(
        chatkit_configuration={
            "history": {"enabled": False},
            "automatic_thread_titling": {"enabled": False},
        }
    )

    assert browser.call("threads.list")["data"] == []
    hidden = browser.post({"type": "threads.get_by_id", "params": {"thread_id": earlier}})
    assert hidden.status_code == 404
    new = browser.create("a new question").thread_id()
    assert "title" not in browser.call("threads.get_by_id", thread_id=new)
