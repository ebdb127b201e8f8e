"""Differential tests: the same backend on `openai-chatkit` 1.6.5 and on `chatkit_core`.

Each scenario is a list of request bodies sent, in order, to two fresh backends built by
`_differential.build_backend`: one on the official SDK, one on ours, from the very same
integrator code. Every step's SSE events / JSON body (parsed, and byte for byte where no
difference applies), the final store contents and the calls the hooks received must be
equal, apart from the explicit list of differences D1-D8 below. Ids are deterministic on both sides;
timestamps the SDKs create are replaced by `<now>` (ours must be UTC with `Z`).

Adding a scenario: add an entry to `SCENARIOS` (request bodies; `Cancel(body, after=n)`
disconnects after n events). The integrator's `respond` dispatches on the first word of the
user message (`do_<word>` in `_differential.py`).
"""

from __future__ import annotations

import base64
import json
from typing import Any, get_args

import pytest

from tests.chatkit_core._differential import (
    FIXED_NAIVE_AS_UTC_WIRE,
    FIXED_NAIVE_WIRE,
    OURS,
    REFERENCE,
    WIDGET_DEPRECATION,
    Cancel,
    Outcome,
    Run,
    Step,
    load_sdk,
    run_scenario,
)

pytestmark = pytest.mark.filterwarnings(f"ignore:{WIDGET_DEPRECATION}:DeprecationWarning")


# --- request builders ---------------------------------------------------------------------


def req(type_: str, **params: Any) -> dict[str, Any]:
    return {"type": type_, "params": params}


def said(text: str, **extra: Any) -> dict[str, Any]:
    """A `UserMessageInput` whose text is a command for the integrator's `respond`."""
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
        **extra,
    }


def create(text: str, **extra: Any) -> dict[str, Any]:
    return req("threads.create", input=said(text, **extra))


def add(thread_id: str, text: str, **extra: Any) -> dict[str, Any]:
    return req("threads.add_user_message", thread_id=thread_id, input=said(text, **extra))


def action(type_: str, thread_id: str = "thr_1", **params: Any) -> dict[str, Any]:
    return req(type_, thread_id=thread_id, **params)


# Ids are numbered per kind by the integrator's store: thr_N, message_N, tool_call_N,
# workflow_N, task_N, sdk_hidden_context_N; attachments atc_N.

RICH_INPUT = said(
    "noop",
    content=[
        {"type": "input_text", "text": "noop with tags "},
        {"type": "input_tag", "id": "u_7", "text": "Bob", "data": {"k": None}, "group": "people"},
        {"type": "input_tag", "id": "u_8", "text": "Ann", "data": {}, "interactive": True},
        {"type": "input_text", "text": " ünïcode ✓"},
    ],
    quoted_text="earlier text",
    inference_options={"tool_choice": {"id": "search"}, "model": "fast"},
    unknown_key="ignored",
)

