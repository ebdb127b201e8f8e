"""The OpenAI stub speaks the wire format the real `openai` client parses."""

import json
import time
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from tests.support.openai_stub import (
    FunctionCall,
    HTTPError,
    ImageGeneration,
    OpenAIStub,
    Reasoning,
    StreamError,
    Text,
)
from tests.support.sse import parse_sse

EVENT = TypeAdapter[Any](ResponseStreamEvent)


def client_for(stub: OpenAIStub, **kwargs: Any) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=stub.base_url, api_key="test-key", max_retries=0, **kwargs)


def raw_post(stub: OpenAIStub, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{stub.base_url}{path}", json=body, headers={"authorization": "Bearer k"})


async def test_streamed_response_text_arrives_as_many_deltas(openai_stub: OpenAIStub) -> None:
    text = openai_stub.add("Hello there, dear friend").outputs[0]
    async with client_for(openai_stub) as client:
        stream = await client.responses.create(model="gpt-x", input="Hi", stream=True)
        events = [event async for event in stream]

    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert deltas == ["Hello ", "there, ", "dear ", "friend"]
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "Hello there, dear friend"
    assert events[-1].response.usage is not None
    added = next(e for e in events if e.type == "response.output_item.added")
    assert added.item.id == text.id
    assert [e.sequence_number for e in events] == list(range(len(events)))


async def test_every_streamed_responses_event_validates_strictly(openai_stub: OpenAIStub) -> None:
    openai_stub.add(
        Reasoning(["First I think.", "Then I act."]),
        Text("See [docs](https://a.example).", annotations=[url_citation()]),
        FunctionCall("lookup", {"q": "x"}),
        ImageGeneration("aW1n", partial_images=["cA=="]),
    )
    body = {"model": "gpt-x", "input": "Hi", "stream": True}
    reply = raw_post(openai_stub, "/responses", body)

    assert reply.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(reply.text)
    for event in events:
        parsed = EVENT.validate_python(event.json())
        assert parsed.type == event.event
    final = Response.model_validate(events[-1].json()["response"])
    assert [item.type for item in final.output] == [
        "reasoning",
        "message",
        "function_call",
        "image_generation_call",
    ]


async def test_stream_helper_accumulates_the_final_response(openai_stub: OpenAIStub) -> None:
    openai_stub.add(Reasoning(["Pondering"]), "The answer is 42.")
    async with (
        client_for(openai_stub) as client,
        client.responses.stream(model="gpt-x", input="Q?") as stream,
    ):
        async for _ in stream:
            pass
        final = await stream.get_final_response()

    assert final.output_text == "The answer is 42."
    assert final.output[0].type == "reasoning"
    assert final.output[0].summary[0].text == "Pondering"


async def test_non_streamed_response_is_a_complete_response(openai_stub: OpenAIStub) -> None:
    openai_stub.add("Plain answer", FunctionCall("f", {"a": 1}, call_id="call_1"))
    async with client_for(openai_stub) as client:
        response = await client.responses.create(model="gpt-x", input="Hi")

    assert response.output_text == "Plain answer"
    call = response.output[1]
    assert call.type == "function_call"
    assert (call.name, call.call_id, json.loads(call.arguments)) == ("f", "call_1", {"a": 1})
    assert response.model == "gpt-x"
    Response.model_validate(response.model_dump())


async def test_streamed_function_call_carries_name_arguments_and_ids(
    openai_stub: OpenAIStub,
) -> None:
    call = FunctionCall("get_weather", {"city": "Oslo", "unit": "celsius"})
    openai_stub.add(call)
    async with client_for(openai_stub) as client:
        stream = await client.responses.create(model="gpt-x", input="Hi", stream=True)
        events = [event async for event in stream]

    argument_deltas = [
        e.delta for e in events if e.type == "response.function_call_arguments.delta"
    ]
    assert len(argument_deltas) > 1
    assert json.loads("".join(argument_deltas)) == {"city": "Oslo", "unit": "celsius"}
    done = next(e for e in events if e.type == "response.output_item.done")
    assert (done.item.id, done.item.call_id, done.item.name) == (call.id, call.call_id, call.name)


async def test_reasoning_summary_streams_per_part(openai_stub: OpenAIStub) -> None:
    openai_stub.add(Reasoning(["Part one.", "Part two."]), "ok")
    async with client_for(openai_stub) as client:
        stream = await client.responses.create(model="gpt-x", input="Hi", stream=True)
        events = [event async for event in stream]

    done = [
        (e.summary_index, e.text)
        for e in events
        if e.type == "response.reasoning_summary_text.done"
    ]
    assert done == [(0, "Part one."), (1, "Part two.")]


async def test_chat_completion_stream_sends_deltas_and_usage(openai_stub: OpenAIStub) -> None:
    openai_stub.add("One two three")
    async with client_for(openai_stub) as client:
        stream = await client.chat.completions.create(
            model="gpt-x",
            messages=[{"role": "user", "content": "Hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]

    content = [c.choices[0].delta.content for c in chunks if c.choices]
    assert "".join(filter(None, content)) == "One two three"
    assert len([c for c in content if c]) == 3
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk.model_dump())


async def test_chat_stream_helper_assembles_tool_calls(openai_stub: OpenAIStub) -> None:
    openai_stub.add(
        Reasoning(["Hmm."]),
        "Let me check.",
        FunctionCall("a", {"x": 1}, call_id="call_a"),
        FunctionCall("b", "{}", call_id="call_b"),
    )
    async with (
        client_for(openai_stub) as client,
        client.chat.completions.stream(
            model="gpt-x", messages=[{"role": "user", "content": "Hi"}]
        ) as stream,
    ):
        async for _ in stream:
            pass
        final = await stream.get_final_completion()

    message = final.choices[0].message
    assert message.content == "Let me check."
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []] == [
        ("call_a", "a", '{"x": 1}'),
        ("call_b", "b", "{}"),
    ]
    assert final.choices[0].finish_reason == "tool_calls"


async def test_chat_stream_ends_with_done_sentinel(openai_stub: OpenAIStub) -> None:
    openai_stub.add(Reasoning(["why"]), "ok")
    reply = raw_post(
        openai_stub,
        "/chat/completions",
        {"model": "m", "messages": [], "stream": True},
    )

    events = parse_sse(reply.text)
    assert events[-1].data == "[DONE]"
    assert all(event.event is None for event in events)
    deltas = [ChatCompletionChunk.model_validate(e.json()).choices[0].delta for e in events[:-1]]
    assert any(getattr(d, "reasoning_content", None) == "why" for d in deltas)


async def test_non_streamed_chat_completion_is_complete(openai_stub: OpenAIStub) -> None:
    openai_stub.add("Sure.", FunctionCall("f", {"k": "v"}, call_id="call_9"))
    async with client_for(openai_stub) as client:
        completion = await client.chat.completions.create(
            model="gpt-x", messages=[{"role": "user", "content": "Hi"}]
        )

    ChatCompletion.model_validate(completion.model_dump())
    message = completion.choices[0].message
    assert message.content == "Sure."
    assert message.tool_calls is not None
    assert message.tool_calls[0].id == "call_9"
    assert completion.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("status", "error_class", "code"),
    [
        (401, openai.AuthenticationError, "invalid_api_key"),
        (429, openai.RateLimitError, "rate_limit_exceeded"),
        (500, openai.InternalServerError, None),
    ],
)
async def test_scripted_http_errors_raise_the_client_error(
    openai_stub: OpenAIStub, status: int, error_class: type[openai.APIStatusError], code: str | None
) -> None:
    openai_stub.add_error(status)
    openai_stub.add_error(status)
    async with client_for(openai_stub) as client:
        with pytest.raises(error_class) as responses_error:
            await client.responses.create(model="m", input="Hi", stream=True)
        with pytest.raises(error_class):
            await client.chat.completions.create(model="m", messages=[])

    assert responses_error.value.status_code == status
    assert responses_error.value.code == code
    assert isinstance(responses_error.value.body, dict)
    assert responses_error.value.body["message"]


async def test_wrong_api_key_is_refused_when_the_stub_checks_keys(
    openai_stub: OpenAIStub,
) -> None:
    openai_stub.api_key = "right-key"
    openai_stub.add("never sent")
    async with client_for(openai_stub) as client:
        with pytest.raises(openai.AuthenticationError):
            await client.responses.create(model="m", input="Hi")

    assert openai_stub.pending == 1
    assert openai_stub.last_request.api_key == "test-key"


async def test_requests_are_recorded_with_headers_and_body(openai_stub: OpenAIStub) -> None:
    openai_stub.add("ok")
    tool = {"type": "function", "name": "t", "parameters": {"type": "object"}, "strict": False}
    async with client_for(openai_stub) as client:
        await client.responses.create(
            model="gpt-rec", input="Hi", instructions="Be brief.", temperature=0.2, tools=[tool]
        )

    request = openai_stub.last_request
    assert (request.method, request.path) == ("POST", "/v1/responses")
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.api_key == "test-key"
    assert request.body["model"] == "gpt-rec"
    assert request.body["instructions"] == "Be brief."
    assert request.body["temperature"] == 0.2
    assert request.body["tools"] == [tool]
    assert not request.stream


async def test_slow_headers_make_the_client_time_out(openai_stub: OpenAIStub) -> None:
    openai_stub.add("late", headers_delay=2.0)
    async with client_for(openai_stub, timeout=0.3) as client:
        with pytest.raises(openai.APITimeoutError):
            await client.responses.create(model="m", input="Hi")


async def test_stream_events_are_flushed_one_by_one(openai_stub: OpenAIStub) -> None:
    openai_stub.add("a b c d", delay=0.05)
    arrivals: list[tuple[str, float]] = []
    async with client_for(openai_stub) as client:
        stream = await client.responses.create(model="m", input="Hi", stream=True)
        async for event in stream:
            arrivals.append((event.type, time.monotonic()))

    first_delta = next(t for kind, t in arrivals if kind == "response.output_text.delta")
    assert arrivals[-1][1] - first_delta > 0.2


async def test_stream_error_mid_response_reaches_the_client(openai_stub: OpenAIStub) -> None:
    openai_stub.add("Partial answer", StreamError("boom"))
    openai_stub.add("Partial answer", StreamError("boom"))
    async with client_for(openai_stub) as client:
        stream = await client.responses.create(model="m", input="Hi", stream=True)
        events = [event async for event in stream]
        chat = await client.chat.completions.create(model="m", messages=[], stream=True)
        with pytest.raises(openai.APIError, match="boom"):
            async for _ in chat:
                pass

    assert events[-1].type == "error"
    assert events[-1].message == "boom"
    assert "response.output_item.done" in [e.type for e in events]
    assert "response.completed" not in [e.type for e in events]


async def test_unscripted_request_gets_a_server_error_or_the_responder(
    openai_stub: OpenAIStub,
) -> None:
    async with client_for(openai_stub) as client:
        with pytest.raises(openai.InternalServerError, match="no scripted turn"):
            await client.responses.create(model="m", input="Hi")
        openai_stub.responder = lambda request: HTTPError(418, request.body["model"], "teapot")
        with pytest.raises(openai.APIStatusError, match="chosen-model") as error:
            await client.responses.create(model="chosen-model", input="Hi")

    assert error.value.status_code == 418


def url_citation() -> dict[str, Any]:
    return {
        "type": "url_citation",
        "url": "https://a.example",
        "title": "A",
        "start_index": 4,
        "end_index": 30,
    }
