"""stream_agent_response fed stand-in events, on `openai-chatkit` and on `chatkit_core`.

Integrators unit-test their bridge code by feeding `stream_agent_response` a stand-in run
result whose events are `Mock` objects carrying only a `type` and the attributes the bridge
reads (as the official bridge's own tests do). Both bridges get the very same events and
must yield the same thread events, leave `AgentContext` in the same state and store the
same items; timestamps aside.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from unittest.mock import Mock

import pytest
from openai.types.responses.response_output_text import (
    AnnotationContainerFileCitation,
    AnnotationFileCitation,
    AnnotationURLCitation,
)

from tests.chatkit_core._differential import (
    OURS,
    REFERENCE,
    WIDGET_DEPRECATION,
    build_backend,
    load_sdk,
)

pytestmark = pytest.mark.filterwarnings(f"ignore:{WIDGET_DEPRECATION}:DeprecationWarning")

CREATED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def raw(type_: str, **attrs: Any) -> Mock:
    return Mock(type="raw_response_event", data=Mock(type=type_, **attrs))


def part(text: str, annotations: list[Any]) -> Mock:
    return Mock(type="output_text", text=text, annotations=annotations)


FILE = AnnotationFileCitation(type="file_citation", file_id="f_1", filename="a.pdf", index=3)
NO_NAME = AnnotationFileCitation(type="file_citation", file_id="f_2", filename="", index=1)
URL = {
    "type": "url_citation",
    "url": "https://example.com/x",
    "title": "Example",
    "start_index": 0,
    "end_index": 5,
}
CONTAINER = AnnotationContainerFileCitation(
    type="container_file_citation",
    container_id="c_1",
    file_id="f_3",
    filename="out.csv",
    start_index=1,
    end_index=4,
)
URL_MODEL = AnnotationURLCitation.model_validate(URL)
ANNOTATIONS = [FILE, URL, NO_NAME, CONTAINER]


def annotation_added(annotation: Any, index: int, content_index: int = 0) -> Mock:
    return raw(
        "response.output_text.annotation.added",
        item_id="msg_r1",
        content_index=content_index,
        annotation_index=index,
        annotation=annotation,
    )


def message_events(text: str = "Hello") -> list[Mock]:
    return [
        raw("response.output_item.added", item=Mock(type="message", id="msg_r1", content=[])),
        raw(
            "response.content_part.added",
            item_id="msg_r1",
            content_index=0,
            part=part("", []),
        ),
        raw("response.output_text.delta", item_id="msg_r1", content_index=0, delta=text[:2]),
        *[annotation_added(a, n) for n, a in enumerate(ANNOTATIONS)],
        raw("response.output_text.delta", item_id="msg_r1", content_index=0, delta=text[2:]),
        raw("response.output_text.done", item_id="msg_r1", content_index=0, text=text),
        raw(
            "response.output_item.done",
            item=Mock(type="message", id="msg_r1", content=[part(text, ANNOTATIONS)]),
        ),
    ]


def summary(kind: str, index: int, **attrs: Any) -> Mock:
    return raw(
        f"response.reasoning_summary_text.{kind}", item_id="rs_1", summary_index=index, **attrs
    )


REASONING = [
    raw("response.output_item.added", item=Mock(type="reasoning", id="rs_1")),
    summary("delta", 0, delta="Look"),
    summary("delta", 0, delta="ing"),
    summary("done", 0, text="Looking"),
    summary("delta", 1, delta="ignored: only the first thought streams"),
    summary("done", 1, text="Then answering"),
]

IMAGE = [
    raw("response.output_item.added", item=Mock(type="image_generation_call", id="ig_1")),
    *[
        raw(
            "response.image_generation_call.partial_image",
            item_id="ig_1",
            partial_image_b64=f"P{n}",
            partial_image_index=n,
        )
        for n in range(2)
    ],
    raw(
        "response.output_item.done",
        item=Mock(type="image_generation_call", id="ig_1", result="RklOQUw="),
    ),
]

TOOL_CALL = [
    Mock(
        type="run_item_stream_event",
        item=Mock(
            type="tool_call_item",
            raw_item={"type": "function_call", "call_id": "call_1", "id": "fc_1"},
        ),
    ),
    Mock(type="agent_updated_stream_event"),
]

SCENARIOS: dict[str, list[Mock]] = {
    "message_with_annotations_as_they_arrive": message_events(),
    "reasoning_then_message": [*REASONING, *message_events("Answer")],
    "reasoning_left_open": REASONING,
    "image_generation_with_partial_images": IMAGE,
    "client_tool_call_after_a_function_call": [*REASONING, *TOOL_CALL],
}


class StandInResult:
    """Only what the bridge needs of a `RunResultStreaming`: its events."""

    def __init__(self, events: list[Mock]) -> None:
        self.events = events

    async def stream_events(self) -> AsyncIterator[Mock]:
        for event in self.events:
            yield event


def converter_for(prefix: str) -> Any:
    agents = importlib.import_module(f"{prefix}.agents")
    types = load_sdk(prefix).types

    class Converter(agents.ResponseStreamConverter):  # type: ignore[name-defined,misc]
        async def base64_image_to_url(
            self, image_id: str, base64_image: str, partial_image_index: int | None = None
        ) -> str:
            return f"https://img.example/{image_id}/{partial_image_index}/{base64_image}"

        async def url_citation_to_annotation(self, url_citation: Any) -> Any:
            source = types.URLSource(url=url_citation.url, title=url_citation.title.upper())
            return types.Annotation(source=source, index=url_citation.start_index)

    return Converter(partial_images=2)


def normalised(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: "<time>" if key == "created_at" else normalised(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [normalised(item) for item in value]
    return value


async def run_bridge(prefix: str, events: list[Mock], *, client_tool: bool) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        agents = importlib.import_module(f"{prefix}.agents")
    sdk = load_sdk(prefix)
    backend = build_backend(sdk)
    thread = sdk.types.ThreadMetadata(id="thr_1", created_at=CREATED)
    await backend.store.save_thread(thread, {})
    context = agents.AgentContext(thread=thread, store=backend.store, request_context={})
    if client_tool:
        context.client_tool_call = agents.ClientToolCall(name="pick", arguments={"n": 1})
    workflow_seen: list[str | None] = []
    yielded = []
    stream = agents.stream_agent_response(
        context, StandInResult(events), converter=converter_for(prefix)
    )
    async for event in stream:
        yielded.append(event.model_dump(mode="json", exclude_none=True))
        workflow = context.workflow_item
        workflow_seen.append(None if workflow is None else workflow.id)
    stored = backend.store.items.get(thread.id, [])
    return normalised(
        {
            "events": yielded,
            "workflow_item_after_each_event": workflow_seen,
            "workflow_item_at_the_end": None
            if context.workflow_item is None
            else context.workflow_item.model_dump(mode="json"),
            "generated_image_item": context.generated_image_item,
            "stored": [item.model_dump(mode="json") for item in stored],
        }
    )


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_stand_in_events_give_the_official_bridges_events(name: str) -> None:
    client_tool = name.startswith("client_tool_call")
    theirs = await run_bridge(REFERENCE, SCENARIOS[name], client_tool=client_tool)
    ours = await run_bridge(OURS, SCENARIOS[name], client_tool=client_tool)
    assert theirs["events"], "the scenario must produce events"
    assert ours == theirs


async def test_annotations_arrive_normalised_as_in_the_final_message() -> None:
    ours = await run_bridge(OURS, message_events(), client_tool=False)
    added = [
        event["update"]["annotation"]
        for event in ours["events"]
        if event["type"] == "thread.item.updated"
        and event["update"]["type"] == "assistant_message.content_part.annotation_added"
    ]
    [done] = [event for event in ours["events"] if event["type"] == "thread.item.done"]
    assert added == done["item"]["content"][0]["annotations"]
    assert [annotation["source"]["type"] for annotation in added] == ["file", "url", "file"]
    assert added[1]["source"]["title"] == "EXAMPLE"  # the custom converter's


async def test_a_real_annotation_model_and_its_dict_give_the_same_update() -> None:
    events = [annotation_added(URL_MODEL, 0), annotation_added(URL, 1)]
    ours = await run_bridge(OURS, events, client_tool=False)
    first, second = (event["update"]["annotation"] for event in ours["events"])
    assert first == second
