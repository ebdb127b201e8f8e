"""Each tool kind through PlatformChatKitServer.process(), against the OpenAI stub: code
tools (plain, widget, client-side, long-running), tenant client tools and HTTP tools."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async

from hosted_agents.demo_model import DEMO_MARKER
from hosted_agents.long_tools import LongToolError
from hosted_agents.models import Agent
from hosted_agents.services import client_tool_create, http_tool_create
from tenants.models import Tenant
from tests.hosted_agents.conftest import LocalServer
from tests.hosted_agents.test_runtime import (
    Chat,
    assistant_text,
    chat_for,
    errors,
    kinds,
    make_credential,
    no_platform_key,
    openai_stub,
    publish,
    stored_rows,
    thread_id_of,
)
from tests.support.openai_stub import FunctionCall, OpenAIStub

pytestmark = pytest.mark.django_db(transaction=True)


def tool_output_sent(stub: OpenAIStub, call: FunctionCall) -> str:
    """The output the model received for `call`, from the last request to the stub."""
    [output] = [
        item["output"]
        for item in stub.last_request.body["input"]
        if item.get("type") == "function_call_output" and item["call_id"] == call.call_id
    ]
    return str(output)


@database_sync_to_async
def agent_with_tools(tenant: Tenant, base_url: str, **tools: Any) -> Agent:
    credential = make_credential(tenant, base_url)
    return publish(tenant, model="gpt-4.1", provider_credential_id=credential.pk, **tools)


# --------------------------------------------------------------------------- code tools


async def test_a_code_tool_is_offered_with_its_schema_and_its_result_goes_back_to_the_model(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    agent = await agent_with_tools(acme, openai_stub.base_url, code_tools=["calculator"])
    call = FunctionCall("calculator", {"expression": "(2 + 3) * 4 ** 2"})
    openai_stub.add(call)
    openai_stub.add("It is 80.")

    events = await chat_for(agent).create("What is (2+3)*4^2?")

    assert assistant_text(events) == "It is 80."
    [offered] = openai_stub.requests[0].body["tools"]
    assert offered["name"] == "calculator"
    assert offered["parameters"]["required"] == ["expression"]
    assert json.loads(tool_output_sent(openai_stub, call)) == {
        "expression": "(2 + 3) * 4 ** 2",
        "result": 80,
    }


async def test_a_widget_tool_adds_a_card_to_the_thread(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    agent = await agent_with_tools(acme, openai_stub.base_url, code_tools=["show_table"])
    table = {"title": "Plans", "columns": ["Plan", "Price"], "rows": [["Basic", "$5"]]}
    call = FunctionCall("show_table", table)
    openai_stub.add(call)
    openai_stub.add("Here are the plans.")
    chat = chat_for(agent)

    events = await chat.create("Show me the plans")

    [widget] = [e["item"] for e in events if e["type"] == "thread.item.done"
                and e["item"]["type"] == "widget"]  # fmt: skip
    assert widget["widget"]["type"] == "Card"
    assert "Basic" in json.dumps(widget["widget"])
    assert widget["copy_text"] == "Plan\tPrice\nBasic\t$5"
    assert "now shown to the user" in tool_output_sent(openai_stub, call)
    stored = [item["type"] for item in await chat.items(thread_id_of(events))]
    assert stored == ["user_message", "widget", "assistant_message"]
    rows = await stored_rows(thread_id_of(events))
    assert {(r.type, r.agent_version, r.model) for r in rows if r.type == "widget"} == {
        ("widget", 1, "gpt-4.1")
    }


async def test_a_client_side_code_tool_ends_the_turn_with_a_pending_client_tool_call(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    agent = await agent_with_tools(acme, openai_stub.base_url, code_tools=["switch_theme"])
    call = FunctionCall("switch_theme", {"theme": "dark"})
    openai_stub.add(call)

    events = await chat_for(agent).create("Dark mode please")

    item = events[-1]["item"] if events[-1]["type"] != "thread.updated" else events[-2]["item"]
    assert (item["type"], item["status"], item["name"], item["arguments"]) == (
        "client_tool_call",
        "pending",
        "switch_theme",
        {"theme": "dark"},
    )
    assert item["call_id"] == call.call_id
    assert len(openai_stub.requests) == 1  # the run stopped at the tool


# --------------------------------------------------------------------------- client tools


async def test_a_tenant_client_tool_becomes_a_client_tool_call_and_its_output_reaches_the_model(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    tool = await database_sync_to_async(client_tool_create)(
        tenant=acme,
        name="pick_color",
        description="Let the user pick a colour in the page.",
        args_schema={
            "type": "object",
            "properties": {"palette": {"type": "string"}},
            "required": ["palette"],
        },
    )
    agent = await agent_with_tools(acme, openai_stub.base_url, client_tools=[tool.pk])
    call = FunctionCall("pick_color", {"palette": "warm"})
    openai_stub.add(call)
    openai_stub.add("Orange it is.")
    chat = chat_for(agent)
    events = await chat.create("Help me choose a colour")
    [pending] = [e["item"] for e in events if e["type"] == "thread.item.done"
                 and e["item"]["type"] == "client_tool_call"]  # fmt: skip
    offered = openai_stub.requests[0].body["tools"][0]
    assert (offered["name"], offered["parameters"]["required"]) == ("pick_color", ["palette"])
    assert (pending["status"], pending["arguments"]) == ("pending", {"palette": "warm"})

    answer = await chat.stream(
        "threads.add_client_tool_output",
        thread_id=thread_id_of(events),
        result={"color": "orange"},
    )

    assert assistant_text(answer) == "Orange it is."
    assert json.loads(tool_output_sent(openai_stub, call)) == {"color": "orange"}


async def test_client_tool_arguments_that_break_the_schema_go_back_to_the_model(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    tool = await database_sync_to_async(client_tool_create)(
        tenant=acme,
        name="pick_color",
        description="Let the user pick a colour.",
        args_schema={"type": "object", "properties": {"n": {"type": "integer"}}},
    )
    agent = await agent_with_tools(acme, openai_stub.base_url, client_tools=[tool.pk])
    call = FunctionCall("pick_color", {"n": "not a number"})
    openai_stub.add(call)
    openai_stub.add("Sorry.")

    events = await chat_for(agent).create("Colour?")

    assert "client_tool_call" not in json.dumps(kinds(events))
    assert "Invalid arguments for pick_color" in tool_output_sent(openai_stub, call)


# --------------------------------------------------------------------------- HTTP tools


@database_sync_to_async
def weather_tool(tenant: Tenant, server: LocalServer) -> Any:
    return http_tool_create(
        tenant=tenant,
        name="weather",
        description="Current weather for a city.",
        url_template=server.url("/echo"),
        headers={"Authorization": "Bearer weather-secret-123456"},
        args_schema={
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    )


async def test_an_http_tool_calls_its_url_with_its_secret_headers_when_private_hosts_are_allowed(
    acme: Tenant, openai_stub: OpenAIStub, local_server: LocalServer, settings: Any
) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = True
    tool = await weather_tool(acme, local_server)
    agent = await agent_with_tools(acme, openai_stub.base_url, http_tools=[tool.pk])
    call = FunctionCall("weather", {"city": "Oslo Centre"})
    openai_stub.add(call)
    openai_stub.add("Sunny.")

    events = await chat_for(agent).create("Weather in Oslo?")

    assert assistant_text(events) == "Sunny."
    [seen] = local_server.requests
    assert (seen.method, seen.path) == ("GET", "/echo?city=Oslo+Centre")
    assert seen.headers["authorization"] == "Bearer weather-secret-123456"
    output = json.loads(tool_output_sent(openai_stub, call))
    assert output["status"] == 200
    assert output["body"]["server"] == "local"
    assert output["truncated"] is False


async def test_an_http_tool_to_a_private_address_is_refused_without_the_operator_setting(
    acme: Tenant, local_server: LocalServer, settings: Any
) -> None:
    tool = await weather_tool(acme, local_server)
    # The offline demo model: with private targets refused, no loopback provider either.
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = False
    agent = await database_sync_to_async(publish)(acme, model="demo", http_tools=[tool.pk])

    events = await chat_for(agent).create("Use weather for Oslo")

    assert not errors(events)
    assert local_server.requests == []
    assert "forbidden_address" in assistant_text(events)


async def test_an_http_tool_fills_url_placeholders_one_encoded_segment_each(
    acme: Tenant, openai_stub: OpenAIStub, local_server: LocalServer, settings: Any
) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = True
    tool = await database_sync_to_async(http_tool_create)(
        tenant=acme,
        name="order",
        description="Create an order line.",
        method="POST",
        url_template=local_server.url("/orders/{order_id}/lines"),
        args_schema={
            "type": "object",
            "properties": {"order_id": {"type": "string"}, "qty": {"type": "integer"}},
        },
    )
    agent = await agent_with_tools(acme, openai_stub.base_url, http_tools=[tool.pk])
    openai_stub.add(FunctionCall("order", {"order_id": "../admin?x=1", "qty": 2}))
    openai_stub.add("Done.")

    await chat_for(agent).create("Add two")

    [seen] = local_server.requests
    assert (seen.method, seen.path) == ("POST", "/orders/..%2Fadmin%3Fx%3D1/lines")
    assert json.loads(seen.body) == {"qty": 2}


# --------------------------------------------------------------------------- long-running tools


class FakeLongTools:
    """Stands in for hosted_agents.long_tools.long_tool_run: reports progress, then answers."""

    def __init__(self, result: Any = None, error: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.result = result
        self.error = error

    async def __call__(
        self, *, on_progress: Callable[[str, float | None], Awaitable[None]], **call: Any
    ) -> Any:
        self.calls.append(call)
        await on_progress("Counting words", 0.25)
        await on_progress("Almost there", None)
        if self.error is not None:
            raise self.error
        return self.result


async def test_a_long_running_tool_goes_to_the_runner_with_its_ids_and_streams_progress(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    agent = await agent_with_tools(acme, openai_stub.base_url, code_tools=["analyze_text"])
    call = FunctionCall("analyze_text", {"text": "One. Two.", "top": 3})
    openai_stub.add(call)
    openai_stub.add("Two sentences.")
    runner = FakeLongTools(result={"sentences": 2})
    chat = chat_for(agent, long_tool_runner=runner)

    events = await chat.create("Analyse this")

    [sent] = runner.calls
    assert len(sent.pop("run_id")) == 32  # a fresh uuid per run
    assert sent == {
        "tenant_id": acme.pk,
        "thread_id": thread_id_of(events),
        "call_id": call.call_id,
        "tool_name": "analyze_text",
        "arguments": {"text": "One. Two.", "top": 3},
        "time_limit_seconds": 60.0,
    }
    progress = [e["text"] for e in events if e["type"] == "progress_update"]
    assert progress == ["Counting words (25%)", "Almost there"]
    assert json.loads(tool_output_sent(openai_stub, call)) == {"sentences": 2}
    assert assistant_text(events) == "Two sentences."


async def test_a_failed_long_running_tool_tells_the_model_why(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    agent = await agent_with_tools(acme, openai_stub.base_url, code_tools=["analyze_text"])
    call = FunctionCall("analyze_text", {"text": "Hi.", "top": 1})
    openai_stub.add(call)
    openai_stub.add("The analysis failed.")
    error = LongToolError("no_worker", "No worker is available to run the tool 'analyze_text'.")
    chat = chat_for(agent, long_tool_runner=FakeLongTools(error=error))

    events = await chat.create("Analyse")

    assert not errors(events)
    assert tool_output_sent(openai_stub, call) == (
        "No worker is available to run the tool 'analyze_text'."
    )


_ = (Chat, no_platform_key, openai_stub)  # fixtures shared with test_runtime.py


async def test_the_demo_model_calls_a_code_tool_with_no_key_at_all(acme: Tenant) -> None:
    agent = await database_sync_to_async(publish)(acme, code_tools=["current_time"])

    events = await chat_for(agent).create("Please use current_time")

    text = assistant_text(events)
    assert text.startswith(DEMO_MARKER)
    assert "weekday" in text  # the demo quotes the tool's output
    assert not errors(events)


# --------------------------------------------------------------------------- the demo model
# Each tool kind through process() with no key at all: the demo model calls a tool its user
# message names, with arguments taken from the message, and quotes what the tool returned.


def demo_quotes(events: list[dict[str, Any]], tool: str) -> list[str]:
    """The tool outputs the demo model's answer quotes for `tool` (one per output it saw)."""
    text = assistant_text(events)
    assert text.startswith(DEMO_MARKER), text
    return re.findall(rf'The tool {tool} returned: "(.*?)"\. ', text)


