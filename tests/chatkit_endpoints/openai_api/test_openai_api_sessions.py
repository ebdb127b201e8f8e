"""client.beta.chatkit.sessions.create / .cancel, with the official client, on a live server."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import openai
import pytest
from django.utils import timezone
from openai import OpenAI

from hosted_agents.models import Agent
from hosted_agents.services import agent_publish, agent_set_workflow_id
from tenants.exceptions import ClientSecretRejected
from tenants.models import ApiKey, AuditEvent, ClientSession, Tenant
from tenants.services import api_key_create, client_secret_authenticate

pytestmark = pytest.mark.live

MakeClient = Callable[[str], OpenAI]
BUILDER_ID = "wf_68df4b13b3588190a09d19288d4610ec0df388c3983f58d1"


def test_a_session_is_minted_with_the_hosted_defaults(
    acme_client: OpenAI, published: Agent
) -> None:
    before = int(time.time())
    session = acme_client.beta.chatkit.sessions.create(user="user-1", workflow={"id": "support"})

    assert session.object == "chatkit.session"
    assert session.id.startswith("cksess_")
    assert session.client_secret.startswith("ckcs_")
    assert session.status == "active"
    assert session.user == "user-1"
    assert before + 599 <= session.expires_at <= int(time.time()) + 601
    assert session.max_requests_per_1_minute == 10
    assert session.rate_limits.max_requests_per_1_minute == 10
    assert session.workflow.id == "support"
    assert session.workflow.version is None
    assert session.workflow.state_variables is None
    assert session.workflow.tracing.enabled is True
    configuration = session.chatkit_configuration
    assert configuration.automatic_thread_titling.enabled is True
    assert configuration.file_upload.enabled is False
    assert configuration.file_upload.max_file_size == 512
    assert configuration.file_upload.max_files == 10
    assert configuration.history.enabled is True
    assert configuration.history.recent_threads is None


def test_the_client_secret_authenticates_the_session_it_belongs_to(
    acme_client: OpenAI, published: Agent
) -> None:
    session = acme_client.beta.chatkit.sessions.create(user="user-1", workflow={"id": "support"})
    row = client_secret_authenticate(raw=session.client_secret)
    assert row.public_id == session.id
    assert row.agent_id == published.pk
    assert row.end_user_id == "user-1"


def test_every_field_is_taken_and_echoed(
    acme: Tenant, acme_client: OpenAI, published: Agent
) -> None:
    agent_publish(tenant=acme, agent_id=published.pk)  # version 2; pin version 1
    session = acme_client.beta.chatkit.sessions.create(
        user="user-2",
        workflow={
            "id": "support",
            "version": "1",
            "state_variables": {"customer_tier": "gold", "seats": 3, "ratio": 0.5, "vip": True},
            "tracing": {"enabled": False},
        },
        expires_after={"anchor": "created_at", "seconds": 120},
        rate_limits={"max_requests_per_1_minute": 30},
        chatkit_configuration={
            "automatic_thread_titling": {"enabled": False},
            "file_upload": {"enabled": True, "max_file_size": 8, "max_files": 3},
            "history": {"enabled": False, "recent_threads": 5},
        },
    )

    assert session.workflow.version == "1"
    assert session.workflow.state_variables == {
        "customer_tier": "gold",
        "seats": 3,
        "ratio": 0.5,
        "vip": True,
    }
    assert session.workflow.tracing.enabled is False
    assert session.max_requests_per_1_minute == 30
    assert session.expires_at - int(time.time()) in range(115, 122)
    assert session.chatkit_configuration.model_dump() == {
        "automatic_thread_titling": {"enabled": False},
        "file_upload": {"enabled": True, "max_file_size": 8, "max_files": 3},
        "history": {"enabled": False, "recent_threads": 5},
    }
    row = ClientSession.objects.for_tenant(acme).get(public_id=session.id)
    assert row.version == 1
    assert row.automatic_thread_titling is False
    assert row.history_enabled is False
    assert row.recent_threads == 5
    assert isinstance(row.state_variables["vip"], bool)


def test_a_partial_configuration_is_filled_with_effective_values(
    acme_client: OpenAI, published: Agent
) -> None:
    session = acme_client.beta.chatkit.sessions.create(
        user="u",
        workflow={"id": "support"},
        chatkit_configuration={"file_upload": {"enabled": True}, "history": {"recent_threads": 2}},
    )
    assert session.chatkit_configuration.model_dump() == {
        "automatic_thread_titling": {"enabled": True},
        "file_upload": {"enabled": True, "max_file_size": 512, "max_files": 10},
        "history": {"enabled": True, "recent_threads": 2},
    }


def test_workflow_id_names_the_agent_by_its_workflow_id(
    acme: Tenant, acme_client: OpenAI, published: Agent
) -> None:
    agent_set_workflow_id(tenant=acme, agent_id=published.pk, workflow_id=BUILDER_ID)
    session = acme_client.beta.chatkit.sessions.create(user="u", workflow={"id": BUILDER_ID})
    assert session.workflow.id == BUILDER_ID
    assert ClientSession.objects.for_tenant(acme).get(public_id=session.id).agent_id == published.pk


def test_cancel_stops_the_client_secret_at_once(
    acme: Tenant, acme_client: OpenAI, published: Agent
) -> None:
    session = acme_client.beta.chatkit.sessions.create(user="u", workflow={"id": "support"})
    cancelled = acme_client.beta.chatkit.sessions.cancel(session.id)

    assert cancelled.id == session.id
    assert cancelled.status == "cancelled"
    assert session.client_secret not in cancelled.client_secret
    with pytest.raises(ClientSecretRejected):
        client_secret_authenticate(raw=session.client_secret)
    events = AuditEvent.objects.for_tenant(acme).filter(target_type="clientsession")
    assert sorted(events.values_list("action", flat=True)) == [
        "client_session.cancel",
        "client_session.create",
    ]
    assert all(
        label.startswith("api_key:ckp_live_")
        for label in events.values_list("actor_label", flat=True)
    )


def test_an_expired_session_is_refused_and_reads_expired(
    acme: Tenant, acme_client: OpenAI, published: Agent
) -> None:
    session = acme_client.beta.chatkit.sessions.create(
        user="u", workflow={"id": "support"}, expires_after={"anchor": "created_at", "seconds": 1}
    )
    row = ClientSession.objects.for_tenant(acme).get(public_id=session.id)
    assert row.expires_at - row.created_at <= timedelta(seconds=1)
    later = row.expires_at + timedelta(microseconds=1)
    assert row.status_at(later) == "expired"
    ClientSession.objects.for_tenant(acme).filter(pk=row.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(ClientSecretRejected):
        client_secret_authenticate(raw=session.client_secret)


def test_another_tenant_cannot_cancel_the_session(
    acme_client: OpenAI, globex_client: OpenAI, published: Agent
) -> None:
    session = acme_client.beta.chatkit.sessions.create(user="u", workflow={"id": "support"})
    with pytest.raises(openai.NotFoundError) as theirs:
        globex_client.beta.chatkit.sessions.cancel(session.id)
    with pytest.raises(openai.NotFoundError) as missing:
        globex_client.beta.chatkit.sessions.cancel("cksess_0000")
    assert theirs.value.body["message"].replace(session.id, "X") == missing.value.body[
        "message"
    ].replace("cksess_0000", "X")
    assert client_secret_authenticate(raw=session.client_secret).public_id == session.id


def test_another_tenants_workflow_is_not_found(globex_client: OpenAI, published: Agent) -> None:
    for workflow in ("support", published.workflow_id):
        with pytest.raises(openai.NotFoundError) as caught:
            globex_client.beta.chatkit.sessions.create(user="u", workflow={"id": workflow})
        assert caught.value.body["message"] == f"No workflow found with id '{workflow}'."


def test_an_unknown_workflow_is_not_found(acme_client: OpenAI, published: Agent) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        acme_client.beta.chatkit.sessions.create(user="u", workflow={"id": "wf_nope"})
    assert caught.value.body["type"] == "invalid_request_error"


def test_an_unpublished_agent_cannot_be_given_a_session(
    acme_client: OpenAI, acme_agent: Agent
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        acme_client.beta.chatkit.sessions.create(user="u", workflow={"id": "support"})
    assert caught.value.param == "workflow.id"  # type: ignore[attr-defined]


def _state(**state: Any) -> dict[str, Any]:
    return {"workflow": {"id": "support", "state_variables": state}}


INVALID = "invalid_value"
MISSING = "missing_required_parameter"
SECONDS_LATER = {"anchor": "created_at"}
UPLOAD = "chatkit_configuration.file_upload.max_file_size"


@pytest.mark.parametrize(
    ("changes", "param", "code"),
    [
        (_state(**{"k" * 65: 1}), "workflow.state_variables", INVALID),
        (_state(k=[1]), "workflow.state_variables.k", INVALID),
        (_state(k={"a": 1}), "workflow.state_variables.k", INVALID),
        (_state(k=None), "workflow.state_variables.k", INVALID),
        ({"workflow": {"id": "support", "version": "latest"}}, "workflow.version", INVALID),
        ({"workflow": {"id": "support", "version": "9"}}, "workflow.version", INVALID),
        ({"workflow": {"id": ""}}, "workflow.id", INVALID),
        ({"workflow": {}}, "workflow.id", MISSING),
        ({"expires_after": {**SECONDS_LATER, "seconds": 0}}, "expires_after.seconds", INVALID),
        ({"expires_after": {**SECONDS_LATER, "seconds": "soon"}}, "expires_after.seconds", INVALID),
        ({"expires_after": {"anchor": "now", "seconds": 60}}, "expires_after.anchor", INVALID),
        ({"expires_after": SECONDS_LATER}, "expires_after.seconds", MISSING),
        (
            {"rate_limits": {"max_requests_per_1_minute": 0}},
            "rate_limits.max_requests_per_1_minute",
            INVALID,
        ),
        ({"chatkit_configuration": {"file_upload": {"max_file_size": 513}}}, UPLOAD, INVALID),
        (
            {"chatkit_configuration": {"history": {"recent_threads": 0}}},
            "chatkit_configuration.history.recent_threads",
            INVALID,
        ),
        ({"user": ""}, "user", INVALID),
    ],
)
def test_bad_values_are_refused_in_openais_shape(
    acme: Tenant,
    acme_client: OpenAI,
    published: Agent,
    changes: dict[str, Any],
    param: str,
    code: str,
) -> None:
    body: dict[str, Any] = {"user": "u", "workflow": {"id": "support"}, **changes}
    with pytest.raises(openai.BadRequestError) as caught:
        acme_client.beta.chatkit.sessions.create(**body)
    error = caught.value
    assert error.status_code == 400
    assert error.body["type"] == "invalid_request_error"  # type: ignore[index]
    assert (error.param, error.code) == (param, code)  # type: ignore[attr-defined]
    assert not ClientSession.objects.for_tenant(acme).exists()


def test_an_unknown_field_is_refused(acme_client: OpenAI, published: Agent) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        acme_client.beta.chatkit.sessions.create(
            user="u", workflow={"id": "support"}, extra_body={"colour": "blue"}
        )
    assert caught.value.code == "unknown_parameter"  # type: ignore[attr-defined]
    assert caught.value.param == "colour"  # type: ignore[attr-defined]


@pytest.mark.parametrize("scopes", [["management:read"], ["management:read", "management:write"]])
def test_a_key_without_the_chat_scope_is_refused(
    acme: Tenant, client_with: MakeClient, published: Agent, scopes: list[str]
) -> None:
    key = api_key_create(tenant=acme, name="ops", scopes=scopes)
    client = client_with(key.raw)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.beta.chatkit.sessions.create(user="u", workflow={"id": "support"})
    assert caught.value.code == "invalid_api_key"  # type: ignore[attr-defined]


def test_a_chat_only_key_may_mint_sessions_and_read_threads(
    acme: Tenant, client_with: MakeClient, published: Agent
) -> None:
    key = api_key_create(tenant=acme, name="backend", scopes=[ApiKey.Scope.CHAT])
    client = client_with(key.raw)
    session = client.beta.chatkit.sessions.create(user="u", workflow={"id": "support"})
    assert client.beta.chatkit.sessions.cancel(session.id).status == "cancelled"
    assert list(client.beta.chatkit.threads.list()) == []


@pytest.mark.parametrize("raw", ["", "nonsense", "ckp_live_" + "A" * 58])
def test_a_bad_key_is_refused(client_with: MakeClient, published: Agent, raw: str) -> None:
    client = client_with(raw or "x")
    with pytest.raises(openai.AuthenticationError):
        client.beta.chatkit.sessions.create(user="u", workflow={"id": "support"})
