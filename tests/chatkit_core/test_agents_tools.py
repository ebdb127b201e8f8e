"""Tools talking to the thread through AgentContext, over real runs against the stub."""

from collections.abc import AsyncIterator, Callable
from typing import Any

from agents import Agent, Model, RunContextWrapper, Runner, StopAtTools, function_tool

from chatkit_core.agents import (
    AgentContext,
    ClientToolCall,
    accumulate_text,
    simple_to_agent_input,
)
from chatkit_core.server import stream_widget
from chatkit_core.types import (
    CustomSummary,
    CustomTask,
    ProgressUpdateEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    Workflow,
)
from chatkit_core.widgets import Card, Markdown, Text
from tests.chatkit_core.conftest import (
    AgentServer,
    Context,
    Harness,
    ModelKind,
    kinds,
    respond_events,
)
from tests.support.openai_stub import FunctionCall, OpenAIStub

HarnessFactory = Callable[[Agent[AgentContext[Context]]], Harness]
Ctx = RunContextWrapper[AgentContext[Context]]


@function_tool(description_override="Switch the page between light and dark theme.")
async def switch_theme(ctx: Ctx, theme: str) -> dict[str, Any] | None:
    ctx.context.client_tool_call = ClientToolCall(name="switch_theme", arguments={"theme": theme})
    return {"success": True}


def themed_agent(model: Model, *extra_tools: Any) -> Agent[AgentContext[Context]]:
    return Agent[AgentContext[Context]](
        name="a",
        model=model,
        tools=[switch_theme, *extra_tools],
        tool_use_behavior=StopAtTools(stop_at_tool_names=["switch_theme"]),
    )


async def test_client_tool_call_ends_the_turn_as_a_pending_item(
    openai_stub: OpenAIStub,
    make_model: Callable[[], Model],
    agent_harness: HarnessFactory,
    model_kind: ModelKind,
) -> None:
    call = FunctionCall("switch_theme", {"theme": "dark"})
    openai_stub.add(call)
    harness = agent_harness(themed_agent(make_model()))

    events = respond_events(await harness.create("Make it dark"))

    assert kinds(events) == ["thread.item.done:client_tool_call"]
    item = events[0]["item"]
    assert item["status"] == "pending"
    assert (item["name"], item["arguments"], item["call_id"]) == (
        "switch_theme",
        {"theme": "dark"},
        call.call_id,
    )
    if model_kind == "responses":
        assert item["id"] == call.id
    else:
        assert item["id"].startswith("tc_")
    assert openai_stub.pending == 0
    stored = await harness.items(item["thread_id"])
    assert stored[-1] == item


async def test_client_tool_output_goes_back_to_the_model_as_json(
    openai_stub: OpenAIStub,
    make_model: Callable[[], Model],
    agent_harness: HarnessFactory,
    model_kind: ModelKind,
) -> None:
    call = FunctionCall("switch_theme", {"theme": "dark"})
    openai_stub.add(call)
    openai_stub.add("The theme is now dark.")
    harness = agent_harness(themed_agent(make_model()))
    thread_id = (await harness.create("Make it dark"))[0]["thread"]["id"]

    events = await harness.stream(
        "threads.add_client_tool_output", thread_id=thread_id, result={"applied": True}
    )

    assert kinds(events) == [
        "stream_options",
        "thread.item.added:assistant_message",
        "assistant_message.content_part.added",
        *["assistant_message.content_part.text_delta"] * 5,
        *(["assistant_message.content_part.done"] if model_kind == "responses" else []),
        "thread.item.done:assistant_message",
    ]
    body = openai_stub.last_request.body
    if model_kind == "responses":
        sent = [
            i for i in body["input"] if i.get("type") in ("function_call", "function_call_output")
        ]
        assert sent == [
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": "switch_theme",
                "arguments": '{"theme": "dark"}',
            },
            {
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": '{"applied": true}',
            },
        ]
    else:
        assistant, tool = body["messages"][-2:]
        assert assistant["tool_calls"][0]["function"] == {
            "name": "switch_theme",
            "arguments": '{"theme": "dark"}',
        }
        assert tool == {
            "role": "tool",
            "tool_call_id": call.call_id,
            "content": '{"applied": true}',
        }
    items = await harness.items(thread_id)
    assert [i["type"] for i in items] == ["user_message", "client_tool_call", "assistant_message"]
    assert items[1]["status"] == "completed"
    assert items[1]["output"] == {"applied": True}


