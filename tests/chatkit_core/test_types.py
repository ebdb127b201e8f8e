"""Protocol objects: every item, update, event and request validates from and returns to
its exact wire form (protocol §2-§5)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from chatkit_core import types
from chatkit_core._serialization import (
    dump_json,
    parse_request,
    thread_item_adapter,
    thread_stream_event_adapter,
)
from chatkit_core.errors import ErrorCode, InvalidRequestError

BASE = {"id": "it_1", "thread_id": "thr_1", "created_at": "2025-06-01T10:00:01Z"}

ITEMS: dict[str, dict[str, Any]] = {
    "user_message": {
        **BASE,
        "type": "user_message",
        "content": [
            {"type": "input_text", "text": "Hi "},
            {
                "type": "input_tag",
                "id": "u_7",
                "text": "Bob",
                "data": {"k": 1},
                "interactive": True,
            },
        ],
        "attachments": [
            {"id": "atc_1", "name": "a.txt", "mime_type": "text/plain", "type": "file"},
            {
                "id": "atc_2",
                "name": "cat.png",
                "mime_type": "image/png",
                "thread_id": "thr_1",
                "upload_descriptor": {
                    "url": "https://up.example/u",
                    "method": "PUT",
                    "headers": {},
                },
                "type": "image",
                "preview_url": "https://files.example/p/atc_2",
            },
        ],
        "quoted_text": "earlier text",
        "inference_options": {"tool_choice": {"id": "search"}, "model": "fast"},
    },
    "assistant_message": {
        **BASE,
        "type": "assistant_message",
        "content": [
            {
                "annotations": [
                    {
                        "type": "annotation",
                        "source": {"title": "Doc", "type": "url", "url": "https://x.example"},
                        "index": 3,
                    },
                    {
                        "type": "annotation",
                        "source": {"title": "f.pdf", "type": "file", "filename": "f.pdf"},
                    },
                    {
                        "type": "annotation",
                        "source": {
                            "title": "Ada",
                            "type": "entity",
                            "id": "e1",
                            "icon": "lucide:user",
                            "inline_label": "Ada L.",
                            "interactive": False,
                            "data": {},
                        },
                    },
                ],
                "text": "Hello",
                "type": "output_text",
            }
        ],
    },
    "client_tool_call": {
        **BASE,
        "type": "client_tool_call",
        "status": "completed",
        "call_id": "call_12",
        "name": "get_selection",
        "arguments": {"doc": "a", "missing": None},
        "output": {"nodes": [], "cursor": None},
    },
    "widget": {
        **BASE,
        "type": "widget",
        "widget": {"type": "Card", "children": [{"type": "Text", "id": "t", "value": "Hi"}]},
        "copy_text": "Hi",
    },
    "generated_image": {
        **BASE,
        "type": "generated_image",
        "image": {"id": "ig_1", "url": "data:image/png;base64,AAAA"},
    },
    "structured_input": {
        **BASE,
        "type": "structured_input",
        "status": "answered",
        "inputs": [
            {
                "id": "q1",
                "question": "Which?",
                "answer": {"values": ["A"], "skipped": False},
                "type": "multiple_choice",
                "options": [{"value": "A"}, {"value": "B"}],
                "multiple": False,
            },
            {
                "id": "q2",
                "question": "Why?",
                "type": "freeform",
                "description": "Say more",
            },
        ],
    },
    "workflow": {
        **BASE,
        "type": "workflow",
        "workflow": {
            "type": "reasoning",
            "tasks": [
                {"status_indicator": "complete", "type": "thought", "content": "Hmm"},
                {
                    "status_indicator": "none",
                    "type": "web_search",
                    "title_query": "cats",
                    "queries": ["cats"],
                    "sources": [{"title": "C", "type": "url", "url": "https://c.example"}],
                },
                {"status_indicator": "none", "type": "file", "sources": []},
                {"status_indicator": "none", "type": "image", "title": "Drawing"},
            ],
            "summary": {"duration": 4},
            "expanded": False,
        },
    },
    "task": {
        **BASE,
        "type": "task",
        "task": {"status_indicator": "none", "type": "custom", "title": "T", "icon": "bolt"},
    },
    "end_of_turn": {**BASE, "type": "end_of_turn"},
    "hidden_context_item": {
        **BASE,
        "type": "hidden_context_item",
        "content": {"note": None, "list": [1, None]},
    },
    "sdk_hidden_context": {**BASE, "type": "sdk_hidden_context", "content": "cancelled"},
}


@pytest.mark.parametrize("wire", ITEMS.values(), ids=ITEMS.keys())
def test_every_thread_item_round_trips_to_identical_wire_json(wire: dict[str, Any]) -> None:
    item = thread_item_adapter.validate_python(wire)

    assert item.type == wire["type"]
    assert json.loads(dump_json(item)) == wire


def test_item_union_rejects_an_unknown_item_type() -> None:
    with pytest.raises(ValidationError):
        thread_item_adapter.validate_python({**BASE, "type": "user"})


def test_input_tag_without_data_is_accepted_and_emitted_with_empty_data() -> None:
    item = thread_item_adapter.validate_python(
        {
            **BASE,
            "type": "user_message",
            "content": [{"type": "input_tag", "id": "u", "text": "Bob"}],
            "inference_options": {},
        }
    )

    tag = json.loads(dump_json(item))["content"][0]
    assert tag == {"type": "input_tag", "id": "u", "text": "Bob", "data": {}, "interactive": False}


def test_user_message_text_joins_parts_and_renders_tags_with_at_sign() -> None:
    item = types.UserMessageItem.model_validate(ITEMS["user_message"])

    assert item.text == "Hi @Bob"
    assert "text" not in json.loads(dump_json(item))


def test_assistant_message_text_concatenates_content_parts() -> None:
    item = types.AssistantMessageItem(
        id="m",
        thread_id="t",
        created_at=datetime.now(UTC),
        content=[
            types.AssistantMessageContent(text="Hel"),
            types.AssistantMessageContent(text="lo"),
        ],
    )

    assert item.text == "Hello"


def test_workflow_summary_is_told_apart_by_its_keys() -> None:
    custom = types.Workflow.model_validate(
        {"type": "custom", "tasks": [], "summary": {"title": "Done", "icon": "check"}}
    )
    timed = types.Workflow.model_validate(
        {"type": "custom", "tasks": [], "summary": {"duration": 3}}
    )

    assert isinstance(custom.summary, types.CustomSummary)
    assert isinstance(timed.summary, types.DurationSummary)


def test_new_thread_emits_defaults_and_no_title() -> None:
    thread = types.Thread(id="thr_1", created_at=datetime(2025, 6, 1, 10, tzinfo=UTC))

    assert json.loads(dump_json(thread)) == {
        "id": "thr_1",
        "created_at": "2025-06-01T10:00:00Z",
        "status": {"type": "active"},
        "metadata": {},
        "items": {"data": [], "has_more": False},
    }


@pytest.mark.parametrize(
    "status",
    [{"type": "active"}, {"type": "locked", "reason": "Escalated"}, {"type": "closed"}],
)
def test_thread_status_variants_round_trip(status: dict[str, Any]) -> None:
    meta = types.ThreadMetadata.model_validate(
        {"id": "t", "created_at": "2025-06-01T10:00:00Z", "status": status}
    )

    assert json.loads(dump_json(meta))["status"] == status


def test_page_of_items_keeps_cursor_only_when_set() -> None:
    adapter: TypeAdapter[types.Page[types.ThreadItem]] = TypeAdapter(types.Page[types.ThreadItem])
    page = adapter.validate_python(
        {"data": [ITEMS["end_of_turn"]], "has_more": True, "after": "it_1"}
    )

    assert json.loads(dump_json(page))["after"] == "it_1"
    assert "after" not in json.loads(dump_json(types.Page[types.ThreadItem]()))


UPDATES: dict[str, dict[str, Any]] = {
    "content_part.added": {
        "type": "assistant_message.content_part.added",
        "content_index": 0,
        "content": {"annotations": [], "text": "", "type": "output_text"},
    },
    "text_delta": {
        "type": "assistant_message.content_part.text_delta",
        "content_index": 0,
        "delta": "Hello",
    },
    "annotation_added": {
        "type": "assistant_message.content_part.annotation_added",
        "content_index": 0,
        "annotation_index": 1,
        "annotation": {
            "type": "annotation",
            "source": {"title": "f", "type": "file", "filename": "f"},
            "index": 2,
        },
    },
    "content_part.done": {
        "type": "assistant_message.content_part.done",
        "content_index": 0,
        "content": {"annotations": [], "text": "Hello", "type": "output_text"},
    },
    "value_delta": {
        "type": "widget.streaming_text.value_delta",
        "component_id": "t",
        "delta": "lo",
        "done": True,
    },
    "root.updated": {
        "type": "widget.root.updated",
        "widget": {"type": "ListView", "children": [{"type": "ListViewItem", "children": []}]},
    },
    "component.updated": {
        "type": "widget.component.updated",
        "component_id": "t",
        "component": {"type": "Markdown", "id": "t", "value": "**x**", "streaming": True},
    },
    "task.added": {
        "type": "workflow.task.added",
        "task_index": 0,
        "task": {"status_indicator": "loading", "type": "thought", "content": "a"},
    },
    "task.updated": {
        "type": "workflow.task.updated",
        "task_index": 0,
        "task": {"status_indicator": "complete", "type": "thought", "content": "ab"},
    },
    "generated_image.updated": {
        "type": "generated_image.updated",
        "image": {"id": "ig", "url": "https://i.example/1.png"},
        "progress": 0.5,
    },
}


@pytest.mark.parametrize("update", UPDATES.values(), ids=UPDATES.keys())
def test_every_item_update_round_trips_inside_an_item_updated_event(
    update: dict[str, Any],
) -> None:
    wire = {"type": "thread.item.updated", "item_id": "msg_ab", "update": update}

    event = thread_stream_event_adapter.validate_python(wire)

    assert isinstance(event, types.ThreadItemUpdatedEvent)
    assert json.loads(dump_json(event)) == wire


THREAD = {
    "id": "thr_1",
    "title": "Trip planning",
    "created_at": "2025-06-01T10:00:00Z",
    "status": {"type": "locked", "reason": "Escalated"},
    "metadata": {},
    "items": {"data": [], "has_more": False},
}

EVENTS: dict[str, dict[str, Any]] = {
    "thread.created": {"type": "thread.created", "thread": THREAD},
    "thread.updated": {"type": "thread.updated", "thread": THREAD},
    "thread.item.added": {"type": "thread.item.added", "item": ITEMS["assistant_message"]},
    "thread.item.done": {"type": "thread.item.done", "item": ITEMS["user_message"]},
    "thread.item.removed": {"type": "thread.item.removed", "item_id": "it_1"},
    "thread.item.replaced": {"type": "thread.item.replaced", "item": ITEMS["structured_input"]},
    "stream_options": {"type": "stream_options", "stream_options": {"allow_cancel": True}},
    "progress_update": {"type": "progress_update", "icon": "search", "text": "Searching"},
    "client_effect": {"type": "client_effect", "name": "confetti", "data": {}},
    "error": {"type": "error", "code": "custom", "message": "X", "allow_retry": False},
    "notice": {"type": "notice", "level": "warning", "message": "*Heads up*", "title": "Note"},
}


@pytest.mark.parametrize("wire", EVENTS.values(), ids=EVENTS.keys())
def test_every_stream_event_round_trips_to_identical_wire_json(wire: dict[str, Any]) -> None:
    event = thread_stream_event_adapter.validate_python(wire)

    assert json.loads(dump_json(event)) == wire


def test_error_event_defaults_are_emitted_and_message_is_omitted() -> None:
    coded = types.ErrorEvent(code=ErrorCode.STREAM_ERROR, allow_retry=True)

    assert dump_json(types.ErrorEvent()) == b'{"type":"error","code":"custom","allow_retry":false}'
    assert dump_json(coded) == b'{"type":"error","code":"stream.error","allow_retry":true}'


def test_client_effect_always_carries_data() -> None:
    event = types.ClientEffectEvent(name="refresh")

    assert json.loads(dump_json(event)) == {"type": "client_effect", "name": "refresh", "data": {}}


def test_sync_custom_action_response_is_empty_without_item() -> None:
    item = thread_item_adapter.validate_python(ITEMS["widget"])

    assert dump_json(types.SyncCustomActionResponse()) == b"{}"
    assert json.loads(dump_json(types.SyncCustomActionResponse(updated_item=item))) == {
        "updated_item": ITEMS["widget"]
    }


USER_INPUT = {
    "content": [{"type": "input_text", "text": "Hi"}],
    "attachments": [],
    "inference_options": {},
}

REQUESTS: dict[str, tuple[dict[str, Any], type[types.BaseReq], bool]] = {
    "threads.create": ({"input": USER_INPUT}, types.ThreadsCreateReq, True),
    "threads.add_user_message": (
        {"thread_id": "t", "input": USER_INPUT},
        types.ThreadsAddUserMessageReq,
        True,
    ),
    "threads.add_client_tool_output": (
        {"thread_id": "t", "result": {"ok": None}},
        types.ThreadsAddClientToolOutputReq,
        True,
    ),
    "threads.add_structured_input": (
        {"thread_id": "t", "item_id": "i", "input": {"answers": {"q1": {"values": ["A"]}}}},
        types.ThreadsAddStructuredInputReq,
        True,
    ),
    "threads.retry_after_item": (
        {"thread_id": "t", "item_id": "i"},
        types.ThreadsRetryAfterItemReq,
        True,
    ),
    "threads.custom_action": (
        {"thread_id": "t", "action": {"type": "send", "payload": {"id": 7}}},
        types.ThreadsCustomActionReq,
        True,
    ),
    "threads.sync_custom_action": (
        {"thread_id": "t", "item_id": "w", "action": {"type": "send"}},
        types.ThreadsSyncCustomActionReq,
        False,
    ),
    "threads.get_by_id": ({"thread_id": "t"}, types.ThreadsGetByIdReq, False),
    "threads.list": ({}, types.ThreadsListReq, False),
    "threads.update": ({"thread_id": "t", "title": "New"}, types.ThreadsUpdateReq, False),
    "threads.delete": ({"thread_id": "t"}, types.ThreadsDeleteReq, False),
    "items.list": ({"thread_id": "t"}, types.ItemsListReq, False),
    "items.feedback": (
        {"thread_id": "t", "item_ids": ["a"], "kind": "positive"},
        types.ItemsFeedbackReq,
        False,
    ),
    "attachments.create": (
        {"name": "a.png", "size": 10, "mime_type": "image/png"},
        types.AttachmentsCreateReq,
        False,
    ),
    "attachments.delete": ({"attachment_id": "a"}, types.AttachmentsDeleteReq, False),
    "input.transcribe": (
        {"audio_base64": "AAAA", "mime_type": "audio/webm;codecs=opus"},
        types.InputTranscribeReq,
        False,
    ),
}


@pytest.mark.parametrize("op", REQUESTS.keys())
def test_every_request_type_parses_to_its_class_and_streaming_kind(op: str) -> None:
    params, cls, streaming = REQUESTS[op]

    request = parse_request(json.dumps({"type": op, "params": params}))

    assert type(request) is cls
    assert types.is_streaming_req(request) is streaming


@pytest.mark.parametrize("op", [op for op, (params, _, _) in REQUESTS.items() if params])
def test_every_request_type_without_its_required_params_is_rejected(op: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_request(json.dumps({"type": op, "params": {}}))

    assert info.value.code == "invalid_params"


def test_list_params_default_to_newest_first_with_no_limit() -> None:
    request = parse_request(b'{"type":"items.list","params":{"thread_id":"t"}}')

    assert isinstance(request, types.ItemsListReq)
    assert (request.params.order, request.params.limit, request.params.after) == (
        "desc",
        None,
        None,
    )


def test_structured_input_submission_fills_defaults() -> None:
    request = parse_request(
        b'{"type":"threads.add_structured_input","params":{"thread_id":"t","item_id":"i",'
        b'"input":{"answers":{"q":{}}}}}'
    )

    assert isinstance(request, types.ThreadsAddStructuredInputReq)
    submission = request.params.input
    assert submission.status == "answered"
    assert submission.answers["q"] == types.StructuredInputAnswerSubmission(
        values=[], skipped=False
    )


def test_custom_action_keeps_type_and_payload_and_ignores_widget_config_keys() -> None:
    request = parse_request(
        b'{"type":"threads.custom_action","params":{"thread_id":"t","item_id":"w",'
        b'"action":{"type":"send","payload":{"id":7},"handler":"server","streaming":true}}}'
    )

    assert isinstance(request, types.ThreadsCustomActionReq)
    assert request.params.action.type == "send"
    assert request.params.action.payload == {"id": 7}
    assert request.params.action.model_dump() == {"type": "send", "payload": {"id": 7}}


def test_audio_input_media_type_drops_parameters() -> None:
    audio = types.AudioInput(data=b"\x00", mime_type="audio/webm;codecs=opus")

    assert audio.media_type == "audio/webm"
