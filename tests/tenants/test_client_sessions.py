"""Client sessions: minting, cancelling and authenticating their client secrets."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from hosted_agents.models import Agent
from hosted_agents.services import agent_publish
from tenants.exceptions import ClientSecretRejected, InvalidInput, ObjectNotFound, RejectionReason
from tenants.models import AuditEvent, ClientSession, Tenant
from tenants.services import (
    IssuedClientSession,
    client_secret_authenticate,
    client_session_cancel,
    client_session_create,
    tenant_set_status,
)


@pytest.fixture
def published(acme: Tenant, acme_agent: Agent) -> Agent:
    agent_publish(tenant=acme, agent_id=acme_agent.pk)
    acme_agent.refresh_from_db()
    return acme_agent


@pytest.fixture
def issued(acme: Tenant, published: Agent) -> IssuedClientSession:
    return client_session_create(
        tenant=acme, agent=published, user="user-1", workflow_ref=published.slug
    )


def _refusal(raw: str) -> RejectionReason:
    with pytest.raises(ClientSecretRejected) as caught:
        client_secret_authenticate(raw=raw)
    return caught.value.reason


def test_a_new_session_has_the_hosted_api_defaults(issued: IssuedClientSession) -> None:
    session = issued.session
    assert session.public_id.startswith("cksess_")
    assert issued.client_secret.startswith("ckcs_")
    assert session.max_requests_per_1_minute == 10
    assert session.tracing_enabled is True
    lifetime = session.expires_at - session.created_at
    assert timedelta(seconds=599) < lifetime <= timedelta(seconds=601)
    assert session.chatkit_configuration == {
        "automatic_thread_titling": {"enabled": True},
        "file_upload": {"enabled": False, "max_file_size": 512, "max_files": 10},
        "history": {"enabled": True, "recent_threads": None},
    }


def test_only_the_hash_of_the_client_secret_is_stored(issued: IssuedClientSession) -> None:
    row = ClientSession.unscoped.values().get(pk=issued.session.pk)
    assert all(issued.client_secret not in str(value) for value in row.values())


def test_the_client_secret_authenticates_its_session_in_one_query(
    issued: IssuedClientSession, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        session = client_secret_authenticate(raw=issued.client_secret)
        assert session.pk == issued.session.pk
        assert session.tenant.slug == "acme"
        assert session.agent.slug == "support"


def test_a_malformed_secret_is_refused_without_a_query(
    issued: IssuedClientSession, django_assert_num_queries: Any
) -> None:
    mistyped = issued.client_secret[:-1] + ("A" if issued.client_secret[-1] != "A" else "B")
    with django_assert_num_queries(0):
        for raw in ("", "ckcs_short", mistyped, issued.client_secret + "x"):
            assert _refusal(raw) is RejectionReason.MALFORMED


def test_an_api_key_is_not_a_client_secret(acme_key: Any) -> None:
    assert _refusal(acme_key.raw) is RejectionReason.MALFORMED


def test_an_unknown_secret_is_refused(acme: Tenant, published: Agent) -> None:
    other = client_session_create(tenant=acme, agent=published, user="u", workflow_ref="support")
    ClientSession.objects.for_tenant(acme).filter(pk=other.session.pk).delete()
    assert _refusal(other.client_secret) is RejectionReason.UNKNOWN


def test_a_cancelled_session_is_refused_at_once_and_audited(
    acme: Tenant, issued: IssuedClientSession
) -> None:
    session = client_session_cancel(tenant=acme, session_id=issued.session.public_id)
    assert session.status_at(timezone.now()) == "cancelled"
    assert _refusal(issued.client_secret) is RejectionReason.CANCELLED
    actions = set(AuditEvent.objects.for_tenant(acme).values_list("action", flat=True))
    assert {"client_session.create", "client_session.cancel"} <= actions


def test_cancelling_twice_records_one_cancellation(
    acme: Tenant, issued: IssuedClientSession
) -> None:
    for _ in range(2):
        client_session_cancel(tenant=acme, session_id=issued.session.public_id)
    events = AuditEvent.objects.for_tenant(acme).filter(action="client_session.cancel")
    assert events.count() == 1


def test_an_expired_session_is_refused(acme: Tenant, issued: IssuedClientSession) -> None:
    past = timezone.now() - timedelta(seconds=1)
    ClientSession.objects.for_tenant(acme).filter(pk=issued.session.pk).update(expires_at=past)
    assert _refusal(issued.client_secret) is RejectionReason.EXPIRED


def test_a_suspended_tenants_session_is_refused(acme: Tenant, issued: IssuedClientSession) -> None:
    tenant_set_status(tenant=acme, status=Tenant.Status.SUSPENDED)
    assert _refusal(issued.client_secret) is RejectionReason.TENANT_SUSPENDED


def test_another_tenant_cannot_cancel_the_session(
    globex: Tenant, issued: IssuedClientSession
) -> None:
    with pytest.raises(ObjectNotFound):
        client_session_cancel(tenant=globex, session_id=issued.session.public_id)


def test_another_tenants_agent_cannot_be_given_a_session(globex: Tenant, published: Agent) -> None:
    with pytest.raises(ObjectNotFound):
        client_session_create(tenant=globex, agent=published, user="u", workflow_ref="support")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"state_variables": {"k" * 65: 1}}, "workflow.state_variables"),
        ({"state_variables": {"k": [1]}}, "workflow.state_variables.k"),
        ({"state_variables": {"k": None}}, "workflow.state_variables.k"),
        ({"expires_after_seconds": 0}, "expires_after.seconds"),
        ({"max_requests_per_1_minute": 0}, "rate_limits.max_requests_per_1_minute"),
        ({"version": 7}, "workflow.version"),
        (
            {"chatkit_configuration": {"file_upload": {"max_file_size": 513}}},
            "chatkit_configuration.file_upload.max_file_size",
        ),
    ],
)
def test_bad_values_are_refused(
    acme: Tenant, published: Agent, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        client_session_create(
            tenant=acme, agent=published, user="u", workflow_ref="support", **changes
        )
    assert caught.value.field == field
    assert not ClientSession.objects.for_tenant(acme).exists()


def test_an_unpublished_agent_needs_a_published_version(acme: Tenant, acme_agent: Agent) -> None:
    with pytest.raises(InvalidInput) as caught:
        client_session_create(tenant=acme, agent=acme_agent, user="u", workflow_ref="support")
    assert caught.value.field == "workflow.id"