SCENARIOS: dict[str, list[Step]] = {
    "create_with_an_empty_respond": [create("noop"), req("threads.get_by_id", thread_id="thr_1")],
    "create_with_tags_quote_and_inference_options": [
        {"type": "threads.create", "params": {"input": RICH_INPUT}, "metadata": {"a": 1}},
        req("items.list", thread_id="thr_1"),
    ],
    "create_and_add_with_attachments": [
        req("attachments.create", name="cat.png", size=10, mime_type="image/png"),
        req("attachments.create", name="notes.pdf", size=99, mime_type="application/pdf"),
        create("noop", attachments=["atc_1", "atc_2"]),
        add("thr_1", "noop", attachments=["atc_2"]),
        req("threads.get_by_id", thread_id="thr_1"),
    ],
    "assistant_message_streaming": [
        create("assistant"),
        add("thr_1", "assistant third part"),
        req("items.list", thread_id="thr_1", order="asc"),
    ],
    "static_widget": [create("widget_static"), req("threads.get_by_id", thread_id="thr_1")],
    "streamed_widget": [create("widget_stream"), req("items.list", thread_id="thr_1")],
    "streamed_widget_with_two_growing_texts": [create("widget_stream two_ids")],
    "streamed_widget_with_nested_texts": [create("widget_stream nested")],
    "workflows_and_tasks": [create("workflow"), req("items.list", thread_id="thr_1")],
    "progress_effects_notices_and_yielded_errors": [create("events")],
    "title_and_status_changed_mid_stream": [
        create("title"),
        req("threads.get_by_id", thread_id="thr_1"),
        req("threads.list"),
        add("thr_1", "assistant"),  # a locked thread still answers
    ],
    "private_metadata_change": [create("metadata"), req("threads.list", limit=5)],
    "hidden_context_items": [
        create("hidden"),
        req("items.list", thread_id="thr_1", limit=2),
        req("items.list", thread_id="thr_1", limit=2, after="sdk_hidden_context_1"),
        req("items.list", thread_id="thr_1", limit=3, order="asc", after="message_1"),
        req("threads.get_by_id", thread_id="thr_1"),
    ],
    "errors_raised_in_respond": [
        create("raise generic"),
        add("thr_1", "raise stream"),
        add("thr_1", "raise stream_no_retry"),
        add("thr_1", "raise custom"),
        add("thr_1", "raise custom_retry"),
        add("thr_1", "raise after_title"),
        add("thr_1", "raise store"),
        req("threads.get_by_id", thread_id="thr_1"),
    ],
    "client_tool_call_and_output": [
        create("client_tool"),
        action("threads.add_client_tool_output", result={"nodes": [1, None], "ok": True}),
        req("items.list", thread_id="thr_1", order="asc"),
        # The newest item is no longer a pending call: fails before the pipeline.
        action("threads.add_client_tool_output", result=None),
    ],
    "dangling_client_tool_calls_are_deleted": [
        create("client_tool 3"),
        action("threads.add_client_tool_output", result="only the newest"),
        req("items.list", thread_id="thr_1"),
    ],
    "structured_input_answered": [
        create("structured"),
        action(
            "threads.add_structured_input",
            item_id="message_2",
            input={
                "answers": {
                    "one": {"values": ["A", "B"]},
                    "many": {"values": ["A", "C"]},
                    "free": {"values": ["because"]},
                    "empty": {"values": []},
                    "skip": {"values": ["x"], "skipped": True},
                    "unknown": {"values": ["?"]},
                }
            },
        ),
        # No longer pending: fails before the pipeline.
        action("threads.add_structured_input", item_id="message_2", input={}),
    ],
    "structured_input_skipped": [
        create("structured"),
        action(
            "threads.add_structured_input",
            item_id="message_2",
            input={"status": "skipped", "answers": {"one": {"values": ["A"]}}},
        ),
        # Not a structured input item at all.
        action("threads.add_structured_input", item_id="message_1", input={}),
    ],
    "retry_after_item": [
        create("assistant"),
        create("noop"),  # another thread, untouched by the retries
        add("thr_1", "hidden"),  # message_4, then visible, visible, hidden, sdk hidden
        action("threads.retry_after_item", item_id="message_4"),
        action("threads.retry_after_item", item_id="no_such_item"),
        req("items.list", thread_id="thr_1", order="asc"),
        # An assistant message cannot be retried: fails before the pipeline.
        action("threads.retry_after_item", item_id="message_2"),
    ],
    "custom_actions": [
        create("widget_static"),
        action(
            "threads.custom_action",
            item_id="message_2",
            action={"type": "send", "payload": {"n": 7}, "handler": "server"},
        ),
        action("threads.custom_action", action={"type": "refresh"}),
        action("threads.custom_action", item_id="", action={"type": "refresh", "payload": 1}),
        action("threads.custom_action", item_id="message_1", action={"type": "send"}),
        action("threads.custom_action", item_id="message_2", action={"type": "unsupported"}),
        req("items.list", thread_id="thr_1", order="asc"),
        action("threads.custom_action", item_id="no_such_item", action={"type": "send"}),
    ],
    "sync_custom_actions": [
        create("widget_static"),
        action(
            "threads.sync_custom_action",
            item_id="message_2",
            action={"type": "toggle", "payload": [1, None]},
        ),
        action("threads.sync_custom_action", action={"type": "toggle"}),
        action("threads.sync_custom_action", item_id="message_1", action={"type": "toggle"}),
        action("threads.sync_custom_action", item_id="nope", action={"type": "toggle"}),
        action("threads.sync_custom_action", thread_id="thr_9", action={"type": "toggle"}),
    ],
    "threads_list_paging_and_order": [
        create("noop"),
        create("noop"),
        create("noop"),
        req("threads.list"),
        req("threads.list", limit=2),
        req("threads.list", limit=2, after="thr_2"),
        req("threads.list", limit=2, order="asc"),
        req("threads.list", limit=0, order="asc", after="thr_1"),
        req("threads.list", limit=None),
    ],
    "threads_update_and_delete": [
        create("noop"),
        create("noop"),
        req("threads.update", thread_id="thr_1", title="New ✓"),
        req("threads.get_by_id", thread_id="thr_1"),
        req("threads.delete", thread_id="thr_1"),
        req("threads.list"),
        req("threads.delete", thread_id="thr_1"),
        req("threads.get_by_id", thread_id="thr_1"),
        req("threads.update", thread_id="thr_1", title="gone"),
    ],
    "items_list_paging": [
        create("many 24"),
        req("items.list", thread_id="thr_1"),
        req("items.list", thread_id="thr_1", after="message_6"),
        req("items.list", thread_id="thr_1", limit=10, order="asc", after="message_20"),
        req("items.list", thread_id="thr_1", limit=0, order="asc"),
        req("threads.get_by_id", thread_id="thr_1"),
        req("items.list", thread_id="no_such_thread"),
    ],
    "items_feedback": [
        create("assistant"),
        req("items.feedback", thread_id="thr_1", item_ids=["message_2"], kind="positive"),
        req("items.feedback", thread_id="thr_1", item_ids=[], kind="negative"),
    ],
    "attachments_create_and_delete": [
        req("attachments.create", name="a.png", size=10, mime_type="image/png", extra=1),
        req("attachments.create", name="b.txt", size=0, mime_type="text/plain"),
        req("attachments.delete", attachment_id="atc_1"),
        req("attachments.delete", attachment_id="atc_404"),
    ],
    "input_transcribe": [
        req(
            "input.transcribe",
            audio_base64=base64.b64encode(b"RIFF audio").decode(),
            mime_type="audio/webm;codecs=opus",
        ),
        req("input.transcribe", audio_base64="", mime_type="audio/mp4"),
        req("input.transcribe", audio_base64="abc", mime_type="audio/ogg"),
    ],
    "edits_images_and_end_of_turn": [
        create("edit"),
        req("items.list", thread_id="thr_1", order="asc"),
    ],
    "cancelled_stream": [
        Cancel(create("slow"), after=8),
        req("items.list", thread_id="thr_1", order="asc"),
    ],
    "unknown_thread_in_streaming_requests": [
        add("thr_404", "noop"),
        action("threads.add_client_tool_output", "thr_404", result=1),
        action("threads.add_structured_input", "thr_404", item_id="m", input={}),
        action("threads.retry_after_item", "thr_404", item_id="m"),
        action("threads.custom_action", "thr_404", action={"type": "send"}),
    ],
    "unknown_attachment_in_threads_create": [
        create("noop", attachments=["atc_404"]),
    ],
    "invalid_envelopes": [
        b"",
        b'{"type": "threads.list"}',
        b'{"type": "items.list", "params": {"thread_id": 5}}',
        b'{"type": "threads.nope", "params": {}}',
        b'{"params": {}}',
        b"not json",
        b"[]",
        b'{"type": "threads.create", "params": {"input": {"content": []}}}',
        b'{"type": "threads.get_by_id", "params": {}}',
        b'{"type": "threads.list", "params": null}',
        b'{"type": "threads.list", "params": {"order": "sideways"}}',
        b'{"type": "threads.list", "params": {"limit": "many"}}',
        b'{"type": "threads.list", "params": {}, "metadata": []}',
        b'{"type": "items.feedback", "params": {"thread_id": "t", "item_ids": [], "kind": "meh"}}',
    ],
    "body_as_text_or_bytearray": [
        '{"type": "threads.list", "params": {}}',
        bytearray(b'{"type": "threads.list", "params": {}}'),
    ],
}

