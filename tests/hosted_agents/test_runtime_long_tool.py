"""A long-running code tool end to end: the model calls it through PlatformChatKitServer, a
real Celery worker runs it, and its progress reaches the ChatKit stream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hosted_agents.models import ToolCall
from tenants.models import Tenant
from tests.hosted_agents.test_runtime import (
    assistant_text,
    chat_for,
    errors,
    no_platform_key,
    openai_stub,
    thread_id_of,
)
from tests.hosted_agents.test_runtime_tools import agent_with_tools, tool_output_sent
from tests.support.celery_worker import CeleryWorker, isolated_broker
from tests.support.openai_stub import FunctionCall, OpenAIStub

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = "The quick brown fox jumps over the lazy dog. The dog sleeps. The fox runs away!"


@pytest.fixture
def worker(tmp_path: Path, transactional_db: None) -> Iterator[CeleryWorker]:
    with isolated_broker(tmp_path) as broker:
        started = CeleryWorker.start(broker, tmp_path)
        yield started
        started.stop()


async def test_analyze_text_runs_on_a_worker_and_its_progress_reaches_the_stream(
    acme: Tenant, openai_stub: OpenAIStub, worker: CeleryWorker
) -> None:
    agent = await agent_with_tools(acme, openai_stub.base_url, code_tools=["analyze_text"])
    call = FunctionCall("analyze_text", {"text": TEXT, "top": 2})
    openai_stub.add(call)
    openai_stub.add("Three sentences; fox and dog come up most.")

    events = await chat_for(agent).create("Analyse my text")

    assert not errors(events), worker.log()
    progress = [e["text"] for e in events if e["type"] == "progress_update"]
    assert progress[0] == "Splitting the text into sentences (0%)"
    assert progress[-1] == "Done (100%)"
    result = json.loads(tool_output_sent(openai_stub, call))
    assert (result["sentences"], result["words"]) == (3, 16)
    assert result["top_words"] == [["fox", 2], ["dog", 2]]
    assert assistant_text(events) == "Three sentences; fox and dog come up most."
    record = await ToolCall.objects.for_tenant(acme).aget(call_id=call.call_id)
    assert (record.status, record.thread_id) == (ToolCall.Status.DONE, thread_id_of(events))


_ = (no_platform_key, openai_stub)  # fixtures shared with test_runtime.py
