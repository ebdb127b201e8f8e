"""stream_agent_response over real openai-agents runs against the OpenAI stub (§7.2)."""

from collections.abc import Callable
from typing import Any

from agents import Agent, Model, ModelSettings, OpenAIResponsesModel, function_tool
from openai import AsyncOpenAI

from chatkit_core.agents import AgentContext, ResponseStreamConverter
from tests.chatkit_core.conftest import (
    AgentServer,
    Context,
    Harness,
    ModelKind,
    kinds,
    respond_events,
)
from tests.support.openai_stub import FunctionCall, ImageGeneration, OpenAIStub, Reasoning, Text

HarnessFactory = Callable[[Agent[AgentContext[Context]]], Harness]


async def test_text_answer_streams_as_an_assistant_message(
    openai_stub: OpenAIStub,
    make_model: Callable[[], Model],
    agent_harness: HarnessFactory,
    model_kind: ModelKind,
) -> None:
    openai_stub.add("Hello there, friend")
    harness = agent_harness(Agent(name="a", model=make_model()))

    events = respond_events(await harness.create("Hi"))

    deltas = [
        e["update"]["delta"]
        for e in events
        if e["type"] == "thread.item.updated"
        and e["update"]["type"] == "assistant_message.content_part.text_delta"
    ]
    assert deltas == ["Hello ", "there, ", "friend"]
    assert kinds(events)[:2] == [
        "thread.item.added:assistant_message",
        "assistant_message.content_part.added",
    ]
    assert kinds(events)[-1] == "thread.item.done:assistant_message"
    assert events[0]["item"]["content"] == []
    done = events[-1]["item"]
    assert done["content"] == [
        {"type": "output_text", "text": "Hello there, friend", "annotations": []}
    ]
    assert {e.get("item_id", e.get("item", {}).get("id")) for e in events} == {done["id"]}
    if model_kind == "responses":
        assert "assistant_message.content_part.done" in kinds(events)


async def test_responses_message_id_becomes_the_item_id(
    openai_stub: OpenAIStub, openai_client: AsyncOpenAI, agent_harness: HarnessFactory
) -> None:
    text = Text("Hi!")
    openai_stub.add(text)
    model = OpenAIResponsesModel(model="gpt-test", openai_client=openai_client)
    harness = agent_harness(Agent(name="a", model=model))

    events = await harness.create("Hi")

    thread_id = events[0]["thread"]["id"]
    assert [i["id"] for i in await harness.items(thread_id)][1:] == [text.id]


async def test_chat_completions_messages_get_distinct_generated_ids(
    openai_stub: OpenAIStub, make_model: Callable[[], Model], agent_harness: HarnessFactory
) -> None:
    openai_stub.add("First answer")
    openai_stub.add("Second answer")
    harness = agent_harness(Agent(name="a", model=make_model()))

    thread_id = (await harness.create("One"))[0]["thread"]["id"]
    await harness.send(thread_id, "Two")

    items = await harness.items(thread_id)
    answers = [i for i in items if i["type"] == "assistant_message"]
    assert [a["content"][0]["text"] for a in answers] == ["First answer", "Second answer"]
    assert len({a["id"] for a in answers}) == 2
    assert all(not a["id"].startswith("__") for a in answers)


async def test_history_and_settings_reach_the_model(
    openai_stub: OpenAIStub,
    make_model: Callable[[str], Model],
    agent_harness: HarnessFactory,
    model_kind: ModelKind,
) -> None:
    @function_tool(description_override="Look up the weather of a city.")
    def get_weather(city: str) -> str:
        return "sunny"

    openai_stub.add("Nice to meet you")
    openai_stub.add("You said hello")
    agent = Agent[AgentContext[Context]](
        name="a",
        instructions="Answer in one line.",
        model=make_model("gpt-special"),
        model_settings=ModelSettings(temperature=0.25),
        tools=[get_weather],
    )
    harness = agent_harness(agent)

    thread_id = (await harness.create("Hello"))[0]["thread"]["id"]
    await harness.send(thread_id, "What did I say?")

    request = openai_stub.last_request
    body = request.body
    assert request.api_key == "test-key"
    assert body["model"] == "gpt-special"
    assert body["temperature"] == 0.25
    if model_kind == "responses":
        assert request.path == "/v1/responses"
        assert body["instructions"] == "Answer in one line."
        assert [(t["name"], t["description"]) for t in body["tools"]] == [
            ("get_weather", "Look up the weather of a city.")
        ]
        history = [(m["role"], _text_of(m)) for m in body["input"]]
    else:
        assert request.path == "/v1/chat/completions"
        assert body["messages"][0] == {"role": "system", "content": "Answer in one line."}
        function = body["tools"][0]["function"]
        assert (function["name"], function["description"]) == (
            "get_weather",
            "Look up the weather of a city.",
        )
        history = [(m["role"], _text_of(m)) for m in body["messages"][1:]]
    assert history == [
        ("user", "Hello"),
        ("assistant", "Nice to meet you"),
        ("user", "What did I say?"),
    ]