async def test_tool_widgets_are_streamed_into_the_thread(
    openai_stub: OpenAIStub, make_model: Callable[[], Model], agent_harness: HarnessFactory
) -> None:
    @function_tool(description_override="Show the weather card.")
    async def show_weather(ctx: Ctx, city: str) -> str:
        await ctx.context.stream_widget(
            Card(children=[Text(value=f"Sunny in {city}")]), copy_text=f"Sunny in {city}"
        )
        return "The card is shown."

    @function_tool(description_override="Show a live forecast.")
    async def live_forecast(ctx: Ctx) -> str:
        async def states() -> AsyncIterator[Card]:
            for value in ("", "Rain", "Rain later"):
                yield Card(children=[Text(id="forecast", value=value)])

        await ctx.context.stream_widget(states())
        return "Shown."

    openai_stub.add(FunctionCall("show_weather", {"city": "Oslo"}), FunctionCall("live_forecast"))
    openai_stub.add("Here you go.")
    agent = Agent[AgentContext[Context]](
        name="a", model=make_model(), tools=[show_weather, live_forecast]
    )
    harness = agent_harness(agent)

    events = respond_events(await harness.create("Weather?"))

    assert kinds(events) == [
        "thread.item.done:widget",
        "thread.item.added:widget",
        "widget.streaming_text.value_delta",
        "widget.streaming_text.value_delta",
        "thread.item.done:widget",
        *kinds(events)[5:],
    ]
    static = events[0]["item"]
    assert static["copy_text"] == "Sunny in Oslo"
    assert static["widget"]["children"][0]["value"] == "Sunny in Oslo"
    assert static["id"].startswith("msg_")
    assert [e["update"]["delta"] for e in events[2:4]] == ["Rain", " later"]
    assert events[4]["item"]["widget"]["children"][0]["value"] == "Rain later"
    assert kinds(events)[-1] == "thread.item.done:assistant_message"
    stored = await harness.items(static["thread_id"])
    assert [i["type"] for i in stored] == ["user_message", "widget", "widget", "assistant_message"]


async def test_progress_updates_are_forwarded_but_not_stored(
    openai_stub: OpenAIStub, make_model: Callable[[], Model], agent_harness: HarnessFactory
) -> None:
    @function_tool
    async def slow_search(ctx: Ctx, query: str) -> str:
        """Search the archive."""
        await ctx.context.stream(ProgressUpdateEvent(text=f"Searching {query}…", icon="search"))
        return "3 results"

    openai_stub.add(FunctionCall("slow_search", {"query": "cats"}))
    openai_stub.add("Found 3.")
    harness = agent_harness(Agent(name="a", model=make_model(), tools=[slow_search]))

    events = respond_events(await harness.create("Find cats"))

    assert events[0] == {"type": "progress_update", "text": "Searching cats…", "icon": "search"}
    stored = await harness.items(events[-1]["item"]["thread_id"])
    assert [i["type"] for i in stored] == ["user_message", "assistant_message"]


async def test_tool_workflow_closes_before_the_answer(
    openai_stub: OpenAIStub, make_model: Callable[[], Model], agent_harness: HarnessFactory
) -> None:
    @function_tool
    async def research(ctx: Ctx) -> str:
        """Research the topic."""
        await ctx.context.start_workflow(Workflow(type="custom", tasks=[]))
        await ctx.context.add_workflow_task(CustomTask(title="Reading", status_indicator="loading"))
        await ctx.context.add_workflow_task(CustomTask(title="Comparing"))
        await ctx.context.update_workflow_task(
            CustomTask(title="Read 3 papers", status_indicator="complete"), 0
        )
        return "done"

    openai_stub.add(FunctionCall("research"))
    openai_stub.add("Summary.")
    harness = agent_harness(Agent(name="a", model=make_model(), tools=[research]))

    events = respond_events(await harness.create("Research"))

    assert kinds(events)[:4] == [
        "thread.item.added:workflow",
        "workflow.task.added",
        "workflow.task.updated",
        "thread.item.done:workflow",
    ]
    assert [t["title"] for t in events[0]["item"]["workflow"]["tasks"]] == ["Reading"]
    assert events[1]["update"]["task_index"] == 1
    workflow = events[3]["item"]["workflow"]
    assert [t["title"] for t in workflow["tasks"]] == ["Read 3 papers", "Comparing"]
    assert workflow["summary"] == {"duration": 0}
    assert kinds(events)[4] == "thread.item.added:assistant_message"


