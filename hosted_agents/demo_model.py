"""The offline demo model: an openai-agents `Model` that needs no network and no key.

It lets the whole platform be tried end to end. It is scripted, not an AI, and says so at the
start of every text answer. For the same input it gives the same text and tool arguments; only
the item, call and response ids are fresh each time, as with a real provider.

What it does with the conversation, looking at the latest user message:
- tool outputs arrived after it: answer with a sentence quoting each output;
- it names an offered function tool (or says "demo tools"): call that tool, with arguments
  built from the tool's JSON schema (see `example_arguments`);
- otherwise: echo the message, say what a real model would do and how to connect one.

It streams the same Responses API events as `OpenAIResponsesModel`, text word by word, and
reports rough token usage (one token per word) so that metering can be exercised.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from agents import FunctionTool, ModelSettings, Tool, Usage
from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import (
    ModelResponse,
    TResponseInputItem,
    TResponseOutputItem,
    TResponseStreamEvent,
)
from agents.models.interface import Model, ModelTracing
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseInProgressEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    ResponseUsage,
)
from openai.types.responses.response_prompt_param import ResponsePromptParam
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

__all__ = [
    "DEMO_MARKER",
    "DEMO_MODEL_LABEL",
    "DEMO_MODEL_NAME",
    "DemoModel",
    "example_arguments",
]

DEMO_MODEL_NAME = "demo"
DEMO_MODEL_LABEL = "Offline demo model: scripted answers, no AI, no network, no key"
DEMO_MARKER = "[Offline demo model]"

_DISCLAIMER = f"{DEMO_MARKER} I am a scripted stand-in, not an AI."
_QUOTE_LIMIT = 300
_TOOL_OUTPUT_LIMIT = 500
_DEMO_TOOLS_PHRASE = re.compile(r"\bdemo[ _-]?tools?\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_WORD = re.compile(r"\w+")


class DemoModel(Model):
    """Answer deterministically without a network, so the platform can be tried with no key.

    `delay_seconds` is slept between streamed deltas, so a user watching the demo sees text
    arrive gradually. Model settings are not used; the last ones seen are kept in
    `last_model_settings` and echoed into the streamed `Response`, as the real API does.
    """

    def __init__(self, *, delay_seconds: float = 0.0) -> None:
        self.delay_seconds = delay_seconds
        self.last_model_settings: ModelSettings | None = None

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> ModelResponse:
        self.last_model_settings = model_settings
        reply = _reply(system_instructions, input, tools, output_schema)
        return ModelResponse(
            output=list(reply.output),
            usage=Usage(
                requests=1,
                input_tokens=reply.input_tokens,
                output_tokens=reply.output_tokens,
                total_tokens=reply.input_tokens + reply.output_tokens,
            ),
            response_id=reply.response_id,
        )

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        self.last_model_settings = model_settings
        reply = _reply(system_instructions, input, tools, output_schema)
        for event in _stream_events(reply, model_settings):
            yield event
            # Always give the loop a turn between events: a cancelled run stops promptly.
            await asyncio.sleep(self.delay_seconds if event.type.endswith(".delta") else 0)


# --------------------------------------------------------------------------- the decision


@dataclass(frozen=True)
class _Reply:
    response_id: str
    output: tuple[ResponseOutputMessage | ResponseFunctionToolCall, ...]
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class _Conversation:
    user_text: str
    # (tool name, output text) for each tool output that arrived after the latest user message.
    tool_results: tuple[tuple[str, str], ...]
    all_text: str


def _reply(
    system_instructions: str | None,
    input: str | list[TResponseInputItem],
    tools: list[Tool],
    output_schema: AgentOutputSchemaBase | None,
) -> _Reply:
    """Return the whole scripted reply to one model call (both I/O paths share it)."""
    conversation = _read_conversation(input)
    function_tools = [tool for tool in tools if isinstance(tool, FunctionTool)]
    output: tuple[ResponseOutputMessage | ResponseFunctionToolCall, ...]
    chosen = [] if conversation.tool_results else _tools_to_call(conversation, function_tools)
    if chosen:
        hint = conversation.user_text
        output = tuple(
            _function_call(tool.name, example_arguments(tool.params_json_schema, hint=hint))
            for tool in chosen
        )
    elif output_schema is not None and not output_schema.is_plain_text():
        output = (_message(json.dumps(example_arguments(output_schema.json_schema()))),)
    elif conversation.tool_results:
        output = (_message(_tool_results_text(conversation.tool_results)),)
    else:
        output = (_message(_echo_text(conversation.user_text, function_tools)),)
    return _Reply(
        response_id=_new_id("resp"),
        output=output,
        input_tokens=_count_tokens(f"{system_instructions or ''} {conversation.all_text}"),
        output_tokens=sum(_count_tokens(_item_text(item)) for item in output),
    )


def _read_conversation(input: str | list[TResponseInputItem]) -> _Conversation:
    if isinstance(input, str):
        return _Conversation(user_text=input, tool_results=(), all_text=input)
    last_user = max((index for index, item in enumerate(input) if _typed_by_user(item)), default=-1)
    call_names: dict[str, str] = {}
    results: list[tuple[str, str]] = []
    for item in input[last_user + 1 :]:
        kind = _get(item, "type")
        if kind == "function_call":
            call_names[str(_get(item, "call_id"))] = str(_get(item, "name"))
        elif kind == "function_call_output":
            call_id = str(_get(item, "call_id"))
            results.append((call_names.get(call_id, "tool"), _text_of(_get(item, "output"))))
    user_text = _text_of(_get(input[last_user], "content")) if last_user >= 0 else ""
    all_text = " ".join(_text_of(item) for item in input)
    return _Conversation(
        user_text=user_text.strip(), tool_results=tuple(results), all_text=all_text
    )


def _typed_by_user(item: TResponseInputItem) -> bool:
    # ChatKit sends hidden context as a user message too; it is not something the user said.
    return _get(item, "role") == "user" and "<HiddenContext>" not in _text_of(item)


def _tools_to_call(conversation: _Conversation, tools: list[FunctionTool]) -> list[FunctionTool]:
    text = conversation.user_text
    named = [tool for tool in tools if _mentions(text, tool.name)]
    if not named and tools and _DEMO_TOOLS_PHRASE.search(text):
        return tools[:1]
    return named


def _mentions(text: str, name: str) -> bool:
    spellings = {name, name.replace("_", " ").replace("-", " ")}
    return any(
        re.search(rf"(?<![\w-]){re.escape(spelling)}(?![\w-])", text, re.IGNORECASE)
        for spelling in spellings
    )


def _echo_text(user_text: str, tools: list[FunctionTool]) -> str:
    if user_text:
        words = len(user_text.split())
        counted = "1 word" if words == 1 else f"{words} words"
        heard = f'You said: "{_shorten(user_text, _QUOTE_LIMIT)}" ({counted}).'
    else:
        heard = "Your message was empty."
    if tools:
        names = ", ".join(tool.name for tool in tools)
        tool_hint = f"To see a tool call, mention one of this agent's tools by name: {names}."
    else:
        tool_hint = "This agent has no tools to demonstrate."
    return (
        f"{_DISCLAIMER} {heard} A real model would follow this agent's instructions and "
        "answer in its own words. To connect one, give the agent a provider credential and "
        f"choose a real model instead of {DEMO_MODEL_NAME!r}. {tool_hint}"
    )


def _tool_results_text(results: Iterable[tuple[str, str]]) -> str:
    quoted = " ".join(
        f'The tool {name} returned: "{_shorten(output, _TOOL_OUTPUT_LIMIT)}".'
        for name, output in results
    )
    return f"{_DISCLAIMER} {quoted} A real model would use this result to answer you."


# --------------------------------------------------------------------------- arguments


def example_arguments(schema: Mapping[str, Any], *, hint: str = "") -> Any:
    """Return a deterministic value that fits a JSON schema (tool arguments, output types).

    Objects get their required properties. A value comes from `hint` (the user's message)
    when it is obvious: `name=value` or `name: value`, an enum value mentioned as a word, or
    the next number in the message for a numeric property. Otherwise: the schema's `const`,
    `default`, first enum value, or a plain example for the type.
    """
    numbers = iter(_NUMBER.findall(hint))
    return _example(schema, schema, name="", hint=hint, numbers=numbers, depth=0)


def _example(
    schema: Mapping[str, Any],
    root: Mapping[str, Any],
    *,
    name: str,
    hint: str,
    numbers: Iterator[str],
    depth: int,
) -> Any:
    schema = _resolve(schema, root)
    if depth > 8:
        return None
    for key in ("anyOf", "oneOf", "allOf"):
        branches = [b for b in schema.get(key, []) if _resolve(b, root).get("type") != "null"]
        if branches:
            return _example(branches[0], root, name=name, hint=hint, numbers=numbers, depth=depth)
    if "const" in schema:
        return schema["const"]
    kind = _schema_type(schema)
    if name and hint:
        given = _value_from_hint(schema, kind, name, hint, numbers)
        if given is not None:
            return given
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    if kind == "object":
        properties: Mapping[str, Any] = schema.get("properties", {})
        return {
            key: _example(
                properties[key], root, name=key, hint=hint, numbers=numbers, depth=depth + 1
            )
            for key in schema.get("required", [])
            if key in properties
        }
    if kind == "array":
        items = schema.get("items", {})
        if schema.get("maxItems") == 0 or not isinstance(items, Mapping):
            return []
        return [_example(items, root, name="", hint="", numbers=numbers, depth=depth + 1)]
    return _plain_example(schema, kind, name)


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    target: Any = root
    for part in ref[2:].split("/"):
        target = target.get(part, {}) if isinstance(target, Mapping) else {}
    return target if isinstance(target, Mapping) else {}


def _schema_type(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    return "object" if "properties" in schema else "string"


def _value_from_hint(
    schema: Mapping[str, Any], kind: str, name: str, hint: str, numbers: Iterator[str]
) -> Any:
    match = re.search(
        rf"(?<![\w-]){re.escape(name)}\s*[=:]\s*(\"[^\"]*\"|'[^']*'|[^\s,;]+)", hint, re.IGNORECASE
    )
    raw = match.group(1).strip("\"'") if match else None
    enum = schema.get("enum")
    if enum:
        candidates = [raw] if raw is not None else re.findall(r"[\w-]+", hint)
        lowered = {str(value).lower(): value for value in enum}
        return next((lowered[c.lower()] for c in candidates if c.lower() in lowered), None)
    if raw is None and kind in ("integer", "number"):
        raw = next(numbers, None)
    if raw is None and kind == "string":
        raw = _string_from_hint(name, hint)
    if raw is None:
        return None
    try:
        if kind == "integer":
            return int(float(raw))
        if kind == "number":
            return float(raw)
    except ValueError:
        return None
    if kind == "boolean":
        return raw.lower() in ("true", "yes", "1", "on")
    return raw if kind == "string" else None


_ARITHMETIC = re.compile(r"\(*\s*-?[\d.]+(?:\s*(?:\*\*|[-+*/%^])\s*\(*\s*-?[\d.]+\s*\)*)+")
_QUOTED = re.compile(r"\"([^\"]+)\"|'([^']+)'")
_EXPRESSION_NAMES = {"expression", "formula", "equation"}
_TEXT_NAMES = {"text", "query", "topic", "content", "message", "prompt", "question"}


def _string_from_hint(name: str, hint: str) -> str | None:
    """Return the part of the message a string argument obviously means, if any."""
    if name in _EXPRESSION_NAMES:
        found = _ARITHMETIC.search(hint)
        return found.group(0).strip() if found else None
    if name in _TEXT_NAMES:
        quoted = _QUOTED.search(hint)
        if quoted:
            return quoted.group(1) or quoted.group(2)
        return hint.strip() or None
    return None


def _plain_example(schema: Mapping[str, Any], kind: str, name: str) -> Any:
    if kind in ("integer", "number"):
        value = max(schema.get("minimum", 1), 1)
        value = min(value, schema.get("maximum", value))
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    formats = {
        "date": "2024-01-01",
        "date-time": "2024-01-01T00:00:00Z",
        "email": "demo@example.com",
        "uri": "https://example.com/",
        "uuid": "00000000-0000-4000-8000-000000000000",
    }
    return formats.get(schema.get("format", ""), f"example {name}".strip().replace("_", " "))


# --------------------------------------------------------------------------- output and events


def _message(text: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id=_new_id("msg"),
        type="message",
        role="assistant",
        status="completed",
        content=[_output_text(text)],
    )


def _output_text(text: str) -> ResponseOutputText:
    return ResponseOutputText(type="output_text", text=text, annotations=[], logprobs=[])


def _function_call(name: str, arguments: Any) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(
        id=_new_id("fc"),
        call_id=_new_id("call"),
        type="function_call",
        name=name,
        arguments=json.dumps(arguments),
        status="completed",
    )


def _stream_events(reply: _Reply, settings: ModelSettings) -> Iterator[TResponseStreamEvent]:
    """Yield the Responses API events a real provider would stream for `reply`."""
    seq = itertools.count()
    response = _response(reply, settings, status="in_progress", output=[])
    yield ResponseCreatedEvent(
        type="response.created", response=response, sequence_number=next(seq)
    )
    yield ResponseInProgressEvent(
        type="response.in_progress", response=response, sequence_number=next(seq)
    )
    for index, item in enumerate(reply.output):
        if isinstance(item, ResponseOutputMessage):
            yield from _message_events(item, index, seq)
        else:
            yield from _function_call_events(item, index, seq)
    completed = _response(reply, settings, status="completed", output=list(reply.output))
    yield ResponseCompletedEvent(
        type="response.completed", response=completed, sequence_number=next(seq)
    )


def _message_events(
    item: ResponseOutputMessage, index: int, seq: Iterator[int]
) -> Iterator[TResponseStreamEvent]:
    text = _item_text(item)
    yield ResponseOutputItemAddedEvent(
        type="response.output_item.added",
        item=item.model_copy(update={"status": "in_progress", "content": []}),
        output_index=index,
        sequence_number=next(seq),
    )
    yield ResponseContentPartAddedEvent(
        type="response.content_part.added",
        part=_output_text(""),
        item_id=item.id,
        output_index=index,
        content_index=0,
        sequence_number=next(seq),
    )
    for delta in re.findall(r"\s*\S+\s*|\s+", text):
        yield ResponseTextDeltaEvent(
            type="response.output_text.delta",
            delta=delta,
            logprobs=[],
            item_id=item.id,
            output_index=index,
            content_index=0,
            sequence_number=next(seq),
        )
    yield ResponseTextDoneEvent(
        type="response.output_text.done",
        text=text,
        logprobs=[],
        item_id=item.id,
        output_index=index,
        content_index=0,
        sequence_number=next(seq),
    )
    yield ResponseContentPartDoneEvent(
        type="response.content_part.done",
        part=_output_text(text),
        item_id=item.id,
        output_index=index,
        content_index=0,
        sequence_number=next(seq),
    )
    yield ResponseOutputItemDoneEvent(
        type="response.output_item.done", item=item, output_index=index, sequence_number=next(seq)
    )


def _function_call_events(
    item: ResponseFunctionToolCall, index: int, seq: Iterator[int]
) -> Iterator[TResponseStreamEvent]:
    item_id = item.id or ""
    yield ResponseOutputItemAddedEvent(
        type="response.output_item.added",
        item=item.model_copy(update={"status": "in_progress", "arguments": ""}),
        output_index=index,
        sequence_number=next(seq),
    )
    yield ResponseFunctionCallArgumentsDeltaEvent(
        type="response.function_call_arguments.delta",
        delta=item.arguments,
        item_id=item_id,
        output_index=index,
        sequence_number=next(seq),
    )
    yield ResponseFunctionCallArgumentsDoneEvent(
        type="response.function_call_arguments.done",
        arguments=item.arguments,
        item_id=item_id,
        output_index=index,
        sequence_number=next(seq),
    )
    yield ResponseOutputItemDoneEvent(
        type="response.output_item.done", item=item, output_index=index, sequence_number=next(seq)
    )


def _response(
    reply: _Reply,
    settings: ModelSettings,
    *,
    status: Literal["in_progress", "completed"],
    output: list[TResponseOutputItem],
) -> Response:
    usage = None
    if status == "completed":
        usage = ResponseUsage(
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            total_tokens=reply.input_tokens + reply.output_tokens,
            input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
            output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
        )
    return Response(
        id=reply.response_id,
        object="response",
        created_at=time.time(),
        model=DEMO_MODEL_NAME,
        status=status,
        output=output,
        tools=[],
        tool_choice="auto",
        parallel_tool_calls=settings.parallel_tool_calls is not False,
        temperature=settings.temperature,
        top_p=settings.top_p,
        max_output_tokens=settings.max_tokens,
        usage=usage,
    )


# --------------------------------------------------------------------------- small helpers


def _new_id(prefix: str) -> str:
    return f"{prefix}_demo_{uuid.uuid4().hex[:24]}"


def _get(item: object, key: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(key)
    return getattr(item, key, None)


def _text_of(value: object) -> str:
    """Return the readable text in a message content, tool output or input item."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(filter(None, (_text_of(part) for part in value)))
    for key in ("text", "content", "output", "arguments", "refusal"):
        found = _get(value, key)
        if found is not None:
            return _text_of(found)
    return ""


def _item_text(item: ResponseOutputMessage | ResponseFunctionToolCall) -> str:
    if isinstance(item, ResponseFunctionToolCall):
        return f"{item.name} {item.arguments}"
    return "".join(part.text for part in item.content if isinstance(part, ResponseOutputText))


def _count_tokens(text: str) -> int:
    return max(1, len(_WORD.findall(text)))


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