# --- the explicit list of differences ------------------------------------------------------
#
# Everything not listed here must be identical: the parsed events / JSON bodies, and even
# the raw bytes (timestamps aside) of every step that no listed difference touches.
#
#   D1  A streaming request that the reference fails from the SSE body before its first
#       byte (unknown thread, item or attachment; no pending tool call; retry after a
#       non-user item; a structured input that is not pending): we raise the same kind of
#       error from process() itself, NotFoundError, or InvalidRequestError (a ValueError)
#       where the reference raises ValueError. The integrator's handler answers both with
#       the same status (404 / 400). Documented: server.py docstring, README.
#   D2  threads.create naming an unknown attachment: the reference saves and announces a
#       new thread, then cuts the stream (200, an empty thread stays); we check the
#       attachments first and raise NotFoundError from process() (404, nothing stored).
#       Documented: server.py docstring, README.
#   D3  A body that is not a valid request: the reference raises pydantic's
#       ValidationError, we raise InvalidRequestError; both are ValueErrors (400 in the
#       handler). Documented: protocol §1.2 Recommendation, README, server.py docstring.
#   D4  threads.sync_custom_action naming a non-widget item (reference: ValueError) and
#       input.transcribe with undecodable base64 (reference: binascii.Error) raise
#       InvalidRequestError in ours, a ValueError too (400 in the handler, as theirs).
#       Documented: server.py docstring.
#   D5  Timestamps the SDK creates: naive local time in the reference, UTC with `Z` in ours
#       (protocol §1.5 Recommendation, README). Both become `<now>`; ours are checked.
#   D6  The wording of the cancellation note stored as sdk_hidden_context (protocol §1.7:
#       not protocol-relevant); `_differential` masks it.
#   D7  In threads.create the reference hands `respond` the `Thread` it built (with an empty
#       items page); we hand a `ThreadMetadata`. Same fields, nothing on the wire depends
#       on it. NOT documented.
#   D8  A tag without `data` (`test_a_tag_without_data_is_accepted_unlike_the_reference`)
#       and a Text inside a Transition (`test_text_inside_a_transition_streams_deltas_...`)
#       have their own tests below.
#   D9  A naive `created_at` set by the integrator is read as local time and stored and
#       sent as UTC with `Z`; the reference keeps it naive. Server-private fields only we
#       have (`ThreadMetadata.updated_at`, `UserMessageItem.metadata`) are left out of the
#       compared store contents and hook arguments; they are never on the wire (the bytes
#       are compared). Documented: server.py docstring, README.
#   D10 An operation the server does not offer (attachments without an attachment store,
#       the default transcribe / sync_action hooks) raises UnsupportedOperationError (HTTP
#       501, also a NotImplementedError); the reference raises RuntimeError /
#       NotImplementedError. Documented: server.py docstring, errors.py.

