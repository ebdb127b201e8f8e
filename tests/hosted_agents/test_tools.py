"""Code tool registry, the builtin tools, and the HTTP and client tool builders on their
own (the runtime tests run them inside real agent runs)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from agents import FunctionTool
from agents.tool_context import ToolContext
from pydantic import ValidationError

from chatkit_core.agents import AgentContext
from chatkit_core.store import MemoryStore
from chatkit_core.types import ThreadMetadata
from hosted_agents import http_fetch
from hosted_agents.exceptions import UnknownToolError
from hosted_agents.tools import builtin, registry
from hosted_agents.tools.build import tools_build
from hosted_agents.tools.builtin import evaluate
from hosted_agents.tools.client import ClientToolSpec, client_function_tool
from hosted_agents.tools.http import HttpToolSpec, fill_url, http_function_tool
from hosted_agents.tools.registry import (
    ProgressReporter,
    all_code_tools,
    code_tool,
    get_code_tool,
)


@pytest.fixture
def scratch_registry() -> Iterator[None]:
    """Let a test register tools without leaving them behind."""
    saved = dict(registry._registry)
    yield
    registry._registry.clear()
    registry._registry.update(saved)


class Reports:
    def __init__(self) -> None:
        self.seen: list[tuple[str, float | None]] = []

    def report(self, text: str, fraction: float | None = None) -> None:
        self.seen.append((text, fraction))


def tool_context(name: str, arguments: dict[str, Any]) -> ToolContext[AgentContext[Any]]:
    thread = ThreadMetadata(id="thr_1", created_at=datetime.now(UTC))
    context = AgentContext[Any](thread=thread, store=MemoryStore(), request_context={})
    return ToolContext(
        context=context,
        tool_name=name,
        tool_call_id="call_1",
        tool_arguments=json.dumps(arguments),
    )


# --------------------------------------------------------------------------- registry


def test_the_builtin_tools_are_registered() -> None:
    names = [tool.name for tool in all_code_tools()]
    for name in ("analyze_text", "calculator", "current_time", "show_table", "switch_theme"):
        assert name in names
    assert get_code_tool("analyze_text").long_running is True
    assert get_code_tool("show_table").takes_context is True


@pytest.mark.usefixtures("scratch_registry")
def test_a_long_running_tools_schema_leaves_out_progress_and_invoke_passes_a_reporter() -> None:
    @code_tool(description="Count to n.", long_running=True, time_limit_seconds=5)
    def count_to(progress: ProgressReporter, *, n: int, label: str = "step") -> list[str]:
        for i in range(1, n + 1):
            progress.report(f"{label} {i}", i / n)
        return [f"{label} {i}" for i in range(1, n + 1)]

    tool = get_code_tool("count_to")
    reports = Reports()

    result = tool.invoke({"n": 2}, reports)

    assert set(tool.params_schema["properties"]) == {"n", "label"}
    assert tool.params_schema["properties"]["n"]["type"] == "integer"
    assert (tool.long_running, tool.time_limit_seconds) == (True, 5.0)
    assert result == ["step 1", "step 2"]
    assert reports.seen == [("step 1", 0.5), ("step 2", 1.0)]


@pytest.mark.usefixtures("scratch_registry")
def test_invoke_validates_arguments_against_the_schema() -> None:
    @code_tool("double_it", description="Double a number.")
    def double(x: int) -> int:
        return 2 * x

    tool = get_code_tool("double_it")

    assert tool.invoke({"x": 4}) == 8
    with pytest.raises(ValidationError):
        tool.invoke({"x": "four"})


@pytest.mark.usefixtures("scratch_registry")
def test_async_tools_can_be_invoked_outside_an_event_loop() -> None:
    @code_tool(description="Greet.")
    async def greet(name: str) -> str:
        return f"Hello {name}"

    assert get_code_tool("greet").invoke({"name": "Ada"}) == "Hello Ada"


@pytest.mark.usefixtures("scratch_registry")
def test_badly_shaped_tools_are_refused_when_registered() -> None:
    with pytest.raises(TypeError, match="must take `progress` first"):

        @code_tool(description="No progress.", long_running=True)
        def no_progress(n: int) -> int:
            return n

    with pytest.raises(TypeError, match="plain \\(sync\\) function"):

        @code_tool(description="Async.", long_running=True)
        async def is_async(progress: ProgressReporter, *, n: int) -> int:
            return n

    with pytest.raises(ValueError, match="already registered"):

        @code_tool("calculator", description="A second calculator.")
        def calculator(expression: str) -> str:
            return expression


def test_an_unknown_code_tool_raises_unknown_tool_error() -> None:
    with pytest.raises(UnknownToolError) as raised:
        get_code_tool("no_such_tool")
    assert isinstance(raised.value, LookupError)


def test_a_tool_that_needs_the_run_context_cannot_be_invoked_without_one() -> None:
    with pytest.raises(TypeError, match="needs a run context"):
        get_code_tool("switch_theme").invoke({"theme": "dark"})


# --------------------------------------------------------------------------- frozen code tools


def frozen_entry(name: str, **changes: Any) -> dict[str, Any]:
    """The tool's entry as a published version froze it (see `resolve_tools`), changed."""
    tool = get_code_tool(name)
    entry = {
        "kind": "code",
        "name": tool.name,
        "description": tool.description,
        "params_schema": tool.params_schema,
        "long_running": tool.long_running,
        "time_limit_seconds": tool.time_limit_seconds,
    }
    return entry | changes