async def test_the_demo_model_runs_a_code_tool_and_quotes_its_result(acme: Tenant) -> None:
    agent = await database_sync_to_async(publish)(acme, code_tools=["calculator"])

    events = await chat_for(agent).create("calculator: what is (2 + 3) * 4?")

    assert not errors(events)
    assert demo_quotes(events, "calculator") == [
        json.dumps({"expression": "(2 + 3) * 4", "result": 20})
    ]


async def test_the_demo_model_runs_a_widget_tool_that_adds_a_card(acme: Tenant) -> None:
    agent = await database_sync_to_async(publish)(acme, code_tools=["show_table"])
    chat = chat_for(agent)

    events = await chat.create("show_table title: Plans")

    assert not errors(events)
    stored = await chat.items(thread_id_of(events))
    assert [item["type"] for item in stored] == ["user_message", "widget", "assistant_message"]
    assert "Plans" in json.dumps(stored[1]["widget"])
    assert demo_quotes(events, "show_table") == [
        "The table 'Plans' with 1 rows is now shown to the user."
    ]
    rows = await stored_rows(thread_id_of(events))
    assert [(r.type, r.agent_version, r.model) for r in rows[1:]] == [
        ("widget", 1, "demo"),
        ("assistant_message", 1, "demo"),
    ]