def _text_of(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part["text"] for part in content)


async def test_reasoning_becomes_a_finished_workflow_before_the_answer(
    openai_stub: OpenAIStub, make_model: Callable[[], Model], agent_harness: HarnessFactory
) -> None:
    openai_stub.add(Reasoning(["Weighing the options carefully"]), "Go left.")
    harness = agent_harness(Agent(name="a", model=make_model()))

    events = respond_events(await harness.create("Which way?"))

    assert kinds(events)[:2] == ["thread.item.added:workflow", "workflow.task.added"]
    added = events[0]["item"]
    assert added["workflow"] == {"type": "reasoning", "tasks": [], "expanded": False}
    done_index = kinds(events).index("thread.item.done:workflow")
    assert kinds(events)[done_index + 1] == "thread.item.added:assistant_message"
    assert set(kinds(events)[2:done_index]) == {"workflow.task.updated"}
    workflow = events[done_index]["item"]["workflow"]
    assert workflow["tasks"] == [
        {"type": "thought", "content": "Weighing the options carefully", "status_indicator": "none"}
    ]
    assert workflow["summary"] == {"duration": 0}
    assert workflow["expanded"] is False
    thread_id = added["thread_id"]
    assert [i["type"] for i in await harness.items(thread_id)] == [
        "user_message",
        "workflow",
        "assistant_message",
    ]


async def test_later_reasoning_summaries_are_added_as_whole_thoughts(
    openai_stub: OpenAIStub, openai_client: AsyncOpenAI, agent_harness: HarnessFactory
) -> None:
    openai_stub.add(Reasoning(["First idea", "Second idea"]), "Done")
    model = OpenAIResponsesModel(model="gpt-test", openai_client=openai_client)
    harness = agent_harness(Agent(name="a", model=model))

    events = respond_events(await harness.create("Think"))

    task_added = [
        e["update"] for e in events if e.get("update", {}).get("type") == "workflow.task.added"
    ]
    assert [(u["task_index"], u["task"]["content"]) for u in task_added] == [
        (0, "First "),
        (1, "Second idea"),
    ]
    done = next(e for e in events if kinds([e]) == ["thread.item.done:workflow"])
    assert [t["content"] for t in done["item"]["workflow"]["tasks"]] == [
        "First idea",
        "Second idea",
    ]


async def test_url_citations_become_annotations(
    openai_stub: OpenAIStub, openai_client: AsyncOpenAI, agent_harness: HarnessFactory
) -> None:
    citation = {
        "type": "url_citation",
        "url": "https://docs.example/a",
        "title": "Docs",
        "start_index": 0,
        "end_index": 9,
    }
    unusable = {"type": "file_citation", "file_id": "file_1", "filename": "", "index": 3}
    openai_stub.add(Text("See docs.", annotations=[unusable, citation]))
    model = OpenAIResponsesModel(model="gpt-test", openai_client=openai_client)
    harness = agent_harness(Agent(name="a", model=model))

    events = respond_events(await harness.create("Source?"))

    added = [
        e["update"]
        for e in events
        if e.get("update", {}).get("type") == "assistant_message.content_part.annotation_added"
    ]
    expected = {
        "type": "annotation",
        "index": 9,
        "source": {"type": "url", "url": "https://docs.example/a", "title": "Docs"},
    }
    assert added == [
        {
            "type": "assistant_message.content_part.annotation_added",
            "content_index": 0,
            "annotation_index": 0,
            "annotation": expected,
        }
    ]
    part_done = next(
        e
        for e in events
        if e.get("update", {}).get("type") == "assistant_message.content_part.done"
    )
    assert part_done["update"]["content"]["annotations"] == []
    assert events[-1]["item"]["content"][0]["annotations"] == [expected]