def build(entries: list[dict[str, Any]], runner: Any = None) -> list[FunctionTool]:
    async def no_headers(tool_id: int) -> dict[str, str]:
        return {}

    return tools_build(
        entries,
        tenant_id=1,
        run_id="run_1",
        allow_private_http=False,
        load_headers=no_headers,
        long_tool_runner=runner,
    )


async def test_a_code_tool_is_offered_and_limited_as_its_version_froze_it(
    scratch_registry: None,
) -> None:
    @code_tool(description="Sleep a while (as registered now).", time_limit_seconds=30)
    def nap(seconds: float) -> str:
        time.sleep(seconds)
        return "rested"

    schema = {**get_code_tool("nap").params_schema, "description": "frozen"}
    entry = frozen_entry(
        "nap", description="Nap (as published).", params_schema=schema, time_limit_seconds=0.1
    )

    [tool] = build([entry])
    answer = await tool.on_invoke_tool(tool_context("nap", {}), '{"seconds": 0.5}')

    assert (tool.description, tool.params_json_schema) == ("Nap (as published).", schema)
    assert answer == "The tool nap did not finish within 0.1 seconds."


async def test_a_long_running_code_tool_goes_to_the_runner_with_its_frozen_time_limit(
    scratch_registry: None,
) -> None:
    calls: list[dict[str, Any]] = []

    async def runner(**call: Any) -> Any:
        calls.append(call)
        return {"ok": True}

    [tool] = build([frozen_entry("analyze_text", time_limit_seconds=5.0)], runner)

    await tool.on_invoke_tool(tool_context("analyze_text", {}), '{"text": "Hi."}')

    assert [(c["run_id"], c["call_id"], c["time_limit_seconds"]) for c in calls] == [
        ("run_1", "call_1", 5.0)
    ]


async def test_a_frozen_code_tool_no_longer_registered_answers_with_a_tool_error(
    scratch_registry: None,
) -> None:
    entry = frozen_entry("calculator", description="Frozen calculator.")
    del registry._registry["calculator"]

    [tool] = build([entry])
    answer = await tool.on_invoke_tool(tool_context("calculator", {}), '{"expression": "1+1"}')

    assert (tool.name, tool.description) == ("calculator", "Frozen calculator.")
    assert tool.params_json_schema == entry["params_schema"]
    assert answer == "The tool calculator is no longer available on this platform."


# --------------------------------------------------------------------------- builtin tools


@pytest.mark.parametrize(
    ("expression", "value"),
    [("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("2 ^ 10", 1024), ("-7 // 2", -4), ("sqrt(16)", 4.0),
     ("max(1, 5, 3)", 5), ("round(pi, 2)", 3.14), ("10 % 4", 2)],
)  # fmt: skip
def test_the_calculator_evaluates_arithmetic(expression: str, value: float) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    "expression",
    ["__import__('os').system('id')", "open('x')", "9 ** 9 ** 9", "x + 1", "1 / 0",
     "(1).__class__", "[1, 2]", "10 ** 200", "1 +"],
)  # fmt: skip
def test_the_calculator_refuses_anything_but_arithmetic(expression: str) -> None:
    with pytest.raises(ValueError):
        evaluate(expression)
    assert "error" in get_code_tool("calculator").invoke({"expression": expression})


@pytest.mark.parametrize("expression", ["(-1) ** 0.5", "abs((-8) ** (1 / 3))", "(-2) ^ 1.5 + 1"])
def test_the_calculator_refuses_results_that_are_not_real_numbers(expression: str) -> None:
    with pytest.raises(ValueError, match="not a real number"):
        evaluate(expression)
    answer = get_code_tool("calculator").invoke({"expression": expression})
    assert answer == {"expression": expression, "error": "the result is not a real number"}
    json.dumps(answer)


def test_current_time_answers_in_the_time_zone_asked_for() -> None:
    answer = get_code_tool("current_time").invoke({"timezone": "Asia/Tokyo"})

    assert answer["utc_offset"] == "+0900"
    assert answer["iso"].endswith("+09:00")
    assert "error" in get_code_tool("current_time").invoke({"timezone": "Mars/Olympus"})


def test_analyze_text_reports_its_steps_and_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builtin, "ANALYZE_STEP_SECONDS", 0)
    reports = Reports()

    result = get_code_tool("analyze_text").invoke(
        {"text": "Cats sleep. Cats eat fish! Dogs bark?", "top": 1}, reports
    )

    assert [fraction for _, fraction in reports.seen] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert (result["sentences"], result["words"]) == (3, 7)
    assert result["top_words"] == [["cats", 2]]


