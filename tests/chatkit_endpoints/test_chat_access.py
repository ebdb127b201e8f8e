"""One way into a chat turn: `chat_context_build`, used by the endpoint and `manage.py chat`."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from hosted_agents.chat_access import (
    ApiKeyCredential,
    CredentialMismatch,
    OperatorCredential,
    chat_context_build,
)
from hosted_agents.demo_model import DEMO_MODEL_NAME
from hosted_agents.exceptions import ObjectNotFound
from hosted_agents.models import Agent
from hosted_agents.services import agent_create, agent_publish
from tenants.exceptions import ApiKeyRejected
from tenants.models import Tenant
from tenants.services import IssuedApiKey

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo_agent(acme: Tenant) -> Agent:
    agent = agent_create(tenant=acme, slug="helper", name="Helper", model=DEMO_MODEL_NAME)
    agent_publish(tenant=acme, agent_id=agent.pk)
    return agent


def mistyped(raw: str) -> str:
    """Return `raw` with its last character changed (so its checksum no longer matches)."""
    return raw[:-1] + ("y" if raw[-1] != "y" else "z")


def test_an_api_key_builds_the_context_with_the_served_version(
    demo_agent: Agent, acme_key: IssuedApiKey
) -> None:
    access = chat_context_build(
        tenant_slug="acme", agent_slug="helper", end_user_id="u1",
        credential=ApiKeyCredential(acme_key.raw, ip="203.0.113.9"),
    )  # fmt: skip

    assert access.context.agent.pk == demo_agent.pk
    assert access.context.end_user_id == "u1"
    assert access.context.api_key_id == acme_key.api_key.pk
    assert access.version is not None and access.version.number == 1
    assert access.credential_key == f"key{acme_key.api_key.pk}"


def test_a_key_is_refused_for_another_tenant_and_a_missing_agent_is_not_found(
    demo_agent: Agent, acme_key: IssuedApiKey, globex_key: IssuedApiKey
) -> None:
    with pytest.raises(CredentialMismatch):
        chat_context_build(
            tenant_slug="acme", agent_slug="helper", end_user_id="u1",
            credential=ApiKeyCredential(globex_key.raw),
        )  # fmt: skip
    with pytest.raises(ObjectNotFound):
        chat_context_build(
            tenant_slug="acme", agent_slug="nobody", end_user_id="u1",
            credential=ApiKeyCredential(acme_key.raw),
        )  # fmt: skip
    with pytest.raises(ApiKeyRejected):
        chat_context_build(
            tenant_slug="acme", agent_slug="helper", end_user_id="u1",
            credential=ApiKeyCredential(mistyped(acme_key.raw)),
        )  # fmt: skip


def test_manage_py_chat_goes_in_the_same_way(demo_agent: Agent) -> None:
    out = io.StringIO()

    call_command("chat", "acme", "helper", "hello", "--user", "operator", stdout=out)

    assert "[thread thr_" in out.getvalue()
    access = chat_context_build(
        tenant_slug="acme", agent_slug="helper", end_user_id="operator",
        credential=OperatorCredential(),
    )  # fmt: skip
    assert access.context.tenant.slug == "acme"
    with pytest.raises(CommandError, match="no agent 'nobody'"):
        call_command("chat", "acme", "nobody", "hello", stdout=io.StringIO())
