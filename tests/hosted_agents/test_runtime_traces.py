"""Run traces kept in the platform, through PlatformChatKitServer.process() on the stub."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest
from agents.tracing import get_trace_provider
from agents.tracing.processors import BackendSpanExporter
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from hosted_agents.models import Agent, RunSpan
from hosted_agents.selectors import run_traces_of_thread
from hosted_agents.tracing import TRACES, PlatformTraceProcessor
from tenants.models import Tenant, Thread
from tenants.services import thread_delete
from tests.hosted_agents.test_runtime import (
    assistant_text,
    chat_for,
    make_credential,
    no_platform_key,
    openai_stub,
    publish,
    thread_id_of,
)
from tests.support.openai_stub import FunctionCall, OpenAIStub

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def calculator_agent(tenant: Tenant, base_url: str) -> Agent:
    credential = make_credential(tenant, base_url)
    return publish(
        tenant, model="gpt-4.1", provider_credential_id=credential.pk, code_tools=["calculator"]
    )


@database_sync_to_async
def spans_of(tenant: Tenant, thread_id: str) -> list[RunSpan]:
    thread = Thread.objects.for_tenant(tenant).get(public_id=thread_id)
    return list(RunSpan.objects.for_tenant(tenant).filter(thread=thread).order_by("started_at"))


def answer_id(events: list[dict[str, Any]]) -> str:
    [answer] = [
        e["item"]["id"] for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
    ]  # fmt: skip
    return str(answer)


async def test_a_run_with_a_tool_call_stores_its_spans_in_the_tenants_tables_and_sends_none_out(
    acme: Tenant, globex: Tenant, openai_stub: OpenAIStub
) -> None:
    agent = await calculator_agent(acme, openai_stub.base_url)
    openai_stub.add(FunctionCall("calculator", {"expression": "6 * 7"}))
    openai_stub.add("It is 42.")

    with mock.patch.object(BackendSpanExporter, "export", autospec=True) as exported:
        events = await chat_for(agent).create("What is 6 times 7?")

    assert assistant_text(events) == "It is 42."
    spans = await spans_of(acme, thread_id_of(events))
    by_kind: dict[str, list[RunSpan]] = {}
    for span in spans:
        by_kind.setdefault(span.kind, []).append(span)
    assert sorted(by_kind) == ["agent", "model", "tool"]
    [agent_span] = by_kind["agent"]
    assert (agent_span.name, agent_span.data["tools"]) == ("Support", ["calculator"])
    first, second = by_kind["model"]
    for model_span in (first, second):
        assert model_span.model == "gpt-4.1"
        assert model_span.input_tokens is not None and model_span.input_tokens > 0
        assert model_span.output_tokens is not None and model_span.output_tokens > 0
        assert model_span.duration_ms is not None and model_span.duration_ms >= 0
        assert model_span.parent_id == agent_span.span_id
    [tool] = by_kind["tool"]
    assert tool.name == "calculator"
    assert json.loads(tool.data["arguments"]) == {"expression": "6 * 7"}
    assert "42" in tool.data["result"]
    # One trace per run, linked to the answer it produced and the version that served.
    assert {(s.trace_id, s.item_id, s.agent_version) for s in spans} == {
        (agent_span.trace_id, answer_id(events), 1)
    }
    # Another tenant sees none of it; nothing was exported, nor sent to the model's host
    # except the two model calls.
    assert not await database_sync_to_async(RunSpan.objects.for_tenant(globex).exists)()
    exported.assert_not_called()
    assert [request.path for request in openai_stub.requests] == ["/v1/responses"] * 2
    assert TRACES.release(agent_span.trace_id) == []  # the run's buffer is gone


def test_the_only_trace_processor_is_the_platforms_unless_the_operator_turns_export_on() -> None:
    processors = get_trace_provider()._multi_processor._processors  # type: ignore[attr-defined]
    assert [type(p) for p in processors] == [PlatformTraceProcessor]


async def test_the_trace_api_groups_spans_per_answer_and_goes_with_its_thread(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    agent = await calculator_agent(acme, openai_stub.base_url)
    openai_stub.add(FunctionCall("calculator", {"expression": "1 + 1"}))
    openai_stub.add("Two.")
    openai_stub.add("Still two.")
    chat = chat_for(agent)
    first = await chat.create("1 + 1?")
    thread_id = thread_id_of(first)
    again = await chat.send(thread_id, "Sure?")
    thread = await database_sync_to_async(Thread.objects.for_tenant(acme).get)(public_id=thread_id)

    traces = await database_sync_to_async(run_traces_of_thread)(tenant=acme, thread_pk=thread.pk)

    assert [trace["item_id"] for trace in traces] == [answer_id(first), answer_id(again)]
    assert [[s["kind"] for s in t["spans"]] for t in traces] == [
        ["agent", "model", "tool", "model"],
        ["agent", "model"],
    ]
    assert all(trace["input_tokens"] > 0 and trace["output_tokens"] > 0 for trace in traces)

    await database_sync_to_async(thread_delete)(tenant=acme, thread_id=thread_id)
    assert not await database_sync_to_async(RunSpan.objects.for_tenant(acme).exists)()


_ = (no_platform_key, openai_stub)  # fixtures shared with test_runtime.py


def test_the_admin_transcript_shows_each_answers_trace(
    acme: Tenant, openai_stub: OpenAIStub, client: Client
) -> None:
    agent = async_to_sync(calculator_agent)(acme, openai_stub.base_url)
    openai_stub.add(FunctionCall("calculator", {"expression": "2 + 2"}))
    openai_stub.add("Four.")
    events = async_to_sync(chat_for(agent).create)("2 + 2?")
    thread = Thread.objects.for_tenant(acme).get(public_id=thread_id_of(events))
    root = get_user_model()._default_manager.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)

    html = client.get(reverse("admin:tenants_thread_change", args=[thread.pk])).content.decode()

    assert "Trace trace_" in html
    assert "model gpt-4.1: " in html and " ms" in html
    assert "tool calculator({&quot;expression&quot;: &quot;2 + 2&quot;}) -&gt; " in html
    assert html.index("Four.") < html.index("tool calculator")