async def test_show_table_streams_a_card_and_refuses_ragged_rows() -> None:
    tool = get_code_tool("show_table")
    good = tool_context("show_table", {})
    args = {"title": "T", "columns": ["a", "b"], "rows": [["1", "2"]]}

    answer = await tool.func(good, **args)
    ragged = await tool.func(good, **(args | {"rows": [["1"]]}))

    assert "now shown" in answer
    events = [good.context._events.get_nowait() for _ in range(good.context._events.qsize())]
    assert [e.type for e in events] == ["thread.item.done"]
    assert events[0].item.widget.type == "Card"  # type: ignore[union-attr]
    assert ragged.startswith("Not shown")


# --------------------------------------------------------------------------- HTTP tools


def test_url_placeholders_are_filled_one_encoded_segment_each() -> None:
    url, rest = fill_url(
        "https://api.example.com/users/{user}/posts?lang=en", {"user": "a/b?c=d", "n": 2}
    )

    assert url == "https://api.example.com/users/a%2Fb%3Fc%3Dd/posts?lang=en"
    assert rest == {"n": 2}
    with pytest.raises(ValueError, match="missing argument"):
        fill_url("https://api.example.com/{user}", {})


class FakeFetch:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error = error

    async def __call__(self, method: str, url: str, **options: Any) -> http_fetch.FetchResult:
        self.calls.append({"method": method, "url": url, **options})
        if self.error is not None:
            raise self.error
        return http_fetch.FetchResult(
            status=404, headers={}, body_text="nope", body_json=None, truncated=True,
            elapsed=0.01, url=url, address="203.0.113.9",
        )  # fmt: skip


def spec(method: str = "GET", template: str = "https://api.example.com/w/{city}") -> HttpToolSpec:
    return HttpToolSpec(
        id=7,
        name="weather",
        description="Weather.",
        method=method,
        url_template=template,
        args_schema={
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
        time_limit_seconds=3.0,
        max_response_bytes=1000,
    )


async def test_an_http_tool_decrypts_headers_at_call_time_and_reports_status_and_body() -> None:
    loaded: list[int] = []

    async def load_headers(tool_id: int) -> dict[str, str]:
        loaded.append(tool_id)
        return {"X-Api-Key": "k"}

    fetch = FakeFetch()
    tool = http_function_tool(spec(), load_headers=load_headers, allow_private=False, fetcher=fetch)
    assert loaded == []  # building the tool reads no secret

    answer = await tool.on_invoke_tool(
        tool_context("weather", {}), json.dumps({"city": "São Paulo", "days": 2})
    )

    assert loaded == [7]
    [call] = fetch.calls
    assert call["url"] == "https://api.example.com/w/S%C3%A3o%20Paulo?days=2"
    assert (call["headers"], call["json_body"]) == ({"X-Api-Key": "k"}, None)
    assert (call["timeout_seconds"], call["max_response_bytes"]) == (3.0, 1000)
    assert call["allow_private"] is False
    assert json.loads(answer) == {"status": 404, "body": "nope", "truncated": True}


async def test_an_http_tool_sends_the_other_arguments_as_json_for_post() -> None:
    fetch = FakeFetch()

    async def no_headers(tool_id: int) -> dict[str, str]:
        return {}

    tool = http_function_tool(
        spec("POST"), load_headers=no_headers, allow_private=True, fetcher=fetch
    )
    await tool.on_invoke_tool(tool_context("weather", {}), '{"city": "Oslo", "days": 3}')

    [call] = fetch.calls
    assert (call["url"], call["json_body"], call["allow_private"]) == (
        "https://api.example.com/w/Oslo",
        {"days": 3},
        True,
    )


@pytest.mark.parametrize(
    ("raw", "error", "expected"),
    [
        ('{"days": 1}', None, "Invalid arguments for weather: 'city' is a required property"),
        ("not json", None, "Invalid arguments for weather"),
        ('{"city": "x"}', http_fetch.FetchError("timeout", "no answer within 3 s"),
         "The HTTP tool weather failed (timeout): no answer within 3 s"),
    ],
)  # fmt: skip
async def test_http_tool_failures_become_messages_for_the_model(
    raw: str, error: Exception | None, expected: str
) -> None:
    async def no_headers(tool_id: int) -> dict[str, str]:
        return {}

    tool = http_function_tool(
        spec(), load_headers=no_headers, allow_private=False, fetcher=FakeFetch(error)
    )

    answer = await tool.on_invoke_tool(tool_context("weather", {}), raw)

    assert answer.startswith(expected)


# --------------------------------------------------------------------------- client tools


async def test_a_client_tool_records_the_call_on_the_run_context() -> None:
    tool = client_function_tool(
        ClientToolSpec(
            id=1,
            name="open_page",
            description="Open a page in the app.",
            args_schema={"type": "object", "properties": {"path": {"type": "string"}}},
        )
    )
    ctx = tool_context("open_page", {})

    await tool.on_invoke_tool(ctx, '{"path": "/billing"}')

    call = ctx.context.client_tool_call
    assert call is not None
    assert (call.name, call.arguments) == ("open_page", {"path": "/billing"})
    assert tool.strict_json_schema is False