async def test_generated_image_streams_progress_then_the_final_image(
    openai_stub: OpenAIStub, openai_client: AsyncOpenAI
) -> None:
    image = ImageGeneration("RklOQUw=", partial_images=["UDE=", "UDI="])
    openai_stub.add(image, "Here is your cat.")
    model = OpenAIResponsesModel(model="gpt-test", openai_client=openai_client)
    server = AgentServer(Agent(name="a", model=model))
    harness = Harness(server)

    events = respond_events(await harness.create("Draw a cat"))

    assert kinds(events)[:4] == [
        "thread.item.added:generated_image",
        "generated_image.updated",
        "generated_image.updated",
        "thread.item.done:generated_image",
    ]
    assert "image" not in events[0]["item"]
    assert events[1]["update"] == {
        "type": "generated_image.updated",
        "progress": 0.0,
        "image": {"id": image.id, "url": "data:image/png;base64,UDE="},
    }
    assert events[3]["item"]["image"] == {"id": image.id, "url": "data:image/png;base64,RklOQUw="}
    assert events[3]["item"]["id"].startswith("msg_")


async def test_image_progress_uses_the_converter(
    openai_stub: OpenAIStub, openai_client: AsyncOpenAI
) -> None:
    class HostedImages(ResponseStreamConverter):
        async def base64_image_to_url(
            self, image_id: str, base64_image: str, partial_image_index: int | None = None
        ) -> str:
            return f"https://img.example/{image_id}/{partial_image_index}"

    converter = HostedImages(partial_images=2)
    image = ImageGeneration("RklOQUw=", partial_images=["UDE=", "UDI="])
    openai_stub.add(image, "Done")
    model = OpenAIResponsesModel(model="gpt-test", openai_client=openai_client)

    from agents import Runner

    from chatkit_core.agents import stream_agent_response
    from chatkit_core.store import MemoryStore
    from chatkit_core.types import ThreadMetadata

    store = MemoryStore[Context]()
    thread = ThreadMetadata(id="thr_1", created_at=_now())
    await store.save_thread(thread, {})
    ctx = AgentContext[Context](thread=thread, store=store, request_context={})
    result = Runner.run_streamed(Agent(name="a", model=model), "draw", context=ctx)
    events = [e async for e in stream_agent_response(ctx, result, converter=converter)]

    progress = [
        e.update.progress
        for e in events
        if e.type == "thread.item.updated" and e.update.type == "generated_image.updated"
    ]
    assert progress == [0.0, 0.5]
    image_done = next(e for e in events if e.type == "thread.item.done")
    assert image_done.item.image.url == f"https://img.example/{image.id}/None"


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def test_several_outputs_in_one_turn_keep_their_order(
    openai_stub: OpenAIStub, openai_client: AsyncOpenAI, agent_harness: HarnessFactory
) -> None:
    openai_stub.add(Reasoning(["Plan"]), Text("Part one."), Text("Part two."))
    model = OpenAIResponsesModel(model="gpt-test", openai_client=openai_client)
    harness = agent_harness(Agent(name="a", model=model))

    events = respond_events(await harness.create("Go"))

    finished = [k for k in kinds(events) if k.startswith("thread.item.done")]
    assert finished == [
        "thread.item.done:workflow",
        "thread.item.done:assistant_message",
        "thread.item.done:assistant_message",
    ]


async def test_function_call_is_run_and_its_result_sent_back(
    openai_stub: OpenAIStub,
    make_model: Callable[[], Model],
    agent_harness: HarnessFactory,
    model_kind: ModelKind,
) -> None:
    calls: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """Return the weather of a city."""
        calls.append(city)
        return f"Sunny in {city}"

    call = FunctionCall("get_weather", {"city": "Oslo"})
    openai_stub.add(call)
    openai_stub.add("It is sunny in Oslo.")
    harness = agent_harness(Agent(name="a", model=make_model(), tools=[get_weather]))

    events = respond_events(await harness.create("Weather in Oslo?"))

    assert calls == ["Oslo"]
    assert kinds(events)[-1] == "thread.item.done:assistant_message"
    assert events[-1]["item"]["content"][0]["text"] == "It is sunny in Oslo."
    body = openai_stub.last_request.body
    if model_kind == "responses":
        outputs = [i for i in body["input"] if i.get("type") == "function_call_output"]
        assert outputs == [
            {"type": "function_call_output", "call_id": call.call_id, "output": "Sunny in Oslo"}
        ]
    else:
        tool_messages = [m for m in body["messages"] if m["role"] == "tool"]
        assert tool_messages == [
            {"role": "tool", "tool_call_id": call.call_id, "content": "Sunny in Oslo"}
        ]
    thread_id = events[0]["item"]["thread_id"]
    assert [i["type"] for i in await harness.items(thread_id)] == [
        "user_message",
        "assistant_message",
    ]
