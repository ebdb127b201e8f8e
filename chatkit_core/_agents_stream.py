"""Translation of openai-agents run events into thread events (protocol §7.2).

Used by `chatkit_core.agents.stream_agent_response`; `ResponseStreamConverter` and
`StreamingThoughtTracker` are public through `chatkit_core.agents`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

from agents import StreamEvent
from agents.models.fake_id import FAKE_RESPONSES_ID
from openai.types.responses import (
    ResponseContentPartAddedEvent,
    ResponseImageGenCallPartialImageEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputTextAnnotationAddedEvent,
    ResponseReasoningSummaryTextDeltaEvent,
    ResponseReasoningSummaryTextDoneEvent,
)
from openai.types.responses.response_output_message import Content
from openai.types.responses.response_output_text import (
    Annotation as ResponsesAnnotation,
)
from openai.types.responses.response_output_text import (
    AnnotationContainerFileCitation,
    AnnotationFileCitation,
    AnnotationURLCitation,
)
from pydantic import BaseModel, TypeAdapter

from chatkit_core._time import aware_utc
from chatkit_core.types import (
    Annotation,
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartAnnotationAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ClientToolCallItem,
    DurationSummary,
    FileSource,
    GeneratedImage,
    GeneratedImageItem,
    GeneratedImageUpdated,
    Task,
    ThoughtTask,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    URLSource,
    Workflow,
    WorkflowItem,
    WorkflowTaskAdded,
    WorkflowTaskUpdated,
)

if TYPE_CHECKING:
    from chatkit_core.agents import AgentContext

_Model = TypeVar("_Model", bound=BaseModel)

# Items that may appear while a workflow is open without closing it.
_KEEPS_WORKFLOW_OPEN = frozenset({"client_tool_call", "hidden_context_item", "sdk_hidden_context"})
_RESPONSES_ANNOTATION: TypeAdapter[ResponsesAnnotation] = TypeAdapter(ResponsesAnnotation)
_new = object.__new__
_set_attribute = object.__setattr__
_TEXT_DELTA: Final = AssistantMessageContentPartTextDelta.model_fields["type"].default
_ITEM_UPDATED: Final = ThreadItemUpdatedEvent.model_fields["type"].default


def now() -> datetime:
    return datetime.now(UTC)


def elapsed_seconds(since: datetime) -> int:
    return int((now() - aware_utc(since)).total_seconds())


def _built(cls: type[_Model], values: dict[str, Any], fields_set: set[str]) -> _Model:
    # What validation builds for a model without extra or private attributes, given values
    # of the right types (see text_delta_event).
    model = _new(cls)
    _set_attribute(model, "__dict__", values)
    _set_attribute(model, "__pydantic_fields_set__", fields_set)
    _set_attribute(model, "__pydantic_extra__", None)
    _set_attribute(model, "__pydantic_private__", None)
    return model


def text_delta_event(item_id: str, content_index: int, delta: str) -> ThreadItemUpdatedEvent:
    """Return the `thread.item.updated` event of a streamed text delta.

    The same object as `ThreadItemUpdatedEvent(item_id=..., update=
    AssistantMessageContentPartTextDelta(content_index=..., delta=...))` (same values, same
    fields set), built without validation when the values have exactly the types the
    fields take: text deltas are most of a stream, and validating the two models was a
    third of the bridge's work per event. Anything else is validated as usual.
    """
    if type(item_id) is not str or type(content_index) is not int or type(delta) is not str:
        update = AssistantMessageContentPartTextDelta(content_index=content_index, delta=delta)
        return ThreadItemUpdatedEvent(item_id=item_id, update=update)
    update = _built(
        AssistantMessageContentPartTextDelta,
        {"type": _TEXT_DELTA, "content_index": content_index, "delta": delta},
        {"content_index", "delta"},
    )
    return _built(
        ThreadItemUpdatedEvent,
        {"type": _ITEM_UPDATED, "item_id": item_id, "update": update},
        {"item_id", "update"},
    )


class StreamingThoughtTracker(BaseModel):
    """The reasoning summary part whose text is being streamed as a thought task."""

    item_id: str
    index: int
    task: ThoughtTask


class ResponseStreamConverter:
    """Overridable conversions used by `stream_agent_response` (images, citations)."""

    partial_images: int | None = None
    """How many partial images an image generation sends; used to compute progress."""

    def __init__(self, *, partial_images: int | None = None) -> None:
        self.partial_images = partial_images

    async def base64_image_to_url(
        self,
        image_id: str,
        base64_image: str,
        partial_image_index: int | None = None,
    ) -> str:
        """Return the URL stored for a generated image; by default a PNG data URL."""
        return f"data:image/png;base64,{base64_image}"

    def partial_image_index_to_progress(self, partial_image_index: int) -> float:
        """Return generation progress in [0, 1] for a partial image (0 when unknown)."""
        if not self.partial_images or self.partial_images <= 0:
            return 0.0
        return min(1.0, partial_image_index / self.partial_images)

    async def file_citation_to_annotation(
        self, file_citation: AnnotationFileCitation
    ) -> Annotation | None:
        """Return a file-source annotation, or None when the citation has no filename."""
        if not file_citation.filename:
            return None
        source = FileSource(filename=file_citation.filename, title=file_citation.filename)
        return Annotation(source=source, index=file_citation.index)

    async def container_file_citation_to_annotation(
        self, container_file_citation: AnnotationContainerFileCitation
    ) -> Annotation | None:
        """Return a file-source annotation at the citation's end, or None without filename."""
        filename = container_file_citation.filename
        if not filename:
            return None
        source = FileSource(filename=filename, title=filename)
        return Annotation(source=source, index=container_file_citation.end_index)

    async def url_citation_to_annotation(
        self, url_citation: AnnotationURLCitation
    ) -> Annotation | None:
        """Return a URL-source annotation at the citation's end."""
        source = URLSource(url=url_citation.url, title=url_citation.title)
        return Annotation(source=source, index=url_citation.end_index)


