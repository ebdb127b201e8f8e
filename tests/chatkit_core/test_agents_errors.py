"""Failures during agent runs: model errors, tool errors, guardrails and cancellation."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    Model,
    OutputGuardrailTripwireTriggered,
    RunContextWrapper,
    function_tool,
    input_guardrail,
    output_guardrail,
)

from chatkit_core.agents import AgentContext
from chatkit_core.errors import CustomStreamError
from chatkit_core.server import StreamingResult
from chatkit_core.types import ThreadMetadata, ThreadStreamEvent, UserMessageItem
from tests.chatkit_core.conftest import (
    AgentServer,
    Context,
    Harness,
    ModelKind,
    kinds,
    respond_events,
    user_input,
)
from tests.support.openai_stub import FunctionCall, OpenAIStub, StreamError, Text
from tests.support.sse import parse_sse

HarnessFactory = Callable[[Agent[AgentContext[Context]]], Harness]
Ctx = RunContextWrapper[AgentContext[Context]]
STREAM_ERROR = {"type": "error", "code": "stream.error", "allow_retry": True}


@pytest.mark.parametrize("status", [401, 429, 500])
async def test_model_http_error_ends_the_stream_with_an_error_event(
    openai_stub: OpenAIStub,
    make_model: Callable[[], Model],
    agent_harness: HarnessFactory,
    status: int,
) -> None:
    openai_stub.add_error(status)
    harness = agent_harness(Agent(name="a", model=make_model()))

    events = await harness.create("Hi")

    assert respond_events(events) == [STREAM_ERROR]
    stored = await harness.stored(events[0]["thread"]["id"])
    assert [item.type for item in stored] == ["user_message"]


async def test_thread_stays_usable_after_a_model_error(
    openai_stub: OpenAIStub, make_model: Callable[[], Model], agent_harness: HarnessFactory
) -> None:
    openai_stub.add_error(429)
    openai_stub.add("Back again.")
    harness = agent_harness(Agent(name="a", model=make_model()))
    thread_id = (await harness.create("Hi"))[0]["thread"]["id"]

    events = respond_events(await harness.send(thread_id, "Hello?"))

    assert kinds(events)[-1] == "thread.item.done:assistant_message"
    assert [i["type"] for i in await harness.items(thread_id)] == [
        "user_message",
        "user_message",
        "assistant_message",
    ]


async def test_failure_mid_stream_keeps_done_items_and_drops_pending_ones(
    openai_stub: OpenAIStub,
    make_model: Callable[[], Model],
    agent_harness: HarnessFactory,
    model_kind: ModelKind,
) -> None:
    openai_stub.add(Text("Done part."), Text("Half of it", unfinished=True), StreamError("boom"))
    harness = agent_harness(Agent(name="a", model=make_model()))

    events = respond_events(await harness.create("Hi"))

    assert events[-1] == STREAM_ERROR
    assert kinds(events)[0] == "thread.item.added:assistant_message"
    finished = [e["item"]["id"] for e in events if e["type"] == "thread.item.done"]
    thread_id = events[0]["item"]["thread_id"]
    stored = await harness.items(thread_id)
    if model_kind == "responses":
        assert finished == [stored[1]["id"]]
        assert [(i["type"], i["content"][0]["text"]) for i in stored[1:]] == [
            ("assistant_message", "Done part.")
        ]
    else:
        # Chat Completions streams one message for the whole turn; it never finished.
        assert finished == []
        assert [i["type"] for i in stored] == ["user_message"]


async def test_tool_exception_is_reported_to_the_model_by_default(
    openai_stub: OpenAIStub, make_model: Callable[[], Model], agent_harness: HarnessFactory
) -> None:
    @function_tool
    def fragile() -> str:
        """Do something fragile."""
        raise RuntimeError("disk on fire")

    openai_stub.add(FunctionCall("fragile"))
    openai_stub.add("Sorry, that failed.")
    harness = agent_harness(Agent(name="a", model=make_model(), tools=[fragile]))

    events = respond_events(await harness.create("Try it"))

    assert kinds(events)[-1] == "thread.item.done:assistant_message"
    assert "An error occurred while running the tool" in json.dumps(openai_stub.last_request.body)


async def test_tool_exception_without_error_function_ends_with_an_error_event(
    openai_stub: OpenAIStub, make_model: Callable[[], Model], agent_harness: HarnessFactory
) -> None:
    @function_tool(failure_error_function=None)
    def fragile() -> str:
        """Do something fragile."""
        raise RuntimeError("disk on fire")

    openai_stub.add(FunctionCall("fragile"))
    openai_stub.add("never asked for")
    harness = agent_harness(Agent(name="a", model=make_model(), tools=[fragile]))

    events = await harness.create("Try it")

    assert respond_events(events) == [STREAM_ERROR]
    assert openai_stub.pending == 1
    stored = await harness.stored(events[0]["thread"]["id"])
    assert [item.type for item in stored] == ["user_message"]


async def test_error_handling_tool_pattern_lets_the_agent_recover(
    openai_stub: OpenAIStub, make_model: Callable[[], Model], agent_harness: HarnessFactory
) -> None:
    @function_tool(description_override="Risky operation")
    async def risky_tool(ctx: Ctx, id: str) -> dict[str, Any] | None:
        try:
            raise LookupError(id)
        except LookupError:
            return None

    openai_stub.add(FunctionCall("risky_tool", {"id": "42"}))
    openai_stub.add("I could not find 42.")
    harness = agent_harness(Agent(name="a", model=make_model(), tools=[risky_tool]))

    events = respond_events(await harness.create("Find 42"))

    assert events[-1]["item"]["content"][0]["text"] == "I could not find 42."
    assert "None" in json.dumps(openai_stub.last_request.body)


def refuse_output() -> Any:
    @output_guardrail
    async def no_secrets(ctx: Any, agent: Any, output: Any) -> GuardrailFunctionOutput:
        return GuardrailFunctionOutput(output_info=None, tripwire_triggered="secret" in output)

    return no_secrets


async def test_output_guardrail_removes_everything_the_run_produced(
    openai_stub: OpenAIStub,
    make_model: Callable[[], Model],
    agent_harness: HarnessFactory,
    model_kind: ModelKind,
) -> None:
    @function_tool
    async def lookup(ctx: Ctx) -> str:
        """Look something up."""
        await ctx.context.stream_widget(_card("Looking"))
        return "the secret is 42"

    call = FunctionCall("lookup")
    answer = Text("The secret is 42")
    openai_stub.add(call)
    openai_stub.add(answer)
    agent = Agent[AgentContext[Context]](
        name="a", model=make_model(), tools=[lookup], output_guardrails=[refuse_output()]
    )
    harness = agent_harness(agent)

    events = respond_events(await harness.create("Tell me the secret"))

    produced = [
        e["item"]["id"] for e in events if e["type"] in ("thread.item.added", "thread.item.done")
    ]
    removed = [e["item_id"] for e in events if e["type"] == "thread.item.removed"]
    assert set(removed) == set(produced) | ({call.id} if model_kind == "responses" else set())
    assert events[-1] == STREAM_ERROR
    assert [i["type"] for i in await harness.items(events[0]["item"]["thread_id"])] == [
        "user_message"
    ]


class GuardedServer(AgentServer):
    """Turns guardrail tripwires into a user-facing custom error (the documented pattern)."""

    async def respond(
        self, thread: ThreadMetadata, item: UserMessageItem | None, context: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        try:
            async for event in super().respond(thread, item, context):
                yield event
        except InputGuardrailTripwireTriggered:
            raise CustomStreamError("Your message was blocked.", allow_retry=True) from None
        except OutputGuardrailTripwireTriggered:
            raise CustomStreamError("The response was blocked.") from None


async def test_input_guardrail_tripwire_can_become_a_custom_error(
    openai_stub: OpenAIStub, make_model: Callable[[], Model]
) -> None:
    @input_guardrail(run_in_parallel=False)
    async def no_shouting(ctx: Any, agent: Any, text: Any) -> GuardrailFunctionOutput:
        return GuardrailFunctionOutput(output_info=None, tripwire_triggered="!!!" in str(text))

    agent = Agent[AgentContext[Context]](
        name="a", model=make_model(), input_guardrails=[no_shouting]
    )
    harness = Harness(GuardedServer(agent))

    events = respond_events(await harness.create("HELLO!!!"))

    assert events == [
        {
            "type": "error",
            "code": "custom",
            "message": "Your message was blocked.",
            "allow_retry": True,
        }
    ]
    assert openai_stub.requests == []


async def test_output_guardrail_can_become_a_custom_error(
    openai_stub: OpenAIStub, make_model: Callable[[], Model]
) -> None:
    openai_stub.add("a secret answer")
    agent = Agent[AgentContext[Context]](
        name="a", model=make_model(), output_guardrails=[refuse_output()]
    )
    harness = Harness(GuardedServer(agent))

    events = respond_events(await harness.create("Hi"))

    assert kinds(events)[-2:] == ["thread.item.removed", "error"]
    assert events[-1] == {
        "type": "error",
        "code": "custom",
        "message": "The response was blocked.",
        "allow_retry": False,
    }


def _card(value: str) -> Any:
    from chatkit_core.widgets import Card, Text

    return Card(children=[Text(value=value)])


async def consume_until(
    result: StreamingResult, stop: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """Read the stream like a client and disconnect once `stop` matches an event."""
    seen: list[dict[str, Any]] = []
    reached = asyncio.Event()

    async def read() -> None:
        async for chunk in result:
            for event in parse_sse(chunk.decode()):
                seen.append(event.json())
                if stop(seen[-1]):
                    reached.set()
                    # Read nothing more, then leave (however fast the next events come).
                    try:
                        await asyncio.Event().wait()
                    finally:
                        await result.json_events.aclose()

    task = asyncio.create_task(read())
    await asyncio.wait_for(reached.wait(), timeout=10)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return seen


async def test_disconnect_keeps_the_text_seen_so_far(
    openai_stub: OpenAIStub, make_model: Callable[[], Model]
) -> None:
    openai_stub.add("one two three four five six seven", delay=0.05)
    server = AgentServer(Agent(name="a", model=make_model()))
    body = json.dumps({"type": "threads.create", "params": {"input": user_input("Count")}})

    result = await server.process(body, {})
    assert isinstance(result, StreamingResult)
    seen = await consume_until(result, lambda e: e.get("update", {}).get("delta") == "two ")

    thread_id = seen[0]["thread"]["id"]
    page = await server.store.load_thread_items(thread_id, None, 10, "asc", {})
    stored = page.data
    assert [item.type for item in stored] == [
        "user_message",
        "assistant_message",
        "sdk_hidden_context",
    ]
    assert stored[1].content[0].text.startswith("one two ")
    added = next(e["item"] for e in seen if e["type"] == "thread.item.added")
    assert stored[1].id == added["id"]


async def test_disconnect_before_any_text_stores_no_message(
    openai_stub: OpenAIStub, make_model: Callable[[], Model]
) -> None:
    openai_stub.add("slow words here", delay=0.2)
    server = AgentServer(Agent(name="a", model=make_model()))
    body = json.dumps({"type": "threads.create", "params": {"input": user_input("Count")}})

    result = await server.process(body, {})
    assert isinstance(result, StreamingResult)
    seen = await consume_until(result, lambda e: e["type"] == "thread.item.added")

    page = await server.store.load_thread_items(seen[0]["thread"]["id"], None, 10, "asc", {})
    assert [item.type for item in page.data] == ["user_message", "sdk_hidden_context"]