async def test_ended_workflow_keeps_its_summary_and_expansion(
    openai_stub: OpenAIStub, make_model: Callable[[], Model], agent_harness: HarnessFactory
) -> None:
    @function_tool
    async def plan(ctx: Ctx) -> str:
        """Plan the trip."""
        await ctx.context.add_workflow_task(CustomTask(title="Booked train"))
        await ctx.context.end_workflow(CustomSummary(title="Trip planned"), expanded=True)
        return "planned"

    openai_stub.add(FunctionCall("plan"))
    openai_stub.add("Enjoy.")
    harness = agent_harness(Agent(name="a", model=make_model(), tools=[plan]))

    events = respond_events(await harness.create("Plan"))

    assert kinds(events)[:2] == ["thread.item.added:workflow", "thread.item.done:workflow"]
    workflow = events[1]["item"]["workflow"]
    assert workflow["summary"] == {"title": "Trip planned"}
    assert workflow["expanded"] is True


async def test_workflow_interrupted_by_a_client_tool_continues_next_turn(
    openai_stub: OpenAIStub, make_model: Callable[[], Model], agent_harness: HarnessFactory
) -> None:
    @function_tool
    async def prepare(ctx: Ctx) -> str:
        """Prepare the page."""
        await ctx.context.add_workflow_task(CustomTask(title="Prepared"))
        return "ok"

    openai_stub.add(FunctionCall("prepare"))
    openai_stub.add(FunctionCall("switch_theme", {"theme": "light"}))
    openai_stub.add("All set.")
    harness = agent_harness(themed_agent(make_model(), prepare))
    first = respond_events(await harness.create("Set up"))
    thread_id = first[0]["item"]["thread_id"]
    workflow_id = first[0]["item"]["id"]

    assert kinds(first) == ["thread.item.added:workflow", "thread.item.done:client_tool_call"]
    stored = await harness.items(thread_id)
    assert [i["type"] for i in stored] == ["user_message", "workflow", "client_tool_call"]
    assert "summary" not in stored[1]["workflow"]

    second = respond_events(
        await harness.stream("threads.add_client_tool_output", thread_id=thread_id, result=None)
    )

    assert kinds(second)[:2] == ["thread.item.done:workflow", "thread.item.added:assistant_message"]
    assert second[0]["item"]["id"] == workflow_id
    stored = await harness.items(thread_id)
    assert [i["type"] for i in stored] == [
        "user_message",
        "workflow",
        "client_tool_call",
        "assistant_message",
    ]
    assert stored[1]["workflow"]["summary"] == {"duration": 0}


class AccumulatingServer(AgentServer):
    """Streams the model's text into a Markdown widget instead of a message."""

    async def respond(
        self, thread: ThreadMetadata, item: UserMessageItem | None, context: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        agent_context = AgentContext[Context](
            thread=thread, store=self.store, request_context=context
        )
        result = Runner.run_streamed(
            self.agent, await simple_to_agent_input(item) if item else [], context=agent_context
        )

        async def cards() -> AsyncIterator[Card]:
            base = Markdown(id="answer", value="", streaming=True)
            async for markdown in accumulate_text(result.stream_events(), base):
                yield Card(children=[markdown])

        async for event in stream_widget(thread, cards()):
            yield event


async def test_accumulate_text_streams_model_text_into_a_widget(
    openai_stub: OpenAIStub, make_model: Callable[[], Model]
) -> None:
    openai_stub.add("Once upon a time")
    harness = Harness(AccumulatingServer(Agent(name="a", model=make_model())))

    events = respond_events(await harness.create("Story"))

    assert kinds(events) == [
        "thread.item.added:widget",
        *["widget.streaming_text.value_delta"] * 4,
        "widget.root.updated",
        "thread.item.done:widget",
    ]
    deltas = [e["update"] for e in events[1:5]]
    assert "".join(d["delta"] for d in deltas) == "Once upon a time"
    assert {d["done"] for d in deltas} == {False}
    final = events[-1]["item"]["widget"]["children"][0]
    assert (final["value"], final["streaming"]) == ("Once upon a time", False)
    first = events[0]["item"]["widget"]["children"][0]
    assert (first["value"], first["streaming"]) == ("", True)
