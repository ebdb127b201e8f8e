"""A list request through the endpoint: authentication and the list in one hop.

The endpoint authenticates in a hop of its own (`_admit_hop`); for `threads.list` and
`items.list` the read the request needs is made in that same hop, so `process()` makes
none. Counted as in tests/hosted_agents/test_runtime_queries.py: sync tests, where
`async_to_sync` runs the ORM calls on the test's thread.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from chatkit_core.errors import ProtocolError
from chatkit_core.store import NotFoundError
from chatkit_endpoints.consumers import _admit_hop
from hosted_agents.models import Agent
from tenants.models import Tenant
from tenants.services import IssuedApiKey
from tests.hosted_agents.test_runtime import publish, thread_id_of, user_input
from tests.hosted_agents.test_runtime_queries import authenticated, cost, stream

pytestmark = pytest.mark.django_db(transaction=True)

TABLES = {"threads": "tenants_thread", "items": "tenants_threaditem"}


@pytest.fixture
def agent(acme: Tenant) -> Agent:
    return publish(acme)


def _headers(key: IssuedApiKey, user: str = "end-user-1") -> dict[bytes, bytes]:
    return {b"authorization": f"Bearer {key.raw}".encode(), b"x-chatkit-user": user.encode()}


def _body(op: str, **params: Any) -> bytes:
    return json.dumps({"type": op, "params": params}).encode()


def _serve(key: IssuedApiKey, agent: Agent, body: bytes, *, read_ahead: bool, user: str) -> Any:
    async def run() -> Any:
        access, server = await _admit_hop(
            headers=_headers(key, user),
            tenant_slug=agent.tenant.slug,
            agent_slug=agent.slug,
            ip="127.0.0.1",
            read_ahead=body if read_ahead else None,
        )
        result = await server.process(body, access.context)
        return result.json

    return async_to_sync(run)()


def test_a_list_is_authenticated_and_read_in_one_hop_of_two_statements(
    agent: Agent, acme_key: IssuedApiKey, django_assert_max_num_queries: Any
) -> None:
    context = authenticated(agent)
    thread_id = thread_id_of(stream(context, "threads.create", input=user_input("Hello")))
    threads, items = _body("threads.list", limit=5), _body("items.list", thread_id=thread_id)
    # The key's first use records when it was used (one UPDATE, then once per interval).
    _serve(acme_key, agent, threads, read_ahead=True, user="end-user-1")

    pages = {}
    for name, body in (("threads", threads), ("items", items)):
        plain = _serve(acme_key, agent, body, read_ahead=False, user="end-user-1")
        with cost(django_assert_max_num_queries) as measured:
            ahead = _serve(acme_key, agent, body, read_ahead=True, user="end-user-1")
        pages[name] = json.loads(ahead)
        assert pages[name] == json.loads(plain)
        assert measured.hops == 1
        # SELECT the agent with its tenant, version and the presented key (chat_access),
        # then the page itself.
        assert measured.statements == ["SELECT hosted_agents_agent", f"SELECT {TABLES[name]}"]
    assert [thread["id"] for thread in pages["threads"]["data"]] == [thread_id]
    assert [item["type"] for item in pages["items"]["data"]] == [
        "assistant_message",
        "user_message",
    ]


def test_what_was_read_ahead_stays_the_callers(
    agent: Agent, acme_key: IssuedApiKey, django_assert_max_num_queries: Any
) -> None:
    context = authenticated(agent)
    thread_id = thread_id_of(stream(context, "threads.create", input=user_input("Hello")))
    items = _body("items.list", thread_id=thread_id)
    # Another end user's read ahead finds nothing, and says so as process() would.
    with pytest.raises(NotFoundError):
        _serve(acme_key, agent, items, read_ahead=True, user="someone-else")
    assert (
        json.loads(
            _serve(acme_key, agent, _body("threads.list"), read_ahead=True, user="someone-else")
        )["data"]
        == []
    )


def test_a_request_the_read_ahead_cannot_serve_reads_as_usual(
    agent: Agent, acme_key: IssuedApiKey, django_assert_max_num_queries: Any
) -> None:
    context = authenticated(agent)
    stream(context, "threads.create", input=user_input("Hello"))
    _serve(acme_key, agent, _body("threads.list"), read_ahead=True, user="end-user-1")
    for body in (_body("threads.list", limit=-1), b"{not json", _body("threads.get_by_id")):
        with cost(django_assert_max_num_queries) as measured, pytest.raises(ProtocolError):
            _serve(acme_key, agent, body, read_ahead=True, user="end-user-1")
        # Authentication only: nothing was read ahead for a request process() refuses.
        assert measured.statements == ["SELECT hosted_agents_agent"]
