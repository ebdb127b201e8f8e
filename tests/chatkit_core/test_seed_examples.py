"""The seed API reference's examples, written as there with `chatkit` → `chatkit_core`,
served by a plain ASGI endpoint and run against the OpenAI stub."""

# --- the example backend (as in chatkit_core/README.md) --------------------------------

import json
import logging
from collections.abc import AsyncIterator
from typing import Any, Literal

import httpx
import pytest
from agents import Agent, RunContextWrapper, Runner, StopAtTools, function_tool
from agents.models import _openai_shared
from openai import AsyncOpenAI

from chatkit_core.agents import (
    AgentContext,
    ClientToolCall,
    stream_agent_response,
)
from chatkit_core.server import ChatKitServer, StreamingResult
from chatkit_core.store import MemoryStore
from chatkit_core.types import (
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
)
from chatkit_core.widgets import Card, Text
from tests.support.openai_stub import FunctionCall, OpenAIStub
from tests.support.sse import parse_sse

logger = logging.getLogger(__name__)


class NotFoundError(Exception):
    pass


async def perform_operation(id: str) -> dict[str, Any]:
    if id == "missing":
        raise NotFoundError(id)
    if id == "broken":
        raise RuntimeError("backend down")
    return {"id": id}


@function_tool(description_override="Human-readable description for the agent")
async def my_tool(
    ctx: RunContextWrapper[AgentContext],
    param1: str,
    param2: int = 10,
) -> dict | None:
    # Return dict on success, None on failure
    return {"result": "success"}


@function_tool(description_override="Switch the chat between light and dark theme.")
async def switch_theme(
    ctx: RunContextWrapper[AgentContext], theme: Literal["light", "dark"]
) -> dict | None:
    ctx.context.client_tool_call = ClientToolCall(name="switch_theme", arguments={"theme": theme})
    return {"success": True}


@function_tool(description_override="Show the weather of a city as a card.")
async def show_weather(ctx: RunContextWrapper[AgentContext], city: str) -> dict | None:
    await ctx.context.stream_widget(
        Card(children=[Text(value=f"Sunny in {city}")]),
        copy_text=f"Sunny in {city}",
    )
    return {"shown": True}


@function_tool(description_override="Risky operation")
async def risky_tool(ctx: RunContextWrapper[AgentContext], id: str) -> dict | None:
    try:
        result = await perform_operation(id)
        return {"status": "success", "data": result}
    except NotFoundError:
        return None  # Agent sees failure, can retry or inform user
    except Exception as e:
        logger.error(f"Tool failed: {e}")
        return None


agent = Agent[AgentContext](
    model="gpt-4.1-mini",
    name="Assistant",
    instructions="You are a helpful assistant.",
    tools=[my_tool, switch_theme, show_weather, risky_tool],
    # A client tool ends the turn: the client runs it and sends its output back.
    tool_use_behavior=StopAtTools(stop_at_tool_names=["switch_theme"]),
)


class MyChatKitServer(ChatKitServer[dict]):
    async def respond(
        self,
        thread: ThreadMetadata,
        item: UserMessageItem | None,
        context: dict,
    ) -> AsyncIterator[ThreadStreamEvent]:
        agent_context = AgentContext(thread=thread, store=self.store, request_context=context)
        input_messages = await self._to_agent_input(thread, item)
        if input_messages is None:
            return
        result = Runner.run_streamed(agent, input_messages, context=agent_context)
        async for event in stream_agent_response(agent_context, result):
            yield event


store = MemoryStore()
server = MyChatKitServer(store)


async def chatkit_endpoint(scope: dict, receive: Any, send: Any) -> None:
    """A plain ASGI app: POST /chatkit → ChatKit protocol."""
    if scope["type"] != "http":
        return
    if (scope["method"], scope["path"]) != ("POST", "/chatkit"):
        await send_json(send, {"error": "Not found"}, status=404)
        return
    try:
        payload = await read_body(receive)
        result = await server.process(payload, {"request": scope})
    except Exception:
        logger.exception("ChatKit error")
        await send_json(send, {"error": "Internal error"}, status=500)
        return
    if isinstance(result, StreamingResult):
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        async for chunk in result:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    else:
        await send_bytes(send, result.json, status=200)


async def read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def send_json(send: Any, data: dict, status: int) -> None:
    await send_bytes(send, json.dumps(data).encode(), status)


async def send_bytes(send: Any, body: bytes, status: int) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- the tests -----------------------------------------------------------------------


@pytest.fixture(autouse=True)
async def default_model_client(openai_stub: OpenAIStub) -> AsyncIterator[None]:
    """Route the example's `model="gpt-4.1-mini"` (default OpenAI provider) to the stub."""
    previous = _openai_shared.get_default_openai_client()
    client = AsyncOpenAI(base_url=openai_stub.base_url, api_key="test-key", max_retries=0)
    _openai_shared.set_default_openai_client(client)
    yield
    _openai_shared._default_openai_client = previous
    await client.close()


async def post(body: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=chatkit_endpoint)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/chatkit", content=json.dumps(body))


