"""Handoffs through PlatformChatKitServer.process() on the OpenAI stub: the first agent hands
the conversation to a published agent of its tenant, which answers; the thread and the
admin transcript name the agent that answered. Foreign and unpublished targets are refused."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.urls import reverse

from hosted_agents.capabilities.services import agent_capabilities_set
from hosted_agents.exceptions import InvalidInput
from hosted_agents.models import Agent, AgentCapabilities
from hosted_agents.services import agent_create, agent_delete, agent_publish
from hosted_agents.services.definitions import agent_duplicate
from tenants.models import ProviderCredential, Tenant, Thread
from tests.hosted_agents.test_admin import operator
from tests.hosted_agents.test_runtime import (
    assistant_text,
    chat_for,
    errors,
    make_credential,
    no_platform_key,
    openai_stub,
    stored_rows,
    thread_id_of,
)
from tests.support.openai_stub import FunctionCall, OpenAIStub

__all__ = ["no_platform_key", "openai_stub", "operator"]

WHEN = "Questions about invoices and payments"


def published(tenant: Tenant, slug: str, credential: ProviderCredential, **draft: Any) -> Agent:
    draft.setdefault("model", "gpt-4.1")
    agent = agent_create(
        tenant=tenant, slug=slug, name=slug.title(), provider_credential_id=credential.pk, **draft
    )
    agent_publish(tenant=tenant, agent_id=agent.pk)
    return agent


def triage_with_billing(tenant: Tenant, base_url: str) -> tuple[Agent, Agent]:
    credential = make_credential(tenant, base_url)
    billing = published(
        tenant, "billing", credential, instructions="You handle invoices.", model="gpt-4.1-mini"
    )
    triage = agent_create(
        tenant=tenant, slug="triage", name="Triage", model="gpt-4.1",
        instructions="Route the user.", provider_credential_id=credential.pk,
    )  # fmt: skip
    agent_capabilities_set(
        tenant=tenant,
        agent_id=triage.pk,
        changes={"handoffs": [{"agent_id": billing.pk, "description": WHEN}]},
    )
    agent_publish(tenant=tenant, agent_id=triage.pk)
    return Agent.objects.for_tenant(tenant).select_related("tenant").get(pk=triage.pk), billing


@pytest.mark.django_db(transaction=True)
async def test_a_handoff_is_answered_by_the_second_agent_and_the_thread_names_it(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    triage, billing = await database_sync_to_async(triage_with_billing)(acme, openai_stub.base_url)
    openai_stub.add(FunctionCall("transfer_to_billing", {}))
    openai_stub.add("Your invoice of March is paid.")

    events = await chat_for(triage).create("Is my March invoice paid?")

    assert not errors(events)
    assert assistant_text(events) == "Your invoice of March is paid."
    first, second = openai_stub.requests
    [offered] = [t for t in first.body["tools"] if t.get("name") == "transfer_to_billing"]
    assert offered["description"] == WHEN
    assert (first.body["model"], first.body["instructions"]) == ("gpt-4.1", "Route the user.")
    assert (second.body["model"], second.body["instructions"]) == (
        "gpt-4.1-mini",
        "You handle invoices.",
    )
    rows = await stored_rows(thread_id_of(events))
    [answer] = [row for row in rows if row.type == "assistant_message"]
    [mark] = [row.data["content"] for row in rows if "answered_by" in str(row.data)]
    assert mark["answered_by"] == {
        "agent_id": billing.pk, "slug": "billing", "name": "Billing", "version": 1,
    }  # fmt: skip
    assert mark["message_ids"] == [answer.public_id]


@pytest.mark.django_db(transaction=True)
async def test_without_a_handoff_the_first_agent_answers_and_nothing_is_marked(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    triage, _ = await database_sync_to_async(triage_with_billing)(acme, openai_stub.base_url)
    openai_stub.add("Hello! What can I do for you?")

    events = await chat_for(triage).create("Hi")

    assert assistant_text(events) == "Hello! What can I do for you?"
    assert len(openai_stub.requests) == 1
    assert [row.type for row in await stored_rows(thread_id_of(events))] == [
        "user_message",
        "assistant_message",
    ]


@pytest.mark.django_db(transaction=True)
async def test_the_admin_transcript_shows_which_agent_answered(
    acme: Tenant, openai_stub: OpenAIStub, operator: Client
) -> None:
    triage, _ = await database_sync_to_async(triage_with_billing)(acme, openai_stub.base_url)
    openai_stub.add(FunctionCall("transfer_to_billing", {}))
    openai_stub.add("Paid.")
    events = await chat_for(triage).create("Invoice?")

    @database_sync_to_async
    def page() -> str:
        thread = Thread.objects.for_tenant(acme).get(public_id=thread_id_of(events))
        return operator.get(reverse("admin:tenants_thread_change", args=[thread.pk])).text

    html = await page()
    assert "Assistant (Billing)" in html
    assert "Answered by Billing (billing, v1)" in html


def test_a_handoff_to_another_tenants_agent_answers_like_a_missing_one(
    acme: Tenant, globex: Tenant, openai_stub: OpenAIStub, db: None
) -> None:
    foreign = published(globex, "billing", make_credential(globex, openai_stub.base_url))
    triage = agent_create(tenant=acme, slug="triage", name="Triage", model="gpt-4.1")

    for target in (foreign.pk, 999_999):
        with pytest.raises(InvalidInput, match=f"no such agent: {target}"):
            agent_capabilities_set(
                tenant=acme,
                agent_id=triage.pk,
                changes={"handoffs": [{"agent_id": target, "description": WHEN}]},
            )


@pytest.mark.parametrize(
    ("target", "description", "message"),
    [
        ("draft", WHEN, "agent draft is not published: publish it first"),
        ("self", WHEN, "cannot hand off to itself"),
        ("draft", "", "needs a description"),
    ],
)
def test_a_handoff_to_an_unpublished_agent_or_itself_is_refused(
    acme: Tenant, db: None, target: str, description: str, message: str
) -> None:
    draft = agent_create(tenant=acme, slug="draft", name="Draft", model="gpt-4.1")
    triage = agent_create(tenant=acme, slug="triage", name="Triage", model="gpt-4.1")
    target_id = draft.pk if target == "draft" else triage.pk

    with pytest.raises(InvalidInput, match=message):
        agent_capabilities_set(
            tenant=acme,
            agent_id=triage.pk,
            changes={"handoffs": [{"agent_id": target_id, "description": description}]},
        )


def test_a_handoff_to_an_agent_on_another_provider_is_refused_at_publish(
    acme: Tenant, openai_stub: OpenAIStub, db: None
) -> None:
    billing = published(acme, "billing", make_credential(acme, openai_stub.base_url))
    other = make_credential(acme, openai_stub.base_url, secret="sk-other-provider-1")
    triage = agent_create(
        tenant=acme, slug="triage", name="Triage", model="gpt-4.1",
        provider_credential_id=other.pk,
    )  # fmt: skip
    agent_capabilities_set(
        tenant=acme,
        agent_id=triage.pk,
        changes={"handoffs": [{"agent_id": billing.pk, "description": WHEN}]},
    )

    with pytest.raises(InvalidInput, match="uses another provider"):
        agent_publish(tenant=acme, agent_id=triage.pk)


def test_a_duplicate_keeps_the_handoffs_of_its_draft(
    acme: Tenant, openai_stub: OpenAIStub, db: None
) -> None:
    triage, billing = triage_with_billing(acme, openai_stub.base_url)

    copy = agent_duplicate(tenant=acme, agent_id=triage.pk, slug="triage-2")
    version = agent_publish(tenant=acme, agent_id=copy.pk)

    [frozen] = version.config["capabilities"]["handoffs"]
    assert (frozen["agent_id"], frozen["description"]) == (billing.pk, WHEN)


@pytest.mark.django_db(transaction=True)
async def test_deleting_a_target_leaves_drafts_and_the_published_handoff_still_answers(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    triage, billing = await database_sync_to_async(triage_with_billing)(acme, openai_stub.base_url)
    await database_sync_to_async(agent_delete)(tenant=acme, agent_id=billing.pk)
    openai_stub.add(FunctionCall("transfer_to_billing", {}))
    openai_stub.add("Paid.")

    events = await chat_for(triage).create("Invoice?")

    assert assistant_text(events) == "Paid."
    row = await AgentCapabilities.objects.for_tenant(acme).aget(agent_id=triage.pk)
    assert row.handoffs == []