BEFORE_STREAM_ERRORS = {  # D1: the reference's error before the first byte -> ours
    "NotFoundError": "NotFoundError",
    "ValueError": "InvalidRequestError",
}

BAD_REQUEST_ERRORS = {  # D4: (request type, reference exception) -> ours
    ("threads.sync_custom_action", "ValueError"): "InvalidRequestError",
    ("input.transcribe", "Error"): "InvalidRequestError",
}


UNSUPPORTED_ERRORS = {  # D10: reference exception -> ours
    "RuntimeError": "UnsupportedOperationError",
    "NotImplementedError": "UnsupportedOperationError",
}


def naive_as_utc(value: Any) -> Any:
    """D9: the reference's naive integrator timestamp, as we store and send it."""
    if isinstance(value, dict):
        return {key: naive_as_utc(item) for key, item in value.items()}
    if isinstance(value, list):
        return [naive_as_utc(item) for item in value]
    return FIXED_NAIVE_AS_UTC_WIRE if value == FIXED_NAIVE_WIRE else value


def request_type(step: Step) -> str | None:
    body = step.body if isinstance(step, Cancel) else step
    try:
        if isinstance(body, bytes | bytearray | str):
            return str(json.loads(body)["type"])
        return str(body["type"])
    except (ValueError, KeyError, TypeError):
        return None


def fails_before_first_byte(outcome: Outcome) -> bool:
    return outcome.kind == "stream" and outcome.error is not None and not outcome.chunks


def keeps_an_orphan_thread(step: Step, outcome: Outcome) -> bool:
    """D2: the reference announced a new thread, then failed on an unknown attachment."""
    return (
        request_type(step) == "threads.create"
        and outcome.kind == "stream"
        and outcome.error == "NotFoundError"
    )


def expected_from_reference(step: Step, reference: Outcome) -> dict[str, Any]:
    """Return what our backend must produce for a step, given the reference's outcome."""
    expected = naive_as_utc(reference.summary())  # D9
    if fails_before_first_byte(reference):  # D1
        expected.update(kind="raised", error=BEFORE_STREAM_ERRORS[reference.error or ""])
    elif keeps_an_orphan_thread(step, reference):  # D2
        expected.update(kind="raised", events=[], error="NotFoundError", status=404)
    if reference.kind == "raised" and reference.error == "ValidationError":  # D3
        expected["error"] = "InvalidRequestError"
    key = (request_type(step), reference.error)
    if reference.kind == "raised" and key in BAD_REQUEST_ERRORS:  # D4
        expected["error"] = BAD_REQUEST_ERRORS[key]
    if reference.kind == "raised" and reference.error in UNSUPPORTED_ERRORS:  # D10
        expected["error"] = UNSUPPORTED_ERRORS[reference.error]
    return expected


