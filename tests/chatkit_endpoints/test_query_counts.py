"""SQL statements per endpoint request, pinned: authentication, tenant, agent and published
version cost one statement together, and nothing about a key's validity is cached.

These run the ASGI application in-process (Channels' communicator) from a sync test, so
that the consumer's ORM hops run on this thread and the query counter sees them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator

from chatkit_platform.asgi import application
from hosted_agents.models import Agent
from tenants.services import IssuedApiKey, api_key_revoke, client_session_create

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/t/acme/agents/assistant/chatkit"


def post(body: dict[str, Any], key: str) -> dict[str, Any]:
    headers = [
        (b"content-type", b"application/json"),
        (b"authorization", f"Bearer {key}".encode()),
        (b"x-chatkit-user", b"user-1"),
    ]

    async def send() -> dict[str, Any]:
        communicator = HttpCommunicator(
            application, "POST", PATH, body=json.dumps(body).encode(), headers=headers
        )
        response: dict[str, Any] = await communicator.get_response(timeout=30)
        return response

    result: dict[str, Any] = async_to_sync(send)()
    return result


def test_threads_list_is_one_statement_for_the_caller_and_one_for_the_page(
    assistant: Agent, chat_key: IssuedApiKey, django_assert_num_queries: Any
) -> None:
    post({"type": "threads.list", "params": {}}, chat_key.raw)  # records the key's last use

    with django_assert_num_queries(2) as captured:
        response = post({"type": "threads.list", "params": {}}, chat_key.raw)

    assert response["status"] == 200
    auth = captured.captured_queries[0]["sql"]
    for table in ("hosted_agents_agent", "tenants_tenant", "tenants_apikey",
                  "hosted_agents_agentversion"):  # fmt: skip
        assert table in auth


def test_a_refused_key_costs_no_more_than_the_check(
    assistant: Agent, chat_key: IssuedApiKey, django_assert_num_queries: Any
) -> None:
    api_key_revoke(tenant=assistant.tenant, key_id=chat_key.api_key.pk)

    # The joined statement finds the row; the key's own fields refuse it.
    with django_assert_num_queries(1):
        response = post({"type": "threads.list", "params": {}}, chat_key.raw)

    assert response["status"] == 401


def test_a_malformed_key_is_refused_before_any_query(
    assistant: Agent, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        response = post({"type": "threads.list", "params": {}}, "ckp_live_nonsense")

    assert response["status"] == 401


def test_a_client_secret_is_one_statement_with_its_session_agent_and_versions(
    assistant: Agent, django_assert_num_queries: Any
) -> None:
    issued = client_session_create(
        tenant=assistant.tenant, agent=assistant, user="user-1", workflow_ref="assistant",
        version=1,
    )  # fmt: skip

    with django_assert_num_queries(2) as captured:
        response = post({"type": "threads.list", "params": {}}, issued.client_secret)

    assert response["status"] == 200
    session_sql = captured.captured_queries[0]["sql"]
    assert "tenants_clientsession" in session_sql and "hosted_agents_agentversion" in session_sql
