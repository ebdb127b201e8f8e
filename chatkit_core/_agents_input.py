"""Thread items → model input (protocol §7.3); public through `chatkit_core.agents`."""

from __future__ import annotations

import json
from collections.abc import Coroutine, Sequence
from typing import Any, assert_never

from agents import TResponseInputItem
from openai.types.responses import (
    EasyInputMessageParam,
    ResponseFunctionToolCallParam,
    ResponseInputContentParam,
    ResponseInputTextParam,
)
from openai.types.responses.response_input_item_param import FunctionCallOutput, Message

from chatkit_core.types import (
    AssistantMessageItem,
    Attachment,
    ClientToolCallItem,
    CustomTask,
    EndOfTurnItem,
    GeneratedImageItem,
    HiddenContextItem,
    SDKHiddenContextItem,
    StructuredInputItem,
    Task,
    TaskItem,
    ThreadItem,
    UserMessageItem,
    UserMessageTagContent,
    WidgetItem,
    WorkflowItem,
)

InputItems = TResponseInputItem | list[TResponseInputItem] | None

_TAG_GUIDANCE = (
    "# Context for the @-mentions in the user's message\n"
    "- Refer to each mentioned entity by its canonical name, without the '@'.\n"
    "- Only the user's own text uses the '@' form; do not repeat it."
)


def _user_text(*parts: ResponseInputContentParam) -> Message:
    return Message(type="message", role="user", content=list(parts))


def _text(text: str) -> ResponseInputTextParam:
    return ResponseInputTextParam(type="input_text", text=text)


def _hidden(content: str) -> Message:
    return _user_text(
        _text(
            "Context for you only; the user never saw it:\n"
            f"<HiddenContext>\n{content}\n</HiddenContext>"
        )
    )


def _task_message(task: Task) -> Message | None:
    if not isinstance(task, CustomTask) or not (task.title or task.content):
        return None
    if task.title and task.content:
        text = f"{task.title}: {task.content}"
    else:
        text = task.title or task.content or ""
    return _user_text(
        _text(f"The user was shown that this task was carried out:\n<Task>\n{text}\n</Task>")
    )