def expected_state_from_reference(steps: list[Step], reference: Run) -> dict[str, Any]:
    """Return the store contents our backend must end with, given the reference's."""
    state: dict[str, Any] = naive_as_utc(reference.state)  # D9
    for step, outcome in zip(steps, reference.outcomes, strict=True):
        if not keeps_an_orphan_thread(step, outcome):
            continue
        for event in outcome.events:  # D2
            if event["type"] == "thread.created":
                orphan = event["thread"]["id"]
                state["threads"] = [t for t in state["threads"] if t["id"] != orphan]
                state["items"].pop(orphan, None)
    return state


def expected_log_from_reference(reference: Run) -> list[Any]:
    log: list[Any] = naive_as_utc(reference.log)  # D9
    for entry in log:
        if entry[:2] == ["respond", "Thread"]:  # D7
            entry[1] = "ThreadMetadata"
    return log


# --- the tests ----------------------------------------------------------------------------


async def run_both(steps: list[Step], **options: Any) -> tuple[Run, Run]:
    reference = await run_scenario(REFERENCE, steps, **options)
    ours = await run_scenario(OURS, steps, **options)
    return reference, ours


def assert_same_behaviour(steps: list[Step], reference: Run, ours: Run) -> None:
    assert ours.bad_timestamps == []  # D5
    outcomes = zip(steps, reference.outcomes, ours.outcomes, strict=True)
    for number, (step, theirs, mine) in enumerate(outcomes):
        expected = expected_from_reference(step, theirs)
        assert mine.summary() == expected, f"step {number}: {request_type(step)}"
        if expected == theirs.summary():
            assert mine.wire() == theirs.wire(), f"step {number}: bytes"
    assert ours.state == expected_state_from_reference(steps, reference)
    assert ours.log == expected_log_from_reference(reference)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_chatkit_core_answers_each_scenario_like_the_official_sdk(name: str) -> None:
    reference, ours = await run_both(SCENARIOS[name])
    assert_same_behaviour(SCENARIOS[name], reference, ours)


async def test_chatkit_core_without_attachment_store_fails_as_unsupported_unlike_the_sdk() -> None:
    steps: list[Step] = [
        req("attachments.create", name="a.png", size=10, mime_type="image/png"),
        req("attachments.delete", attachment_id="atc_1"),
    ]
    reference, ours = await run_both(steps, with_files=False)
    assert [outcome.error for outcome in reference.outcomes] == ["RuntimeError"] * 2
    assert [outcome.error for outcome in ours.outcomes] == ["UnsupportedOperationError"] * 2
    assert_same_behaviour(steps, reference, ours)


# The error cases an integrator's handler tells apart by status: bad requests (400),
# a streaming request naming an unknown thread (404), a retry after a non-user item (400).
HANDLER_ERROR_CASES: dict[str, tuple[str, int]] = {
    "invalid_envelopes": ("all", 400),
    "unknown_thread_in_streaming_requests": ("all", 404),
    "retry_after_item": ("last", 400),
    "client_tool_call_and_output": ("last", 400),
    "structured_input_answered": ("last", 400),
    "structured_input_skipped": ("last", 400),
}


@pytest.mark.parametrize("name", sorted(HANDLER_ERROR_CASES))
async def test_the_handler_answers_error_cases_with_the_official_status(name: str) -> None:
    which, status = HANDLER_ERROR_CASES[name]
    steps = SCENARIOS[name]
    reference, ours = await run_both(steps)
    checked = range(len(steps)) if which == "all" else [len(steps) - 1]
    for number in checked:
        theirs, mine = reference.outcomes[number], ours.outcomes[number]
        assert (theirs.status, mine.status) == (status, status), f"step {number}"
        # Ours fails before streaming anything: no 200 with a cut or error-carrying body.
        assert (mine.kind, mine.chunks) == ("raised", []), f"step {number}"


async def test_every_request_type_is_covered_by_the_scenarios() -> None:
    sdk = load_sdk(REFERENCE)
    all_types = {
        model.model_fields["type"].default for model in get_args(get_args(sdk.types.ChatKitReq)[0])
    }
    covered = {request_type(step) for steps in SCENARIOS.values() for step in steps}
    assert all_types <= covered