async def stream(type_: str, **params: Any) -> list[dict[str, Any]]:
    response = await post({"type": type_, "params": params})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    return [event.json() for event in parse_sse(response.text)]


def user_input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


def done_items(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e["type"] == "thread.item.done"]


async def test_agent_answer_streams_over_the_endpoint(openai_stub: OpenAIStub) -> None:
    openai_stub.add("Hello! How can I help?")

    events = await stream("threads.create", input=user_input("Hi"))

    assert [e["type"] for e in events[:3]] == [
        "thread.created",
        "thread.item.done",
        "stream_options",
    ]
    answer = done_items(events)[-1]
    assert answer["type"] == "assistant_message"
    assert answer["content"][0]["text"] == "Hello! How can I help?"
    request = openai_stub.last_request
    assert request.api_key == "test-key"
    assert request.body["model"] == "gpt-4.1-mini"
    assert request.body["instructions"] == "You are a helpful assistant."
    tools = {t["name"]: t for t in request.body["tools"]}
    assert tools["my_tool"]["description"] == "Human-readable description for the agent"
    assert tools["my_tool"]["parameters"]["properties"]["param2"]["default"] == 10
    assert tools["switch_theme"]["parameters"]["properties"]["theme"]["enum"] == ["light", "dark"]


async def test_function_tool_result_reaches_the_model(openai_stub: OpenAIStub) -> None:
    openai_stub.add(FunctionCall("my_tool", {"param1": "x", "param2": 3}))
    openai_stub.add("Done.")

    events = await stream("threads.create", input=user_input("Use my tool"))

    assert done_items(events)[-1]["content"][0]["text"] == "Done."
    outputs = [
        i for i in openai_stub.last_request.body["input"] if i.get("type") == "function_call_output"
    ]
    assert "success" in outputs[0]["output"]


async def test_switch_theme_round_trips_through_the_client(openai_stub: OpenAIStub) -> None:
    call = FunctionCall("switch_theme", {"theme": "dark"})
    openai_stub.add(call)
    openai_stub.add("Switched to dark.")

    events = await stream("threads.create", input=user_input("Dark mode please"))
    thread_id = events[0]["thread"]["id"]
    pending = done_items(events)[-1]
    followup = await stream(
        "threads.add_client_tool_output", thread_id=thread_id, result={"theme": "dark"}
    )

    assert (pending["type"], pending["status"], pending["name"]) == (
        "client_tool_call",
        "pending",
        "switch_theme",
    )
    assert (pending["id"], pending["call_id"], pending["arguments"]) == (
        call.id,
        call.call_id,
        {"theme": "dark"},
    )
    assert done_items(followup)[-1]["content"][0]["text"] == "Switched to dark."
    sent = openai_stub.last_request.body["input"]
    assert {
        "type": "function_call_output",
        "call_id": call.call_id,
        "output": '{"theme": "dark"}',
    } in sent


async def test_widget_tool_shows_a_card(openai_stub: OpenAIStub) -> None:
    openai_stub.add(FunctionCall("show_weather", {"city": "Oslo"}))
    openai_stub.add("Here is the weather.")

    events = await stream("threads.create", input=user_input("Weather in Oslo"))

    widget, answer = done_items(events)[1:]
    assert widget["type"] == "widget"
    assert widget["copy_text"] == "Sunny in Oslo"
    assert widget["widget"] == {
        "type": "Card",
        "children": [{"type": "Text", "value": "Sunny in Oslo"}],
    }
    assert answer["type"] == "assistant_message"


@pytest.mark.parametrize("id_", ["missing", "broken"])
async def test_failing_tool_returns_none_and_the_agent_recovers(
    openai_stub: OpenAIStub, id_: str
) -> None:
    openai_stub.add(FunctionCall("risky_tool", {"id": id_}))
    openai_stub.add("I could not do that.")

    events = await stream("threads.create", input=user_input("Risky"))

    assert done_items(events)[-1]["content"][0]["text"] == "I could not do that."
    outputs = [
        i for i in openai_stub.last_request.body["input"] if i.get("type") == "function_call_output"
    ]
    assert outputs[0]["output"] == "None"


async def test_model_failure_becomes_an_error_event(openai_stub: OpenAIStub) -> None:
    openai_stub.add_error(500)

    events = await stream("threads.create", input=user_input("Hi"))

    assert events[-1] == {"type": "error", "code": "stream.error", "allow_retry": True}


async def test_json_operations_answer_json(openai_stub: OpenAIStub) -> None:
    openai_stub.add("Hi")
    thread_id = (await stream("threads.create", input=user_input("Hi")))[0]["thread"]["id"]

    response = await post({"type": "items.list", "params": {"thread_id": thread_id}})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert [i["type"] for i in response.json()["data"]] == ["assistant_message", "user_message"]


async def test_bad_request_gets_the_generic_error_response() -> None:
    response = await post({"type": "threads.list"})

    assert response.status_code == 500
    assert response.json() == {"error": "Internal error"}