class ThreadItemConverter:
    """Turn stored thread items into Agents SDK input items.

    Override a `*_to_input` method to change how one kind of item reaches the model.
    Attachments and tags have no default and must be supplied when used, as must
    hidden context items whose content is not a string.
    """

    async def attachment_to_message_content(
        self, attachment: Attachment
    ) -> ResponseInputContentParam:
        """Return the input part for an attachment of a user message (no default)."""
        raise NotImplementedError(
            "A user message has attachments: override "
            "ThreadItemConverter.attachment_to_message_content to send them to the model."
        )

    async def tag_to_message_content(self, tag: UserMessageTagContent) -> ResponseInputContentParam:
        """Return the input part that describes an @-mention tag (no default)."""
        raise NotImplementedError(
            "A user message has @-mention tags: override "
            "ThreadItemConverter.tag_to_message_content to describe them to the model."
        )

    async def generated_image_to_input(self, item: GeneratedImageItem) -> InputItems:
        """Return the image as a user input image (nothing while it has no image)."""
        if item.image is None:
            return None
        return _user_text(
            _text("The assistant generated this image:"),
            {"type": "input_image", "detail": "auto", "image_url": item.image.url},
        )

    async def hidden_context_to_input(self, item: HiddenContextItem) -> InputItems:
        """Return hidden string context, wrapped in <HiddenContext> tags."""
        if not isinstance(item.content, str):
            raise NotImplementedError(
                "A hidden context item has non-string content: override "
                "ThreadItemConverter.hidden_context_to_input to convert it."
            )
        return _hidden(item.content)

    async def sdk_hidden_context_to_input(self, item: SDKHiddenContextItem) -> InputItems:
        """Return SDK context (such as a cancellation note), wrapped like hidden context."""
        return _hidden(item.content)

    async def task_to_input(self, item: TaskItem) -> InputItems:
        """Return a custom task that has a title or content; other tasks send nothing."""
        return _task_message(item.task)

    async def structured_input_to_input(self, item: StructuredInputItem) -> InputItems:
        """Return the questions of a structured input and what the user answered."""
        lines = []
        for question in item.inputs:
            answer = question.answer
            if answer is None:
                given = "unanswered"
            elif answer.skipped:
                given = "skipped"
            else:
                given = ", ".join(answer.values)
            lines.append(f"- {question.question}: {given}")
        body = "\n".join(lines)
        return _user_text(
            _text(
                f"The user was asked these questions (status: {item.status}):\n"
                f"<StructuredInput>\n{body}\n</StructuredInput>"
            )
        )

    async def workflow_to_input(self, item: WorkflowItem) -> InputItems:
        """Return one message per custom task of the workflow that has a title or content."""
        messages = [_task_message(task) for task in item.workflow.tasks]
        return [m for m in messages if m is not None]

    async def widget_to_input(self, item: WidgetItem) -> InputItems:
        """Return the widget as a sentence followed by its JSON."""
        widget = item.widget.model_dump_json(exclude_unset=True, exclude_none=True)
        return _user_text(_text(f"The user was shown this UI widget (item id {item.id}):{widget}"))

    async def user_message_to_input(
        self, item: UserMessageItem, is_last_message: bool = True
    ) -> InputItems:
        """Return the user's text (tags as @text) and attachments, plus quote and tag context."""
        tags = [part for part in item.content if isinstance(part, UserMessageTagContent)]
        attachments = [await self.attachment_to_message_content(a) for a in item.attachments]
        messages: list[TResponseInputItem] = [_user_text(_text(item.text), *attachments)]
        if item.quoted_text and is_last_message:
            messages.append(
                _user_text(_text(f"The user is referring to this text:\n{item.quoted_text}"))
            )
        distinct: dict[str, UserMessageTagContent] = {}
        for tag in tags:
            distinct.setdefault(tag.text, tag)
        if distinct:
            described = [await self.tag_to_message_content(t) for t in distinct.values()]
            messages.append(_user_text(_text(_TAG_GUIDANCE), *described))
        return messages

    async def assistant_message_to_input(self, item: AssistantMessageItem) -> InputItems:
        """Return the assistant message with its text as plain string content.

        A string rather than `output_text` parts: both the Responses API and openai-agents'
        Chat Completions converter accept it, while the converter rejects the parts.
        """
        return EasyInputMessageParam(type="message", role="assistant", content=item.text)

    async def client_tool_call_to_input(self, item: ClientToolCallItem) -> InputItems:
        """Return a completed call and its output; a pending call sends nothing."""
        if item.status == "pending":
            return None
        return [
            ResponseFunctionToolCallParam(
                type="function_call",
                call_id=item.call_id,
                name=item.name,
                arguments=json.dumps(item.arguments),
            ),
            FunctionCallOutput(
                type="function_call_output",
                call_id=item.call_id,
                output=json.dumps(item.output),
            ),
        ]

    async def end_of_turn_to_input(self, item: EndOfTurnItem) -> InputItems:
        """Return nothing: the marker only matters to the UI."""
        return None

    async def _thread_item_to_input_item(
        self, item: ThreadItem, is_last_message: bool = True
    ) -> list[TResponseInputItem]:
        converted = await self._convert(item, is_last_message)
        if converted is None:
            return []
        return converted if isinstance(converted, list) else [converted]

    async def _convert(self, item: ThreadItem, is_last_message: bool) -> InputItems:
        match item:
            case UserMessageItem():
                return await self.user_message_to_input(item, is_last_message)
            case AssistantMessageItem():
                return await self.assistant_message_to_input(item)
            case ClientToolCallItem():
                return await self.client_tool_call_to_input(item)
            case EndOfTurnItem():
                return await self.end_of_turn_to_input(item)
            case WidgetItem():
                return await self.widget_to_input(item)
            case WorkflowItem():
                return await self.workflow_to_input(item)
            case TaskItem():
                return await self.task_to_input(item)
            case StructuredInputItem():
                return await self.structured_input_to_input(item)
            case HiddenContextItem():
                return await self.hidden_context_to_input(item)
            case SDKHiddenContextItem():
                return await self.sdk_hidden_context_to_input(item)
            case GeneratedImageItem():
                return await self.generated_image_to_input(item)
            case _:
                assert_never(item)

    async def to_agent_input(
        self, thread_items: Sequence[ThreadItem] | ThreadItem
    ) -> list[TResponseInputItem]:
        """Convert items (oldest first) into one list of model input items."""
        items = list(thread_items) if isinstance(thread_items, Sequence) else [thread_items]
        output: list[TResponseInputItem] = []
        for position, item in enumerate(items):
            is_last = position == len(items) - 1
            output.extend(await self._thread_item_to_input_item(item, is_last_message=is_last))
        return output


_DEFAULT_CONVERTER = ThreadItemConverter()


def simple_to_agent_input(
    thread_items: Sequence[ThreadItem] | ThreadItem,
) -> Coroutine[Any, Any, list[TResponseInputItem]]:
    """Convert thread items with the default `ThreadItemConverter` (await the result)."""
    return _DEFAULT_CONVERTER.to_agent_input(thread_items)