DEFAULT_RESPONSE_STREAM_CONVERTER = ResponseStreamConverter()


async def _convert_annotation(raw: object, converter: ResponseStreamConverter) -> Annotation | None:
    if raw is None:
        return None
    # Annotation events are not always parsed into the right class (a dict, an untyped
    # object), so validate again, reading attributes from anything that is not a dict.
    if isinstance(raw, BaseModel):
        annotation = _RESPONSES_ANNOTATION.validate_python(raw.model_dump())
    elif isinstance(raw, dict):
        annotation = _RESPONSES_ANNOTATION.validate_python(raw)
    else:
        annotation = _RESPONSES_ANNOTATION.validate_python(raw, from_attributes=True)
    if annotation.type == "file_citation":
        return await converter.file_citation_to_annotation(annotation)
    if annotation.type == "url_citation":
        return await converter.url_citation_to_annotation(annotation)
    if annotation.type == "container_file_citation":
        return await converter.container_file_citation_to_annotation(annotation)
    return None


async def _convert_content(
    content: Content, converter: ResponseStreamConverter
) -> AssistantMessageContent:
    if content.type != "output_text":
        return AssistantMessageContent(text=content.refusal)
    annotations = [await _convert_annotation(a, converter) for a in content.annotations]
    return AssistantMessageContent(
        text=content.text, annotations=[a for a in annotations if a is not None]
    )


def _function_call_ids(raw_item: object) -> tuple[str | None, str | None]:
    """Return (call_id, item id) of a function call run item, else (None, None)."""
    call_id: object
    item_id: object
    if isinstance(raw_item, dict):
        if raw_item.get("type") != "function_call":
            return None, None
        call_id, item_id = raw_item.get("call_id"), raw_item.get("id")
    elif getattr(raw_item, "type", None) == "function_call":
        call_id, item_id = getattr(raw_item, "call_id", None), getattr(raw_item, "id", None)
    else:
        return None, None
    return (
        call_id if isinstance(call_id, str) else None,
        # Chat Completions models give every item the same placeholder id.
        item_id if isinstance(item_id, str) and item_id != FAKE_RESPONSES_ID else None,
    )