async def test_a_tag_without_data_is_accepted_unlike_the_reference() -> None:
    # D8, protocol §2.3: the JS client may omit `data` of an input tag; we read it as {}.
    tag = {"type": "input_tag", "id": "u_1", "text": "Bob"}
    content = [{"type": "input_text", "text": "noop"}, tag]
    steps: list[Step] = [req("threads.create", input=said("noop", content=content))]
    reference, ours = await run_both(steps)

    assert reference.outcomes[0].summary()["error"] == "ValidationError"
    user_message = ours.outcomes[0].events[1]["item"]
    assert user_message["content"][1] == {**tag, "data": {}, "interactive": False}
    assert ours.outcomes[0].events[-1]["type"] == "stream_options"


async def test_text_inside_a_transition_streams_deltas_unlike_the_reference() -> None:
    # D8, protocol §8.7: every Text/Markdown node with an id streams its appends. The
    # reference's differ does not look inside Transition (its single child is not a list),
    # so it sends no delta there; the final thread.item.done carries the text either way.
    steps: list[Step] = [create("widget_stream transition")]
    reference, ours = await run_both(steps)

    delta = {
        "type": "thread.item.updated",
        "item_id": "message_2",
        "update": {
            "type": "widget.streaming_text.value_delta",
            "component_id": "moving",
            "delta": "o",
            "done": True,
        },
    }
    theirs = reference.outcomes[0].events
    assert ours.outcomes[0].events == [*theirs[:-1], delta, theirs[-1]]
    assert ours.state == reference.state


def _text(value: str, **props: Any) -> dict[str, Any]:
    return {"type": "Text", "value": value, **props}


def _card(*children: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "Card", "children": list(children), **props}


WIDGET_DIFFS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "append_to_a_text_with_id": (_card(_text("a", id="t")), _card(_text("ab", id="t"))),
    "append_while_streaming": (
        _card(_text("a", id="t", streaming=True)),
        _card(_text("ab", id="t", streaming=True)),
    ),
    "append_to_markdown_without_id": (
        _card({"type": "Markdown", "value": "a"}),
        _card({"type": "Markdown", "value": "ab"}),
    ),
    "unchanged": (_card(_text("a", id="t")), _card(_text("a", id="t"))),
    "non_append_change": (_card(_text("ab", id="t")), _card(_text("b", id="t"))),
    "prop_change": (_card(_text("a", id="t"), size="sm"), _card(_text("ab", id="t"), size="md")),
    "prop_added": (_card(_text("a", id="t")), _card(_text("ab", id="t"), size="md")),
    "child_added": (_card(_text("a", id="t")), _card(_text("a", id="t"), {"type": "Divider"})),
    "id_changed": (_card(_text("a", id="t")), _card(_text("ab", id="u"))),
    "key_changed": (_card(_text("a", key="k")), _card(_text("a", key="l"))),
    "nested_text_in_a_row": (
        _card({"type": "Row", "children": [_text("a", id="t")]}),
        _card({"type": "Row", "children": [_text("ab", id="t")]}),
    ),
    "two_texts_grow_in_document_order": (
        _card(_text("a", id="t"), {"type": "Row", "children": [_text("x", id="u")]}),
        _card(_text("ab", id="t"), {"type": "Row", "children": [_text("xy", id="u")]}),
    ),
}


# The reference's differ raises AttributeError when a dynamic node gains or loses a prop it
# does not declare ("prop_added" on DynamicWidgetRoot); ours replaces the root. Not compared.
DIFF_CASES = [
    (name, root)
    for name in sorted(WIDGET_DIFFS)
    for root in ("Card", "DynamicWidgetRoot")
    if (name, root) != ("prop_added", "DynamicWidgetRoot")
]


@pytest.mark.parametrize(("name", "root"), DIFF_CASES)
def test_diff_widget_returns_the_updates_of_the_official_sdk(name: str, root: str) -> None:
    before, after = WIDGET_DIFFS[name]
    results = []
    for prefix in (REFERENCE, OURS):
        sdk = load_sdk(prefix)
        model = getattr(sdk.widgets, root)
        updates = sdk.server.diff_widget(model.model_validate(before), model.model_validate(after))
        results.append([update.model_dump(mode="json", exclude_none=True) for update in updates])
    theirs, mine = results
    assert mine == theirs
