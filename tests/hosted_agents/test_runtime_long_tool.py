"""A long-running code tool end to end: the model (the stub or the demo model) calls it
through PlatformChatKitServer.process(), a real Celery worker runs it, and its progress
reaches the ChatKit stream; a pool process killed mid-task still gives one result."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from channels.db import database_sync_to_async

from hosted_agents.models import ToolCall
from tenants.models import Tenant
from tests.hosted_agents.test_runtime import (
    assistant_text,
    chat_for,
    errors,
    no_platform_key,
    openai_stub,
    publish,
    thread_id_of,
)
from tests.hosted_agents.test_runtime_tools import agent_with_tools, demo_quotes, tool_output_sent
from tests.support.celery_worker import CeleryWorker, isolated_broker
from tests.support.long_test_tools import COUNT_STEPS, HOLD, log_lines
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


async def the_call(tenant: Tenant, condition: Callable[[ToolCall], bool]) -> ToolCall:
    """Return the tenant's one long tool call once `condition` holds (within 60 s)."""
    async with asyncio.timeout(60):
        while True:
            calls = [call async for call in ToolCall.objects.for_tenant(tenant)]
            if len(calls) == 1 and condition(calls[0]):
                return calls[0]
            assert len(calls) <= 1, calls
            await asyncio.sleep(0.05)


async def test_the_demo_model_runs_a_long_tool_on_a_worker_with_progress(
    acme: Tenant, worker: CeleryWorker
) -> None:
    agent = await database_sync_to_async(publish)(acme, code_tools=["analyze_text"])

    events = await chat_for(agent).create(f'analyze_text "{TEXT}"')

    assert not errors(events), worker.log()
    progress = [e["text"] for e in events if e["type"] == "progress_update"]
    assert progress[0] == "Splitting the text into sentences (0%)"
    assert progress[-1] == "Done (100%)"
    [quoted] = demo_quotes(events, "analyze_text")
    assert json.loads(quoted)["sentences"] == 3


async def test_a_pool_process_killed_mid_task_leaves_exactly_one_tool_result_in_the_thread(
    acme: Tenant, worker: CeleryWorker, tmp_path: Path
) -> None:
    folder = tmp_path / "hold"
    folder.mkdir()
    agent = await database_sync_to_async(publish)(acme, code_tools=[HOLD])
    chat = chat_for(agent)
    turn = asyncio.create_task(chat.create(f"{HOLD} folder: {folder}"))
    first = await the_call(acme, lambda call: call.progress_text == "holding")
    assert first.worker_pid is not None

    worker.kill_pool_child(first.worker_pid)
    # Celery puts the message back (reject on worker lost); a new pool process claims it.
    await the_call(acme, lambda call: call.attempts == 2)
    (folder / "release").touch()
    events = await asyncio.wait_for(turn, 45)

    assert not errors(events), worker.log()
    assert demo_quotes(events, HOLD) == [json.dumps({"released": True})]
    stored = await chat.items(thread_id_of(events))
    assert [item["type"] for item in stored] == ["user_message", "assistant_message"]
    call = await the_call(acme, lambda call: True)
    assert (call.status, call.attempts, call.result) == (
        ToolCall.Status.DONE,
        2,
        {"released": True},
    )
    assert log_lines(folder) == ["start", "start", "finish"]


async def test_a_call_id_reused_in_a_later_turn_runs_the_tool_again(
    acme: Tenant, openai_stub: OpenAIStub, worker: CeleryWorker
) -> None:
    agent = await agent_with_tools(acme, openai_stub.base_url, code_tools=[COUNT_STEPS])
    # A provider that numbers its call ids per response: call_0 in every turn.
    openai_stub.add(FunctionCall(COUNT_STEPS, {"steps": 1, "delay": 0}, call_id="call_0"))
    openai_stub.add("Counted 1.")
    openai_stub.add(FunctionCall(COUNT_STEPS, {"steps": 2, "delay": 0}, call_id="call_0"))
    openai_stub.add("Counted 2.")
    chat = chat_for(agent)

    first = await chat.create("Count")
    second = await chat.send(thread_id_of(first), "Count again")

    assert (assistant_text(first), assistant_text(second)) == ("Counted 1.", "Counted 2.")
    outputs = [
        [json.loads(item["output"]) for item in request.body["input"]
         if item.get("type") == "function_call_output"]
        for request in openai_stub.requests[1::2]
    ]  # fmt: skip
    assert outputs == [[{"counted": 1}], [{"counted": 2}]]
    calls = [call async for call in ToolCall.objects.for_tenant(acme).order_by("pk")]
    assert [(c.call_id, c.status, c.result) for c in calls] == [
        ("call_0", ToolCall.Status.DONE, {"counted": 1}),
        ("call_0", ToolCall.Status.DONE, {"counted": 2}),
    ]
    assert calls[0].run_id != calls[1].run_id


_ = (no_platform_key, openai_stub)  # fixtures shared with test_runtime.py
