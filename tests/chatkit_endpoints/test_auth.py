"""Who may call an agent's endpoint: API keys, the end-user header, tenants and agents."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from hosted_agents.models import Agent
from hosted_agents.services import agent_create, agent_publish
from tenants.models import ApiKey, Tenant, Thread
from tenants.services import IssuedApiKey, api_key_create, api_key_revoke, tenant_set_status
from tests.chatkit_endpoints.client import Endpoint
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

LIST = {"type": "threads.list", "params": {}}
CREATE = {
    "type": "threads.create",
    "params": {"input": {"content": [{"type": "input_text", "text": "hi"}],
                         "attachments": [], "inference_options": {}}},
}  # fmt: skip


@pytest.fixture
def endpoint(daphne: LiveServer, assistant: Agent, chat_key: IssuedApiKey) -> Iterator[Endpoint]:
    client = Endpoint(daphne, "acme", assistant.slug, chat_key.raw)
    yield client
    client.close()


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == code
    assert Thread.unscoped.count() == 0


@pytest.mark.parametrize(
    ("authorization", "why"),
    [
        (None, "missing"),
        ("Basic dXNlcjpwdw==", "not bearer"),
        ("Bearer", "empty"),
        ("Bearer ckp_live_short", "malformed key"),
        ("Bearer ckp_live_AAAAAAAA" + "B" * 43 + "_000000", "bad checksum"),
        ("Bearer not-a-token-at-all", "neither key nor secret"),
    ],
)
def test_a_missing_or_malformed_credential_is_refused_with_401(
    endpoint: Endpoint, authorization: str | None, why: str
) -> None:
    headers = endpoint.headers()
    headers.pop("authorization")
    if authorization is not None:
        headers["authorization"] = authorization
    response = endpoint.client.post(
        endpoint.server.url(endpoint.path), json=CREATE, headers=headers
    )

    assert_refused(response, 401, "invalid_credential")
    assert response.headers["www-authenticate"] == "Bearer"


def test_an_unknown_key_of_the_right_shape_is_refused(endpoint: Endpoint, acme: Tenant) -> None:
    issued = api_key_create(tenant=acme, name="gone", scopes=[ApiKey.Scope.CHAT])
    ApiKey.objects.for_tenant(acme).filter(pk=issued.api_key.pk).delete()

    assert_refused(endpoint.clone(token=issued.raw).post(CREATE), 401, "invalid_credential")


def test_revoking_a_key_takes_effect_on_the_next_request(
    endpoint: Endpoint, acme: Tenant, chat_key: IssuedApiKey
) -> None:
    assert endpoint.post(LIST).status_code == 200

    api_key_revoke(tenant=acme, key_id=chat_key.api_key.pk)

    assert_refused(endpoint.post(CREATE), 401, "invalid_credential")


def test_expired_keys_and_keys_without_the_chat_scope_are_refused(
    endpoint: Endpoint, acme: Tenant
) -> None:
    expired = api_key_create(
        tenant=acme, name="old", scopes=[ApiKey.Scope.CHAT],
        expires_at=timezone.now() + timedelta(seconds=30),
    )  # fmt: skip
    ApiKey.objects.for_tenant(acme).filter(pk=expired.api_key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    management = api_key_create(tenant=acme, name="ops", scopes=[ApiKey.Scope.MANAGEMENT_READ])

    assert_refused(endpoint.clone(token=expired.raw).post(CREATE), 401, "invalid_credential")
    assert_refused(endpoint.clone(token=management.raw).post(CREATE), 401, "invalid_credential")


def test_a_suspended_tenants_key_is_refused(endpoint: Endpoint, acme: Tenant) -> None:
    tenant_set_status(tenant=acme, status=Tenant.Status.SUSPENDED)

    assert_refused(endpoint.post(CREATE), 401, "invalid_credential")


def test_another_tenants_key_is_refused_whether_or_not_the_agent_exists(
    endpoint: Endpoint, globex_key: IssuedApiKey
) -> None:
    for agent in ("assistant", "no-such-agent"):
        response = endpoint.clone(token=globex_key.raw, agent=agent).post(CREATE)
        assert_refused(response, 403, "credential_mismatch")


def test_an_agent_of_another_tenant_answers_like_a_missing_one(
    endpoint: Endpoint, globex: Tenant
) -> None:
    theirs = agent_create(tenant=globex, slug="theirs", name="Theirs", model="gpt-4.1-mini")
    agent_publish(tenant=globex, agent_id=theirs.pk)

    mine_missing = endpoint.clone(agent="nothing").post(CREATE)
    theirs_via_mine = endpoint.clone(agent="theirs").post(CREATE)

    assert_refused(mine_missing, 404, "agent_not_found")
    assert_refused(theirs_via_mine, 404, "agent_not_found")
    assert (
        theirs_via_mine.json()["error"]["message"].replace("theirs", "nothing")
        == (mine_missing.json()["error"]["message"])
    )


@pytest.mark.parametrize(
    ("user", "code"), [(None, "missing_end_user"), ("x" * 201, "invalid_end_user")]
)
def test_an_api_key_needs_a_valid_end_user_header(
    endpoint: Endpoint, user: str | None, code: str
) -> None:
    assert_refused(endpoint.clone(user=user).post(CREATE), 400, code)


def test_each_end_user_sees_only_their_own_threads(endpoint: Endpoint) -> None:
    alice, bob = endpoint.clone(user="alice"), endpoint.clone(user="bob")
    thread_id = alice.create("Mine").thread_id()

    assert [t["id"] for t in alice.call("threads.list")["data"]] == [thread_id]
    assert bob.call("threads.list")["data"] == []
    response = bob.post({"type": "threads.get_by_id", "params": {"thread_id": thread_id}})
    assert response.status_code == 404
    stolen = bob.stream(
        "threads.add_user_message",
        thread_id=thread_id,
        input={"content": [{"type": "input_text", "text": "x"}], "attachments": [],
               "inference_options": {}},
    )  # fmt: skip
    assert stolen.status == 404, "another user's thread answers like a missing one"
    assert stolen.kinds() == []
    assert len(alice.call("items.list", thread_id=thread_id)["data"]) == 2
