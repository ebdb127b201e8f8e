from typing import Any, Literal

from agents import (
    Agent,
    ModelSettings,
    RunConfig,
    Runner,
    function_tool,
)
from agents.models.interface import ModelTracing
from openai.types.responses import ResponseCompletedEvent, ResponseOutputMessage
from pydantic import BaseModel

from hosted_agents.demo_model import DEMO_MARKER, DEMO_MODEL_NAME, DemoModel, example_arguments

NO_TRACING = RunConfig(tracing_disabled=True)


class WeatherDesk:
    """A function tool that records each call, so tests see the arguments the model chose."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

        @function_tool
        def get_weather(city: str, days: int, unit: Literal["celsius", "fahrenheit"]) -> str:
            """Return the weather forecast for a city."""
            self.calls.append({"city": city, "days": days, "unit": unit})
            return f"Sunny in {city} for {days} days, 21 degrees {unit}"

        self.tool = get_weather


def make_agent(desk: WeatherDesk, **kwargs: Any) -> Agent[None]:
    return Agent(
        name="Demo",
        instructions="Help with the weather.",
        model=DemoModel(),
        tools=[desk.tool],
        **kwargs,
    )


async def run_streamed(agent: Agent[None], message: str) -> tuple[list[Any], str, Any]:
    result = Runner.run_streamed(agent, message, run_config=NO_TRACING)
    raw = [
        event.data async for event in result.stream_events() if event.type == "raw_response_event"
    ]
    return raw, str(result.final_output), result.context_wrapper.usage


async def test_streamed_text_arrives_in_several_deltas_and_is_labelled_as_a_demo() -> None:
    raw, final, _ = await run_streamed(make_agent(WeatherDesk()), "Hello, what can you do?")

    deltas = [event.delta for event in raw if event.type == "response.output_text.delta"]
    assert len(deltas) > 10
    assert "".join(deltas) == final
    assert final.startswith(DEMO_MARKER)
    assert "not an AI" in final
    assert 'You said: "Hello, what can you do?"' in final
    assert "get_weather" in final  # the hint names the tools a user can try


async def test_stream_has_the_event_sequence_of_the_responses_api() -> None:
    raw, _, _ = await run_streamed(make_agent(WeatherDesk()), "Hi")

    types = [event.type for event in raw]
    collapsed = [t for i, t in enumerate(types) if i == 0 or t != types[i - 1]]
    assert collapsed == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in raw] == list(range(len(raw)))
    item_ids = {event.item_id for event in raw if hasattr(event, "item_id")}
    assert len(item_ids) == 1
    completed = raw[-1]
    assert isinstance(completed, ResponseCompletedEvent)
    assert completed.response.model == DEMO_MODEL_NAME
    assert completed.response.usage is not None
    assert completed.response.usage.output_tokens > 0


async def test_a_named_tool_is_called_with_schema_arguments_and_its_output_is_quoted() -> None:
    desk = WeatherDesk()
    raw, final, usage = await run_streamed(make_agent(desk), "Use get_weather for the next 3 days")

    assert desk.calls == [{"city": "example city", "days": 3, "unit": "celsius"}]
    arguments = [e for e in raw if e.type == "response.function_call_arguments.done"]
    assert len(arguments) == 1
    assert final.startswith(DEMO_MARKER)
    assert '"Sunny in example city for 3 days, 21 degrees celsius"' in final
    assert usage.requests == 2


async def test_tool_arguments_are_taken_from_the_message_when_obvious() -> None:
    desk = WeatherDesk()
    await Runner.run(make_agent(desk), "get weather city=Oslo in fahrenheit", run_config=NO_TRACING)

    assert desk.calls == [{"city": "Oslo", "days": 1, "unit": "fahrenheit"}]


async def test_demo_tools_calls_the_first_tool_when_none_is_named() -> None:
    desk = WeatherDesk()
    result = await Runner.run(make_agent(desk), "Show me the demo tools", run_config=NO_TRACING)

    assert len(desk.calls) == 1
    assert "The tool get_weather returned" in str(result.final_output)


async def test_a_message_that_names_no_tool_is_echoed_without_a_tool_call() -> None:
    desk = WeatherDesk()
    result = await Runner.run(make_agent(desk), "Tell me a story", run_config=NO_TRACING)

    assert desk.calls == []
    assert 'You said: "Tell me a story"' in str(result.final_output)
    assert "provider credential" in str(result.final_output)


async def test_the_same_input_gives_the_same_output() -> None:
    desks = [WeatherDesk(), WeatherDesk()]
    outputs = [
        (await Runner.run(make_agent(desk), "get_weather please", run_config=NO_TRACING))
        for desk in desks
    ]
    streamed = await run_streamed(make_agent(WeatherDesk()), "get_weather please")

    assert outputs[0].final_output == outputs[1].final_output == streamed[1]
    assert desks[0].calls == desks[1].calls
    assert outputs[0].context_wrapper.usage.total_tokens == streamed[2].total_tokens


async def test_usage_is_non_zero_for_every_model_call() -> None:
    result = await Runner.run(
        make_agent(WeatherDesk()), "get_weather for 2 days", run_config=NO_TRACING
    )

    usage = result.context_wrapper.usage
    assert usage.requests == 2
    assert len(usage.request_usage_entries) == 2
    assert all(e.input_tokens > 0 and e.output_tokens > 0 for e in usage.request_usage_entries)
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


async def test_model_settings_are_recorded_but_do_not_change_the_answer() -> None:
    plain = await Runner.run(make_agent(WeatherDesk()), "Hi", run_config=NO_TRACING)
    model = DemoModel()
    agent = make_agent(WeatherDesk()).clone(
        model=model, model_settings=ModelSettings(temperature=0.3, max_tokens=50)
    )
    result = Runner.run_streamed(agent, "Hi", run_config=NO_TRACING)
    completed = [e.data async for e in result.stream_events() if e.type == "raw_response_event"][-1]

    assert isinstance(completed, ResponseCompletedEvent)
    assert model.last_model_settings is not None
    assert model.last_model_settings.temperature == 0.3
    assert completed.response.temperature == 0.3
    assert completed.response.max_output_tokens == 50
    assert result.final_output == plain.final_output


def model_call(input: list[Any]) -> dict[str, Any]:
    """Return the arguments of one direct model call, as the runner would pass them."""
    return {
        "system_instructions": "Be brief.",
        "input": input,
        "model_settings": ModelSettings(),
        "tools": [],
        "output_schema": None,
        "handoffs": [],
        "tracing": ModelTracing.DISABLED,
        "previous_response_id": None,
        "conversation_id": None,
        "prompt": None,
    }


def user_message(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "input_text", "text": text}]}


async def test_get_response_and_stream_response_give_the_same_text() -> None:
    model = DemoModel()
    call = model_call([user_message("Ping")])
    response = await model.get_response(**call)
    events = [event async for event in model.stream_response(**call)]

    completed = events[-1]
    assert isinstance(completed, ResponseCompletedEvent)
    assert completed.response.usage is not None
    [message] = response.output
    [streamed] = completed.response.output
    assert isinstance(message, ResponseOutputMessage)
    assert isinstance(streamed, ResponseOutputMessage)
    assert message.content == streamed.content
    assert "This agent has no tools" in str(message.content[0])
    assert response.usage.output_tokens == completed.response.usage.output_tokens


async def test_hidden_context_is_not_mistaken_for_the_users_words() -> None:
    hidden = user_message("Hidden context:\n<HiddenContext>\nsecret note\n</HiddenContext>")

    response = await DemoModel().get_response(**model_call([user_message("Ping"), hidden]))

    [message] = response.output
    assert isinstance(message, ResponseOutputMessage)
    text = str(message.content[0])
    assert 'You said: "Ping" (1 word).' in text
    assert "secret" not in text


class Forecast(BaseModel):
    city: str
    temperature: float
    sunny: bool


async def test_a_structured_output_type_gets_an_answer_that_fits_its_schema() -> None:
    agent: Agent[None] = Agent(name="Demo", model=DemoModel(), output_type=Forecast)
    result = await Runner.run(agent, "Forecast?", run_config=NO_TRACING)

    assert result.final_output == Forecast(city="example city", temperature=1.0, sunny=True)


def test_example_arguments_fill_required_properties_by_type() -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "when": {"type": "string", "format": "date"},
            "count": {"type": "integer", "minimum": 5},
            "ratio": {"anyOf": [{"type": "null"}, {"type": "number"}]},
            "tags": {"type": "array", "items": {"$ref": "#/$defs/Tag"}},
            "mode": {"enum": ["fast", "slow"]},
            "flag": {"type": "boolean"},
            "optional": {"type": "string"},
        },
        "required": ["name", "when", "count", "ratio", "tags", "mode", "flag"],
        "$defs": {
            "Tag": {
                "type": "object",
                "properties": {"label": {"type": "string"}},
                "required": ["label"],
            }
        },
    }

    assert example_arguments(schema) == {
        "name": "example name",
        "when": "2024-01-01",
        "count": 5,
        "ratio": 1.0,
        "tags": [{"label": "example label"}],
        "mode": "fast",
        "flag": True,
    }
    from_hint = example_arguments(schema, hint='name="Ada L" slow 7 2.5 flag=false')
    assert from_hint["name"] == "Ada L"
    assert from_hint["mode"] == "slow"
    assert (from_hint["count"], from_hint["ratio"], from_hint["flag"]) == (7, 2.5, False)


def test_string_arguments_take_the_expression_or_the_quoted_text_from_the_message() -> None:
    expression = {"type": "object", "properties": {"expression": {"type": "string"}}}
    expression["required"] = ["expression"]
    text = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}

    assert example_arguments(expression, hint="what is (6*7)+1? use the calculator") == {
        "expression": "(6*7)+1"
    }
    assert example_arguments(text, hint='analyze "the quick brown fox"') == {
        "text": "the quick brown fox"
    }
    assert example_arguments(text, hint="summarise this") == {"text": "summarise this"}
