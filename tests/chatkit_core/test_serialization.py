"""The wire codec: SSE framing and JSON rules of protocol §1.4/§1.5, and request parsing
(checklist 1, 3-7)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from chatkit_core import types
from chatkit_core._serialization import dump_json, parse_request, sse_event, to_wire_dict
from chatkit_core.errors import InvalidRequestError, ProtocolError
from chatkit_core.widgets import Card, Text

NOW = datetime(2025, 6, 1, 10, 0, 0, tzinfo=UTC)


def _image(**extra: object) -> types.ImageAttachment:
    return types.ImageAttachment(
        id="atc_1",
        name="cat.png",
        mime_type="image/png",
        preview_url="https://files.example/p/atc_1",
        metadata={"bucket": "private"},
        **extra,
    )


def test_sse_event_is_data_prefix_compact_json_and_blank_line() -> None:
    event = types.StreamOptionsEvent(stream_options=types.StreamOptions(allow_cancel=True))

    chunk = sse_event(event)

    assert chunk == b'data: {"type":"stream_options","stream_options":{"allow_cancel":true}}\n\n'


def test_sse_event_json_stays_on_one_line_and_writes_non_ascii_raw() -> None:
    event = types.ProgressUpdateEvent(text="Zürich\n日本")

    chunk = sse_event(event)

    assert chunk.count(b"\n") == 2
    assert chunk.endswith(b"\n\n")
    assert "Zürich\\n日本".encode() in chunk


def test_dump_json_is_compact_and_omits_null_protocol_fields() -> None:
    event = types.ErrorEvent(code="custom", message=None)

    assert dump_json(event) == b'{"type":"error","code":"custom","allow_retry":false}'


def test_nulls_inside_free_form_values_are_kept() -> None:
    item = types.ClientToolCallItem(
        id="fc_1",
        thread_id="t",
        created_at=NOW,
        call_id="c",
        name="n",
        arguments={"a": None},
        output=[None, {"b": None}],
    )

    data = json.loads(dump_json(item))

    assert data["arguments"] == {"a": None}
    assert data["output"] == [None, {"b": None}]


def test_pending_tool_call_without_output_has_no_output_key() -> None:
    item = types.ClientToolCallItem(
        id="fc_1", thread_id="t", created_at=NOW, call_id="c", name="n", arguments={}
    )

    assert "output" not in json.loads(dump_json(item))


def test_attachment_metadata_is_never_written_but_stays_on_the_model() -> None:
    attachment = _image()
    message = types.UserMessageItem(
        id="m",
        thread_id="t",
        created_at=NOW,
        content=[types.UserMessageTextContent(text="see")],
        attachments=[attachment],
        inference_options=types.InferenceOptions(),
    )

    assert "metadata" not in json.loads(dump_json(attachment))
    assert "metadata" not in json.loads(dump_json(message))["attachments"][0]
    assert attachment.model_dump()["metadata"] == {"bucket": "private"}


def test_thread_metadata_is_always_written_as_empty_object() -> None:
    thread = types.Thread(id="thr_1", created_at=NOW, metadata={"owner": "u_1"})
    page = types.Page[types.Thread](data=[thread])

    assert json.loads(dump_json(thread))["metadata"] == {}
    assert (
        json.loads(dump_json(types.ThreadUpdatedEvent(thread=thread)))["thread"]["metadata"] == {}
    )
    assert json.loads(dump_json(page))["data"][0]["metadata"] == {}
    assert thread.model_dump()["metadata"] == {"owner": "u_1"}


def test_new_thread_event_has_defaults_and_no_title_key() -> None:
    event = types.ThreadCreatedEvent(thread=types.Thread(id="thr_1", created_at=NOW))

    assert json.loads(dump_json(event))["thread"] == {
        "id": "thr_1",
        "created_at": "2025-06-01T10:00:00Z",
        "status": {"type": "active"},
        "metadata": {},
        "items": {"data": [], "has_more": False},
    }


def test_datetimes_use_z_for_utc_and_micro_seconds_only_when_present() -> None:
    plain = types.ThreadMetadata(id="a", created_at=NOW)
    precise = types.ThreadMetadata(id="b", created_at=NOW + timedelta(microseconds=594189))
    offset = types.ThreadMetadata(id="c", created_at=NOW.astimezone(timezone(timedelta(hours=2))))

    assert json.loads(dump_json(plain))["created_at"] == "2025-06-01T10:00:00Z"
    assert json.loads(dump_json(precise))["created_at"] == "2025-06-01T10:00:00.594189Z"
    assert json.loads(dump_json(offset))["created_at"] == "2025-06-01T12:00:00+02:00"


def test_url_fields_are_normalized() -> None:
    attachment = types.ImageAttachment(
        id="a", name="n", mime_type="image/png", preview_url="https://a.com"
    )

    assert json.loads(dump_json(attachment))["preview_url"] == "https://a.com/"


def test_plain_dicts_holding_protocol_objects_follow_the_same_rules() -> None:
    body = dump_json({"attachment": _image(), "thread": types.Thread(id="t", created_at=NOW)})

    data = json.loads(body)
    assert "metadata" not in data["attachment"]
    assert data["thread"]["metadata"] == {}
    assert dump_json({}) == b"{}"


def test_widget_item_dump_strips_nulls_inside_action_payloads() -> None:
    from chatkit_core.actions import ActionConfig
    from chatkit_core.widgets import Button

    widget = Card(
        children=[
            Text(value="x"),
            Button(label="b", onClickAction=ActionConfig(type="a", payload={"k": None, "v": 1})),
        ]
    )
    item = types.WidgetItem(id="w", thread_id="t", created_at=NOW, widget=widget)

    data = json.loads(dump_json(item))

    assert data["widget"]["children"][1]["onClickAction"]["payload"] == {"v": 1}
    assert b"null" not in dump_json(item)


def test_to_wire_dict_matches_dump_json() -> None:
    thread = types.Thread(id="thr_1", created_at=NOW, title="T", metadata={"x": 1})

    assert to_wire_dict(thread) == json.loads(dump_json(thread))


def test_parse_request_accepts_bytes_and_ignores_unknown_keys() -> None:
    request = parse_request(
        b'{"type":"threads.list","params":{"limit":2,"surprise":1},"metadata":{"m":1},"x":[]}'
    )

    assert isinstance(request, types.ThreadsListReq)
    assert request.params.limit == 2
    assert request.metadata == {"m": 1}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"[]", "invalid_envelope"),
        (b'"threads.list"', "invalid_envelope"),
        (b'{"params":{}}', "invalid_envelope"),
        (b'{"type":"threads.nope","params":{}}', "unknown_type"),
        (b'{"type":5,"params":{}}', "unknown_type"),
        (b'{"type":"threads.list"}', "invalid_params"),
        (b'{"type":"threads.list","params":[]}', "invalid_params"),
        (b'{"type":"threads.update","params":{"thread_id":1,"title":"x"}}', "invalid_params"),
        (b'{"type":"threads.list","params":{},"metadata":5}', "invalid_envelope"),
    ],
)
def test_parse_request_rejects_bad_bodies_with_one_exception_type(body: bytes, code: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_request(body)

    assert info.value.code == code
    assert info.value.message
    assert isinstance(info.value, ProtocolError)
    assert info.value.status_code == 400


def test_parse_request_names_the_missing_param() -> None:
    with pytest.raises(InvalidRequestError, match=r"params\.thread_id"):
        parse_request(b'{"type":"threads.get_by_id","params":{}}')
