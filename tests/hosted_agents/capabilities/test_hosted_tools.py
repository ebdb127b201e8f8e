"""OpenAI's hosted tools through PlatformChatKitServer.process() on the OpenAI stub: the
tool definitions sent, the hosted calls' results mapped to ChatKit annotations and images,
and the refusal where the provider cannot run them."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from hosted_agents.capabilities.services import agent_capabilities_set
from hosted_agents.exceptions import InvalidInput
from hosted_agents.models import Agent
from hosted_agents.services import agent_create, agent_publish, agent_update
from tenants.models import Tenant
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
from tests.support.openai_stub import HostedToolCall, ImageGeneration, OpenAIStub, Text

__all__ = ["no_platform_key", "openai_stub"]

pytestmark = pytest.mark.django_db(transaction=True)

ALL_FOUR = [
    {"type": "web_search", "search_context_size": "low"},
    {"type": "file_search", "vector_store_ids": ["vs_handbook"], "max_num_results": 3},
    {"type": "code_interpreter"},
    {"type": "image_generation"},
]
PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5E"
    "rkJggg=="
)


def agent_with_hosted_tools(
    tenant: Tenant, base_url: str, tools: list[dict[str, Any]], api: str = "responses"
) -> Agent:
    credential = make_credential(tenant, base_url, api=api)
    agent = agent_create(
        tenant=tenant, slug="research", name="Research", model="gpt-4.1",
        provider_credential_id=credential.pk,
    )  # fmt: skip
    agent_capabilities_set(tenant=tenant, agent_id=agent.pk, changes={"hosted_tools": tools})
    agent_publish(tenant=tenant, agent_id=agent.pk)
    return Agent.objects.for_tenant(tenant).select_related("tenant").get(pk=agent.pk)


async def test_the_hosted_tools_reach_the_provider_with_their_definitions(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    agent = await database_sync_to_async(agent_with_hosted_tools)(
        acme, openai_stub.base_url, ALL_FOUR
    )
    openai_stub.add("Nothing to look up.")

    await chat_for(agent).create("Hello")

    tools = {tool["type"]: tool for tool in openai_stub.last_request.body["tools"]}
    assert tools["web_search"]["search_context_size"] == "low"
    assert tools["file_search"]["vector_store_ids"] == ["vs_handbook"]
    assert tools["file_search"]["max_num_results"] == 3
    assert tools["code_interpreter"]["container"] == {"type": "auto"}
    assert tools["image_generation"]["type"] == "image_generation"
    assert sorted(tools) == ["code_interpreter", "file_search", "image_generation", "web_search"]
    version = await database_sync_to_async(lambda: agent.published_version)()
    assert version is not None and version.config["capabilities"]["hosted_tools"] == ALL_FOUR


async def test_web_and_file_search_results_become_chatkit_annotations(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    agent = await database_sync_to_async(agent_with_hosted_tools)(
        acme, openai_stub.base_url, ALL_FOUR[:2]
    )
    text = "Paris hosts the games; leave is 25 days."
    url = {"type": "url_citation", "url": "https://example.org/games", "title": "Games",
           "start_index": 0, "end_index": 22}  # fmt: skip
    file = {"type": "file_citation", "file_id": "file_1", "filename": "handbook.pdf", "index": 40}
    openai_stub.add(
        HostedToolCall("web_search", query="where are the games"),
        HostedToolCall("file_search", queries=["annual leave"]),
        Text(text, annotations=[url, file]),
    )

    events = await chat_for(agent).create("Where are the games, and how much leave do I get?")

    assert not errors(events)
    assert assistant_text(events) == text
    [message] = [
        e["item"] for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
    ]  # fmt: skip
    sources = [a["source"] for a in message["content"][0]["annotations"]]
    assert [(s["type"], s.get("url") or s.get("filename")) for s in sources] == [
        ("url", "https://example.org/games"),
        ("file", "handbook.pdf"),
    ]
    updates = [e["update"]["type"] for e in events if e["type"] == "thread.item.updated"]
    added = [u for u in updates if u == "assistant_message.content_part.annotation_added"]
    assert len(added) == 2
    stored = [row.data for row in await stored_rows(thread_id_of(events))]
    assert [a["source"]["type"] for a in stored[-1]["content"][0]["annotations"]] == ["url", "file"]
    # Each search the provider ran shows as a task of a workflow before the answer.
    order = [e["item"]["type"] for e in events if e["type"] == "thread.item.added"]
    assert order == ["workflow", "assistant_message"]
    [workflow] = [row for row in stored if row["type"] == "workflow"]
    web, files = workflow["workflow"]["tasks"]
    assert (web["type"], web["queries"]) == ("web_search", ["where are the games"])
    assert (files["type"], files["title"]) == ("file", "Searched the files for annual leave")


async def test_a_generated_image_becomes_a_chatkit_image(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    agent = await database_sync_to_async(agent_with_hosted_tools)(
        acme, openai_stub.base_url, [{"type": "image_generation"}]
    )
    openai_stub.add(ImageGeneration(result=PIXEL), "Here is your picture.")

    events = await chat_for(agent).create("Draw a dot")

    [image] = [
        e["item"] for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "generated_image"
    ]  # fmt: skip
    assert image["image"]["url"].startswith("data:image/png;base64,")
    assert assistant_text(events) == "Here is your picture."


@pytest.mark.parametrize(
    ("draft", "api", "message"),
    [
        ({}, "chat_completions", "the Chat Completions API"),
        ({"model": "demo"}, "responses", "the offline demo model"),
    ],
)
def test_hosted_tools_are_refused_where_the_provider_cannot_run_them(
    acme: Tenant, openai_stub: OpenAIStub, draft: dict[str, Any], api: str, message: str
) -> None:
    credential = make_credential(acme, openai_stub.base_url, api=api)
    agent = agent_create(
        tenant=acme, slug="research", name="Research", model="gpt-4.1",
        provider_credential_id=credential.pk,
    )  # fmt: skip
    agent_update(tenant=acme, agent_id=agent.pk, changes=draft)

    # At the change, with a message naming the tools and why.
    with pytest.raises(InvalidInput, match=rf"web_search: .*Responses API.*{message}"):
        agent_capabilities_set(
            tenant=acme, agent_id=agent.pk, changes={"hosted_tools": [{"type": "web_search"}]}
        )


def test_publish_refuses_hosted_tools_once_the_draft_moved_to_chat_completions(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    agent = agent_with_hosted_tools(acme, openai_stub.base_url, [{"type": "code_interpreter"}])
    chat = make_credential(acme, openai_stub.base_url, api="chat_completions", secret="sk-other1")
    agent_update(tenant=acme, agent_id=agent.pk, changes={"provider_credential_id": chat.pk})

    with pytest.raises(InvalidInput, match=r"code_interpreter: .*Chat Completions API"):
        agent_publish(tenant=acme, agent_id=agent.pk)


@pytest.mark.parametrize(
    "tools",
    [
        [{"type": "web_search"}, {"type": "web_search"}],
        [{"type": "file_search", "vector_store_ids": []}],
        [{"type": "file_search", "vector_store_ids": ["vs 1"]}],
        [{"type": "shell"}],
        [{"type": "code_interpreter", "container": "mine"}],
    ],
)
def test_bad_hosted_tools_are_refused(
    acme: Tenant, openai_stub: OpenAIStub, tools: list[dict[str, Any]]
) -> None:
    with pytest.raises(InvalidInput):
        agent_with_hosted_tools(acme, openai_stub.base_url, tools)