async def test_the_demo_model_calls_a_client_tool_and_quotes_the_clients_answer(
    acme: Tenant,
) -> None:
    tool = await database_sync_to_async(client_tool_create)(
        tenant=acme,
        name="pick_color",
        description="Let the user pick a colour in the page.",
        args_schema={
            "type": "object",
            "properties": {"palette": {"type": "string", "enum": ["warm", "cold"]}},
            "required": ["palette"],
        },
    )
    agent = await database_sync_to_async(publish)(acme, client_tools=[tool.pk])
    chat = chat_for(agent)
    events = await chat.create("pick_color from the cold palette")
    [pending] = [e["item"] for e in events if e["type"] == "thread.item.done"
                 and e["item"]["type"] == "client_tool_call"]  # fmt: skip
    assert (pending["status"], pending["arguments"]) == ("pending", {"palette": "cold"})

    answer = await chat.stream(
        "threads.add_client_tool_output", thread_id=thread_id_of(events), result={"color": "teal"}
    )

    assert not errors(answer)
    assert demo_quotes(answer, "pick_color") == [json.dumps({"color": "teal"})]
    stored = await chat.items(thread_id_of(events))
    assert [(i["type"], i.get("status")) for i in stored] == [
        ("user_message", None),
        ("client_tool_call", "completed"),
        ("assistant_message", None),
    ]


async def test_the_demo_model_calls_an_http_tool_on_a_local_server(
    acme: Tenant, local_server: LocalServer, settings: Any
) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = True
    tool = await weather_tool(acme, local_server)
    agent = await database_sync_to_async(publish)(acme, http_tools=[tool.pk])

    events = await chat_for(agent).create("weather city: Oslo")

    assert not errors(events)
    [seen] = local_server.requests
    assert (seen.method, seen.path) == ("GET", "/echo?city=Oslo")
    assert seen.headers["authorization"] == "Bearer weather-secret-123456"
    [quoted] = demo_quotes(events, "weather")
    assert quoted.startswith('{"status": 200, "body": {"server": "local"')
