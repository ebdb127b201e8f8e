"""Query counts of the sessions API, in process so that they are counted; and its schema."""

from __future__ import annotations

from typing import Any

from django.test import Client

from hosted_agents.models import Agent
from tenants.services import IssuedApiKey


def _headers(key: IssuedApiKey) -> dict[str, str]:
    return {"authorization": f"Bearer {key.raw}", "openai-beta": "chatkit_beta=v1"}


def test_minting_a_session_costs_six_queries(
    client: Client, acme_key: IssuedApiKey, published: Agent, django_assert_num_queries: Any
) -> None:
    body = {"user": "u", "workflow": {"id": "support"}}
    first = client.post(
        "/v1/chatkit/sessions", body, "application/json", headers=_headers(acme_key)
    )
    assert first.status_code == 200  # and the key's last use is written
    # The key; the agent; the savepoint, the session, the audit event, the release.
    with django_assert_num_queries(6):
        response = client.post(
            "/v1/chatkit/sessions", body, "application/json", headers=_headers(acme_key)
        )
    assert response.status_code == 200


def test_cancelling_a_session_costs_six_queries(
    client: Client, acme_key: IssuedApiKey, published: Agent, django_assert_num_queries: Any
) -> None:
    body = {"user": "u", "workflow": {"id": "support"}}
    minted = client.post(
        "/v1/chatkit/sessions", body, "application/json", headers=_headers(acme_key)
    )
    url = f"/v1/chatkit/sessions/{minted.json()['id']}/cancel"
    # The key; the savepoint, the locked session, its update, the audit event, the release.
    with django_assert_num_queries(6):
        response = client.post(url, headers=_headers(acme_key))
    assert response.json()["status"] == "cancelled"


def test_the_openapi_schema_is_served(client: Client) -> None:
    schema = client.get("/v1/chatkit/openapi.json").json()
    assert {"/v1/chatkit/sessions", "/v1/chatkit/threads/{thread_id}/items"} <= set(schema["paths"])