class RunTranslator:
    """The state of one `stream_agent_response` call; turns run events into thread events."""

    def __init__(self, context: AgentContext[Any], converter: ResponseStreamConverter) -> None:
        self.ctx = context
        self.converter = converter
        self.produced: dict[str, None] = {}  # ordered set of item ids shown to the client
        self.tool_call_id: str | None = None
        self.tool_call_item_id: str | None = None
        self.thought: StreamingThoughtTracker | None = None
        self.annotation_counts: dict[tuple[str, int], int] = {}
        self.fake_message_id: str | None = None

    async def resume_workflow(self) -> None:
        """Continue a workflow left open by the previous run (possibly before a client tool)."""
        ctx = self.ctx
        page = await ctx.store.load_thread_items(
            ctx.thread.id, None, 2, "desc", ctx.request_context
        )
        newest = page.data[:2]
        if newest and isinstance(newest[0], WorkflowItem):
            ctx.workflow_item = newest[0]
        elif (
            len(newest) == 2
            and isinstance(newest[0], ClientToolCallItem)
            and isinstance(newest[1], WorkflowItem)
        ):
            ctx.workflow_item = newest[1]

    def end_workflow(self, item: WorkflowItem) -> ThreadItemDoneEvent:
        if self.ctx.workflow_item is not None and self.ctx.workflow_item.id == item.id:
            self.ctx.workflow_item = None
        if item.workflow.summary is None:
            item.workflow.summary = DurationSummary(duration=elapsed_seconds(item.created_at))
        item.workflow.expanded = False
        return ThreadItemDoneEvent(item=item)

    def queued(self, event: ThreadStreamEvent) -> list[ThreadStreamEvent]:
        """Pass on an event sent through the context, closing the open workflow first."""
        out: list[ThreadStreamEvent] = []
        if isinstance(event, ThreadItemAddedEvent | ThreadItemDoneEvent):
            workflow = self.ctx.workflow_item
            if (
                workflow is not None
                and workflow.id != event.item.id
                and event.item.type not in _KEEPS_WORKFLOW_OPEN
            ):
                out.append(self.end_workflow(workflow))
            current = self.ctx.workflow_item
            if (
                isinstance(event, ThreadItemAddedEvent)
                and isinstance(event.item, WorkflowItem)
                and (current is None or current.id != event.item.id)
            ):
                # A workflow announced by hand becomes the open one; the context's own
                # (live) workflow item is already open and must stay the one we finish.
                self.ctx.workflow_item = event.item
            self.produced[event.item.id] = None
        out.append(event)
        return out

    def run_item(self, event: StreamEvent) -> None:
        """Remember the latest function call, in case a tool asked for a client tool call."""
        if event.type != "run_item_stream_event" or event.item.type != "tool_call_item":
            return
        call_id, item_id = _function_call_ids(event.item.raw_item)
        if call_id is not None:
            self.tool_call_id, self.tool_call_item_id = call_id, item_id
            if item_id is not None:
                self.produced[item_id] = None

    def message_id(self, item_id: str, *, last: bool = False) -> str:
        """Return the thread item id for a Responses message id (placeholders get real ids)."""
        if item_id != FAKE_RESPONSES_ID:
            return item_id
        if self.fake_message_id is None:
            self.fake_message_id = self.ctx.generate_id("message")
        message_id = self.fake_message_id
        if last:
            self.fake_message_id = None
        return message_id

    async def raw(self, data: Any) -> list[ThreadStreamEvent]:
        """Translate one Responses stream event.

        Events are read by their `type` and attributes, not their class, as the official
        bridge does: the client library sometimes parses an event into the wrong class,
        and integrators' tests feed stand-in objects.
        """
        kind = data.type
        if kind == "response.content_part.added":
            return await self.content_part_added(data)
        if kind == "response.output_text.delta":
            return [self.text_delta(data)]
        if kind == "response.output_text.done":
            # Annotations stay out of `done`; the final item carries them.
            content = AssistantMessageContent(text=data.text)
            update: Any = AssistantMessageContentPartDone(
                content_index=data.content_index, content=content
            )
            return [self.updated(self.message_id(data.item_id), update)]
        if kind == "response.output_text.annotation.added":
            return await self.annotation_added(data)
        if kind == "response.output_item.added":
            return await self.output_item_added(data)
        if kind == "response.output_item.done":
            return await self.output_item_done(data)
        if kind == "response.image_generation_call.partial_image":
            return await self.partial_image(data)
        if kind == "response.reasoning_summary_text.delta":
            return self.summary_delta(data)
        if kind == "response.reasoning_summary_text.done":
            return self.summary_done(data)
        return []

    def text_delta(self, data: Any) -> ThreadItemUpdatedEvent:
        """Translate a `response.output_text.delta` (a fresh event: it needs no snapshot)."""
        item_id = data.item_id
        if item_id == FAKE_RESPONSES_ID:
            item_id = self.message_id(item_id)
        return text_delta_event(item_id, data.content_index, data.delta)

    @staticmethod
    def updated(item_id: str, update: Any) -> ThreadStreamEvent:
        return ThreadItemUpdatedEvent(item_id=item_id, update=update)

    async def content_part_added(
        self, data: ResponseContentPartAddedEvent
    ) -> list[ThreadStreamEvent]:
        if data.part.type == "reasoning_text":
            return []
        content = await _convert_content(data.part, self.converter)
        update = AssistantMessageContentPartAdded(content_index=data.content_index, content=content)
        return [self.updated(self.message_id(data.item_id), update)]

    async def annotation_added(
        self, data: ResponseOutputTextAnnotationAddedEvent
    ) -> list[ThreadStreamEvent]:
        annotation = await _convert_annotation(data.annotation, self.converter)
        if annotation is None:
            return []
        # Our own count, so that annotations we drop leave no gap in the indexes.
        key = (data.item_id, data.content_index)
        index = self.annotation_counts.get(key, 0)
        self.annotation_counts[key] = index + 1
        update = AssistantMessageContentPartAnnotationAdded(
            content_index=data.content_index, annotation_index=index, annotation=annotation
        )
        return [self.updated(self.message_id(data.item_id), update)]

    async def output_item_added(
        self, data: ResponseOutputItemAddedEvent
    ) -> list[ThreadStreamEvent]:
        item, ctx = data.item, self.ctx
        out: list[ThreadStreamEvent] = []
        if item.type == "reasoning" and ctx.workflow_item is None:
            ctx.workflow_item = WorkflowItem(
                id=ctx.generate_id("workflow"),
                thread_id=ctx.thread.id,
                created_at=now(),
                workflow=Workflow(type="reasoning", tasks=[]),
            )
            self.produced[ctx.workflow_item.id] = None
            out.append(ThreadItemAddedEvent(item=ctx.workflow_item))
        elif item.type == "message":
            if ctx.workflow_item is not None:
                out.append(self.end_workflow(ctx.workflow_item))
            message = await self.message_item(item)
            self.produced[message.id] = None
            out.append(ThreadItemAddedEvent(item=message))
        elif item.type == "image_generation_call":
            ctx.generated_image_item = GeneratedImageItem(
                id=ctx.generate_id("message"), thread_id=ctx.thread.id, created_at=now()
            )
            self.produced[ctx.generated_image_item.id] = None
            out.append(ThreadItemAddedEvent(item=ctx.generated_image_item))
        return out

    async def output_item_done(self, data: ResponseOutputItemDoneEvent) -> list[ThreadStreamEvent]:
        item, ctx = data.item, self.ctx
        if item.type == "message":
            message = await self.message_item(item, last=True)
            self.produced[message.id] = None
            return [ThreadItemDoneEvent(item=message)]
        if item.type == "image_generation_call" and item.result and ctx.generated_image_item:
            url = await self.converter.base64_image_to_url(
                image_id=item.id, base64_image=item.result
            )
            image_item = ctx.generated_image_item
            image_item.image = GeneratedImage(id=item.id, url=url)
            ctx.generated_image_item = None
            return [ThreadItemDoneEvent(item=image_item)]
        return []

    async def message_item(
        self, item: ResponseOutputMessage, *, last: bool = False
    ) -> AssistantMessageItem:
        return AssistantMessageItem(
            id=self.message_id(item.id, last=last),
            thread_id=self.ctx.thread.id,
            created_at=now(),
            content=[await _convert_content(c, self.converter) for c in item.content],
        )

    async def partial_image(
        self, data: ResponseImageGenCallPartialImageEvent
    ) -> list[ThreadStreamEvent]:
        image_item = self.ctx.generated_image_item
        if image_item is None:
            return []
        url = await self.converter.base64_image_to_url(
            image_id=data.item_id,
            base64_image=data.partial_image_b64,
            partial_image_index=data.partial_image_index,
        )
        image_item.image = GeneratedImage(id=data.item_id, url=url)
        progress = self.converter.partial_image_index_to_progress(data.partial_image_index)
        update = GeneratedImageUpdated(image=image_item.image, progress=progress)
        return [self.updated(image_item.id, update)]

    def is_streamed_thought(self, item_id: str, summary_index: int) -> bool:
        workflow = self.ctx.workflow_item
        thought = self.thought
        return (
            workflow is not None
            and thought is not None
            and thought.item_id == item_id
            and thought.index == summary_index
            and any(task is thought.task for task in workflow.workflow.tasks)
        )

    def summary_delta(
        self, data: ResponseReasoningSummaryTextDeltaEvent
    ) -> list[ThreadStreamEvent]:
        workflow = self.ctx.workflow_item
        if workflow is None:
            return []
        tasks = workflow.workflow.tasks
        if workflow.workflow.type == "reasoning" and not tasks:
            # The first thought of a reasoning workflow streams so it shows early.
            task = ThoughtTask(content=data.delta)
            self.thought = StreamingThoughtTracker(
                item_id=data.item_id, index=data.summary_index, task=task
            )
            tasks.append(self.thought.task)
            return [self.updated(workflow.id, WorkflowTaskAdded(task=tasks[0], task_index=0))]
        if self.thought is None or not self.is_streamed_thought(data.item_id, data.summary_index):
            return []
        self.thought.task.content += data.delta
        index = self.task_index(tasks, self.thought.task)
        return [self.updated(workflow.id, WorkflowTaskUpdated(task=tasks[index], task_index=index))]

    def summary_done(self, data: ResponseReasoningSummaryTextDoneEvent) -> list[ThreadStreamEvent]:
        workflow = self.ctx.workflow_item
        if workflow is None:
            return []
        tasks = workflow.workflow.tasks
        if self.thought is not None and self.is_streamed_thought(data.item_id, data.summary_index):
            self.thought.task.content = data.text
            index = self.task_index(tasks, self.thought.task)
            self.thought = None
            update: Any = WorkflowTaskUpdated(task=tasks[index], task_index=index)
        else:
            tasks.append(ThoughtTask(content=data.text))
            update = WorkflowTaskAdded(task=tasks[-1], task_index=len(tasks) - 1)
        return [self.updated(workflow.id, update)]

    @staticmethod
    def task_index(tasks: list[Task], task: Task) -> int:
        return next(i for i, candidate in enumerate(tasks) if candidate is task)

    def client_tool_call_item(self) -> ClientToolCallItem | None:
        ctx = self.ctx
        call = ctx.client_tool_call
        if call is None:
            return None
        return ClientToolCallItem(
            id=self.tool_call_item_id or ctx.generate_id("tool_call"),
            thread_id=ctx.thread.id,
            created_at=now(),
            call_id=self.tool_call_id or ctx.generate_id("tool_call"),
            name=call.name,
            arguments=call.arguments,
        )


# Assistant-message updates the translator builds from new objects on every event and
# never touches again: they need no snapshot (text deltas are most of a stream).
_FRESH_UPDATES = frozenset(
    {
        AssistantMessageContentPartTextDelta,
        AssistantMessageContentPartAdded,
        AssistantMessageContentPartDone,
        AssistantMessageContentPartAnnotationAdded,
    }
)


def is_fresh(event: ThreadStreamEvent) -> bool:
    """Whether a translated event holds only objects made for it (no live item)."""
    if type(event) is ThreadItemUpdatedEvent:
        return type(event.update) in _FRESH_UPDATES
    if type(event) is ThreadItemAddedEvent or type(event) is ThreadItemDoneEvent:
        return type(event.item) is AssistantMessageItem
    return False


def drain(queue: asyncio.Queue[ThreadStreamEvent]) -> list[ThreadStreamEvent]:
    events: list[ThreadStreamEvent] = []
    while not queue.empty():
        events.append(queue.get_nowait())
    return events
