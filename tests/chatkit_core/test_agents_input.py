"""Thread items → model input (protocol §7.3)."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from openai.types.responses import ResponseInputContentParam

from chatkit_core.agents import ThreadItemConverter, simple_to_agent_input
from chatkit_core.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ClientToolCallItem,
    CustomTask,
    EndOfTurnItem,
    FileAttachment,
    GeneratedImage,
    GeneratedImageItem,
    HiddenContextItem,
    InferenceOptions,
    SDKHiddenContextItem,
    StructuredInputAnswer,
    StructuredInputFreeform,
    StructuredInputItem,
    StructuredInputMultipleChoice,
    StructuredInputMultipleChoiceOption,
    TaskItem,
    ThoughtTask,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
)
from chatkit_core.widgets import Card, Text

NOW = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
BASE: dict[str, Any] = {"thread_id": "thr_1", "created_at": NOW}


def user(*content: Any, quoted_text: str | None = None, **extra: Any) -> UserMessageItem:
    return UserMessageItem(
        id="msg_u",
        content=list(content),
        quoted_text=quoted_text,
        inference_options=InferenceOptions(),
        **BASE,
        **extra,
    )


def texts(message: Any) -> list[str]:
    return [part["text"] for part in message["content"]]


async def test_user_message_renders_tags_inline_with_an_at_sign() -> None:
    class Tags(ThreadItemConverter):
        async def tag_to_message_content(
            self, tag: UserMessageTagContent
        ) -> ResponseInputContentParam:
            return {"type": "input_text", "text": f"{tag.text} is {tag.data['role']}"}

    item = user(
        UserMessageTextContent(text="Ask "),
        UserMessageTagContent(id="u1", text="Bob", data={"role": "admin"}),
        UserMessageTextContent(text=" and "),
        UserMessageTagContent(id="u1", text="Bob", data={"role": "admin"}),
    )

    converted = await Tags().to_agent_input(item)

    assert converted[0] == {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "Ask @Bob and @Bob"}],
    }
    assert len(converted) == 2
    assert texts(converted[1])[1:] == ["Bob is admin"]
    assert "@" in texts(converted[1])[0]


async def test_tags_and_attachments_need_an_override() -> None:
    tagged = user(UserMessageTagContent(id="u1", text="Bob"))
    attachment = FileAttachment(id="atc_1", name="a.txt", mime_type="text/plain")
    attached = user(UserMessageTextContent(text="see file"), attachments=[attachment])

    with pytest.raises(NotImplementedError):
        await simple_to_agent_input(tagged)
    with pytest.raises(NotImplementedError):
        await simple_to_agent_input(attached)


async def test_attachments_follow_the_text_when_converted() -> None:
    class Files(ThreadItemConverter):
        async def attachment_to_message_content(self, attachment: Any) -> Any:
            return {"type": "input_file", "file_id": attachment.id}

    attachment = FileAttachment(id="atc_1", name="a.txt", mime_type="text/plain")
    item = user(UserMessageTextContent(text="see file"), attachments=[attachment])

    converted = await Files().to_agent_input([item])

    assert converted[0]["content"] == [
        {"type": "input_text", "text": "see file"},
        {"type": "input_file", "file_id": "atc_1"},
    ]


async def test_quoted_text_is_sent_only_for_the_last_item() -> None:
    quoting = user(UserMessageTextContent(text="Why?"), quoted_text="the sky is blue")
    answer = AssistantMessageItem(
        id="msg_a", content=[AssistantMessageContent(text="Because.")], **BASE
    )

    last = await simple_to_agent_input([quoting])
    earlier = await simple_to_agent_input([quoting, answer])

    assert len(last) == 2
    assert "the sky is blue" in texts(last[1])[0]
    assert len(earlier) == 2
    assert earlier[1]["role"] == "assistant"


async def test_assistant_message_is_sent_back_as_assistant_text() -> None:
    item = AssistantMessageItem(
        id="msg_a",
        content=[AssistantMessageContent(text="Hello "), AssistantMessageContent(text="there")],
        **BASE,
    )

    assert await simple_to_agent_input(item) == [
        {"type": "message", "role": "assistant", "content": "Hello there"}
    ]


async def test_pending_client_tool_call_contributes_nothing() -> None:
    pending = ClientToolCallItem(
        id="fc_1", call_id="call_1", name="pick", arguments={"a": 1}, **BASE
    )

    assert await simple_to_agent_input(pending) == []


async def test_completed_client_tool_call_becomes_call_and_output_json() -> None:
    completed = ClientToolCallItem(
        id="fc_1",
        call_id="call_1",
        name="pick",
        arguments={"doc": "a", "n": None},
        output={"nodes": [], "ok": True},
        status="completed",
        **BASE,
    )

    assert await simple_to_agent_input(completed) == [
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "pick",
            "arguments": '{"doc": "a", "n": null}',
        },
        {
            "type": "function_call_output",
            "call_id": "call_1",
            "output": '{"nodes": [], "ok": true}',
        },
    ]


async def test_widget_is_described_with_its_json() -> None:
    item = WidgetItem(id="msg_w", widget=Card(children=[Text(value="Hi")]), **BASE)

    (converted,) = await simple_to_agent_input(item)

    text = texts(converted)[0]
    assert "msg_w" in text
    widget_json = text[text.index("{") :]
    assert json.loads(widget_json) == {
        "type": "Card",
        "children": [{"type": "Text", "value": "Hi"}],
    }
    assert "null" not in text


async def test_only_custom_tasks_with_text_reach_the_model() -> None:
    workflow = WorkflowItem(
        id="wf_1",
        workflow=Workflow(
            type="custom",
            tasks=[
                CustomTask(title="Searched", content="3 hits"),
                CustomTask(content="Only content"),
                CustomTask(),
                ThoughtTask(content="private"),
            ],
        ),
        **BASE,
    )
    single = TaskItem(id="tsk_1", task=CustomTask(title="Booked"), **BASE)
    thought = TaskItem(id="tsk_2", task=ThoughtTask(content="hmm"), **BASE)

    converted = await simple_to_agent_input([workflow, single, thought])

    bodies = [texts(m)[0].split("\n", 1)[1] for m in converted]
    assert bodies == [
        "<Task>\nSearched: 3 hits\n</Task>",
        "<Task>\nOnly content\n</Task>",
        "<Task>\nBooked\n</Task>",
    ]


async def test_structured_input_lists_each_answer() -> None:
    item = StructuredInputItem(
        id="si_1",
        status="answered",
        inputs=[
            StructuredInputMultipleChoice(
                id="q1",
                question="Colour?",
                options=[StructuredInputMultipleChoiceOption(value="red")],
                answer=StructuredInputAnswer(values=["red", "blue"]),
            ),
            StructuredInputFreeform(
                id="q2", question="Name?", answer=StructuredInputAnswer(skipped=True)
            ),
            StructuredInputFreeform(id="q3", question="Age?"),
        ],
        **BASE,
    )

    (converted,) = await simple_to_agent_input(item)

    text = texts(converted)[0]
    assert "answered" in text.split("\n", 1)[0]
    assert text.split("\n", 1)[1] == (
        "<StructuredInput>\n- Colour?: red, blue\n- Name?: skipped\n- Age?: unanswered\n"
        "</StructuredInput>"
    )


async def test_hidden_context_is_wrapped_and_non_strings_need_an_override() -> None:
    hidden = HiddenContextItem(id="hc_1", content="user is on the pro plan", **BASE)
    sdk = SDKHiddenContextItem(id="shcx_1", content="user cancelled", **BASE)
    structured = HiddenContextItem(id="hc_2", content={"plan": "pro"}, **BASE)

    converted = await simple_to_agent_input([hidden, sdk])

    assert texts(converted[0])[0].endswith(
        "<HiddenContext>\nuser is on the pro plan\n</HiddenContext>"
    )
    assert texts(converted[1])[0].endswith("<HiddenContext>\nuser cancelled\n</HiddenContext>")
    with pytest.raises(NotImplementedError):
        await simple_to_agent_input(structured)


async def test_generated_image_is_sent_as_an_input_image_once_ready() -> None:
    ready = GeneratedImageItem(
        id="msg_i", image=GeneratedImage(id="ig_1", url="https://img/1.png"), **BASE
    )
    generating = GeneratedImageItem(id="msg_j", **BASE)

    converted = await simple_to_agent_input([ready, generating, EndOfTurnItem(id="e", **BASE)])

    assert len(converted) == 1
    assert converted[0]["content"][1] == {
        "type": "input_image",
        "detail": "auto",
        "image_url": "https://img/1.png",
    }


async def test_conversion_keeps_thread_order() -> None:
    items = [
        user(UserMessageTextContent(text="one")),
        AssistantMessageItem(id="msg_a", content=[AssistantMessageContent(text="two")], **BASE),
        user(UserMessageTextContent(text="three")),
    ]

    converted = await simple_to_agent_input(items)

    assert [(m["role"], m["content"]) for m in converted] == [
        ("user", [{"type": "input_text", "text": "one"}]),
        ("assistant", "two"),
        ("user", [{"type": "input_text", "text": "three"}]),
    ]
