"""Protocol objects of ChatKit: threads, items, stream events and requests (protocol §2-§5).

Field names are the wire keys. Optional fields default to `None` and are left out of
serialized output; turning objects into wire bytes is done in one place,
`chatkit_core._serialization`.

Conveniences beyond the wire shape:

* `UserMessageItem.text` and `AssistantMessageItem.text` return the message as plain text
  (user tags rendered as `@<tag text>`); `content` keeps the list of parts.
* `UserMessageTagContent.data` may be omitted by clients and then defaults to `{}`.
* `Thread.items` defaults to an empty page.
* Every `created_at` (and `ThreadMetadata.updated_at`) is timezone-aware: a naive value,
  as `datetime.now()` makes, is read as local time and converted to UTC, both when a
  record is built and when the field is assigned. Stores therefore only see aware values,
  and `datetime.now() - item.created_at` must be written `datetime.now(UTC) - ...`.
* Server-private fields, never sent to clients: `ThreadMetadata.metadata` (sent as `{}`),
  `ThreadMetadata.updated_at`, `UserMessageItem.metadata` and attachment `metadata`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AnyUrl,
    BaseModel,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from typing_extensions import TypeIs

from ._time import aware_utc
from .actions import Action
from .errors import ErrorCode
from .icons import IconName
from .widgets import WidgetComponent, WidgetRoot

__all__ = [
    "ActiveStatus",
    "Annotation",
    "AssistantMessageContent",
    "AssistantMessageContentPartAdded",
    "AssistantMessageContentPartAnnotationAdded",
    "AssistantMessageContentPartDone",
    "AssistantMessageContentPartTextDelta",
    "AssistantMessageItem",
    "Attachment",
    "AttachmentBase",
    "AttachmentCreateParams",
    "AttachmentDeleteParams",
    "AttachmentUploadDescriptor",
    "AttachmentsCreateReq",
    "AttachmentsDeleteReq",
    "AudioInput",
    "BaseReq",
    "BaseTask",
    "ChatKitReq",
    "ClientEffectEvent",
    "ClientToolCallItem",
    "ClosedStatus",
    "CustomSummary",
    "CustomTask",
    "DurationSummary",
    "EndOfTurnItem",
    "EntitySource",
    "ErrorEvent",
    "FeedbackKind",
    "FileAttachment",
    "FileSource",
    "FileTask",
    "GeneratedImage",
    "GeneratedImageItem",
    "GeneratedImageUpdated",
    "HiddenContextItem",
    "ImageAttachment",
    "ImageTask",
    "InferenceOptions",
    "InputTranscribeParams",
    "InputTranscribeReq",
    "ItemFeedbackParams",
    "ItemsFeedbackReq",
    "ItemsListParams",
    "ItemsListReq",
    "LockedStatus",
    "NonStreamingReq",
    "NoticeEvent",
    "Page",
    "ProgressUpdateEvent",
    "SDKHiddenContextItem",
    "SearchTask",
    "Source",
    "SourceBase",
    "StreamOptions",
    "StreamOptionsEvent",
    "StreamingReq",
    "StructuredInput",
    "StructuredInputAnswer",
    "StructuredInputAnswerSubmission",
    "StructuredInputBase",
    "StructuredInputFreeform",
    "StructuredInputItem",
    "StructuredInputMultipleChoice",
    "StructuredInputMultipleChoiceOption",
    "StructuredInputSubmission",
    "SyncCustomActionResponse",
    "Task",
    "TaskItem",
    "ThoughtTask",
    "Thread",
    "ThreadAddClientToolOutputParams",
    "ThreadAddStructuredInputParams",
    "ThreadAddUserMessageParams",
    "ThreadCreateParams",
    "ThreadCreatedEvent",
    "ThreadCustomActionParams",
    "ThreadDeleteParams",
    "ThreadGetByIdParams",
    "ThreadItem",
    "ThreadItemAddedEvent",
    "ThreadItemBase",
    "ThreadItemDoneEvent",
    "ThreadItemRemovedEvent",
    "ThreadItemReplacedEvent",
    "ThreadItemUpdate",
    "ThreadItemUpdated",
    "ThreadItemUpdatedEvent",
    "ThreadListParams",
    "ThreadMetadata",
    "ThreadRetryAfterItemParams",
    "ThreadStatus",
    "ThreadStreamEvent",
    "ThreadUpdateParams",
    "ThreadUpdatedEvent",
    "ThreadsAddClientToolOutputReq",
    "ThreadsAddStructuredInputReq",
    "ThreadsAddUserMessageReq",
    "ThreadsCreateReq",
    "ThreadsCustomActionReq",
    "ThreadsDeleteReq",
    "ThreadsGetByIdReq",
    "ThreadsListReq",
    "ThreadsRetryAfterItemReq",
    "ThreadsSyncCustomActionReq",
    "ThreadsUpdateReq",
    "ToolChoice",
    "TranscriptionResult",
    "URLSource",
    "UserMessageContent",
    "UserMessageInput",
    "UserMessageItem",
    "UserMessageTagContent",
    "UserMessageTextContent",
    "WidgetComponentUpdated",
    "WidgetItem",
    "WidgetRootUpdated",
    "WidgetStreamingTextValueDelta",
    "Workflow",
    "WorkflowItem",
    "WorkflowSummary",
    "WorkflowTaskAdded",
    "WorkflowTaskUpdated",
    "is_streaming_req",
]

T = TypeVar("T")

_EXCLUDE_METADATA = "exclude_metadata"
"""Serialization-context flag: leave out server-private `metadata` (protocol §1.5)."""


def _hides_metadata(info: SerializationInfo) -> bool:
    context = info.context
    return isinstance(context, dict) and bool(context.get(_EXCLUDE_METADATA))


_Timestamp = Annotated[datetime, AfterValidator(aware_utc)]
"""A protocol timestamp: naive values become aware UTC (read as local time)."""

_TIMESTAMP_FIELDS = frozenset({"created_at", "updated_at"})


class _AwareTimestamps(BaseModel):
    """Keeps timestamp fields aware when they are assigned after construction."""

    if not TYPE_CHECKING:  # a visible __setattr__ would make mypy accept any attribute

        def __setattr__(self, name: str, value: Any) -> None:
            if name in _TIMESTAMP_FIELDS and isinstance(value, datetime):
                value = aware_utc(value)
            super().__setattr__(name, value)


class Page(BaseModel, Generic[T]):
    """One page of a list; `after` is the cursor for the next page when `has_more`."""

    data: list[T] = []
    has_more: bool = False
    after: str | None = None


FeedbackKind = Literal["positive", "negative"]


# ---------------------------------------------------------------------------
# Sources and annotations (§2.5)
# ---------------------------------------------------------------------------


class SourceBase(BaseModel):
    """Fields shared by every source."""

    title: str
    description: str | None = None
    timestamp: str | None = None
    group: str | None = None


class FileSource(SourceBase):
    """A cited file."""

    type: Literal["file"] = "file"
    filename: str


class URLSource(SourceBase):
    """A cited web page."""

    type: Literal["url"] = "url"
    url: str
    attribution: str | None = None


class EntitySource(SourceBase):
    """A cited integrator entity; `data` is handed to client entity callbacks."""

    type: Literal["entity"] = "entity"
    id: str
    icon: IconName | None = None
    label: str | None = None
    inline_label: str | None = None
    interactive: bool = False
    data: dict[str, Any] = Field(default_factory=dict)
    preview: Literal["lazy"] | None = Field(default=None, deprecated=True)
    """Ignored by clients; kept so old payloads still validate."""


Source = Annotated[URLSource | FileSource | EntitySource, Field(discriminator="type")]


class Annotation(BaseModel):
    """A citation of `source` at character offset `index` of the content text."""

    type: Literal["annotation"] = "annotation"
    source: URLSource | FileSource | EntitySource
    index: int | None = None


# ---------------------------------------------------------------------------
# Message content and input (§2.3, §3)
# ---------------------------------------------------------------------------


class AssistantMessageContent(BaseModel):
    """One text part of an assistant message."""

    annotations: list[Annotation] = Field(default_factory=list)
    text: str
    type: Literal["output_text"] = "output_text"


class UserMessageTextContent(BaseModel):
    """Plain text typed by the user."""

    type: Literal["input_text"] = "input_text"
    text: str


class UserMessageTagContent(BaseModel):
    """An @-mention tag picked in the composer."""

    type: Literal["input_tag"] = "input_tag"
    id: str
    text: str
    data: dict[str, Any] = Field(default_factory=dict)
    group: str | None = None
    interactive: bool = False


UserMessageContent = Annotated[
    UserMessageTextContent | UserMessageTagContent, Field(discriminator="type")
]


class ToolChoice(BaseModel):
    """The composer tool the user picked."""

    id: str


class InferenceOptions(BaseModel):
    """Tool and model the user picked in the composer."""

    tool_choice: ToolChoice | None = None
    model: str | None = None


class UserMessageInput(BaseModel):
    """A user message as submitted by the client (attachments are ids)."""

    content: list[UserMessageContent]
    attachments: list[str]
    quoted_text: str | None = None
    inference_options: InferenceOptions


# ---------------------------------------------------------------------------
# Attachments (§2.4)
# ---------------------------------------------------------------------------


class AttachmentUploadDescriptor(BaseModel):
    """Where and how the client uploads the bytes of a two-phase upload."""

    url: AnyUrl
    method: Literal["POST", "PUT"]
    headers: dict[str, str] = Field(default_factory=dict)


class AttachmentBase(BaseModel):
    """Fields shared by attachments.

    `metadata` is server-private: dumps made with `context={"exclude_metadata": True}`
    (as every wire dump is) leave it out.
    """

    id: str
    name: str
    mime_type: str
    upload_descriptor: AttachmentUploadDescriptor | None = None
    thread_id: str | None = None
    metadata: dict[str, Any] | None = None

    @model_serializer(mode="wrap")
    def _serialize_attachment(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        data = handler(self)
        if isinstance(data, dict) and _hides_metadata(info):
            data.pop("metadata", None)
        return data


class FileAttachment(AttachmentBase):
    """An attached file."""

    type: Literal["file"] = "file"


class ImageAttachment(AttachmentBase):
    """An attached image with a thumbnail URL."""

    type: Literal["image"] = "image"
    preview_url: AnyUrl


Attachment = Annotated[FileAttachment | ImageAttachment, Field(discriminator="type")]


class AttachmentCreateParams(BaseModel):
    """Params of `attachments.create`."""

    name: str
    size: int
    mime_type: str


# ---------------------------------------------------------------------------
# Tasks and workflows (§2.6)
# ---------------------------------------------------------------------------


class BaseTask(BaseModel):
    """Fields shared by tasks; `status_indicator` only matters inside a workflow."""

    status_indicator: Literal["none", "loading", "complete"] = "none"


class CustomTask(BaseTask):
    """A task with free title/content."""

    type: Literal["custom"] = "custom"
    title: str | None = None
    icon: IconName | None = None
    content: str | None = None


class SearchTask(BaseTask):
    """A web search and the pages it found."""

    type: Literal["web_search"] = "web_search"
    title: str | None = None
    title_query: str | None = None
    queries: list[str] = Field(default_factory=list)
    sources: list[URLSource] = Field(default_factory=list)


class ThoughtTask(BaseTask):
    """A piece of visible reasoning."""

    type: Literal["thought"] = "thought"
    title: str | None = None
    content: str


class FileTask(BaseTask):
    """Files consulted."""

    type: Literal["file"] = "file"
    title: str | None = None
    sources: list[FileSource] = Field(default_factory=list)


class ImageTask(BaseTask):
    """Image work."""

    type: Literal["image"] = "image"
    title: str | None = None


Task = Annotated[
    CustomTask | SearchTask | ThoughtTask | FileTask | ImageTask, Field(discriminator="type")
]


class CustomSummary(BaseModel):
    """A workflow summary with a title."""

    title: str
    icon: IconName | None = None


class DurationSummary(BaseModel):
    """A workflow summary giving the elapsed seconds."""

    duration: int


WorkflowSummary = CustomSummary | DurationSummary
"""Untagged: told apart by their keys."""


class Workflow(BaseModel):
    """A group of tasks shown as one collapsible block."""

    type: Literal["custom", "reasoning"]
    tasks: list[Task]
    summary: WorkflowSummary | None = None
    expanded: bool = False


# ---------------------------------------------------------------------------
# Structured input (§3, §5.4)
# ---------------------------------------------------------------------------


class StructuredInputAnswer(BaseModel):
    """The recorded answer to one question."""

    values: list[str] = Field(default_factory=list)
    skipped: bool = False


class StructuredInputBase(BaseModel):
    """Fields shared by questions; `id` is stable per question."""

    id: str
    question: str
    answer: StructuredInputAnswer | None = None


class StructuredInputMultipleChoiceOption(BaseModel):
    """One suggested choice."""

    value: str


class StructuredInputMultipleChoice(StructuredInputBase):
    """A question answered by picking one (or, if `multiple`, several) values."""

    type: Literal["multiple_choice"] = "multiple_choice"
    options: list[StructuredInputMultipleChoiceOption]
    multiple: bool = False


class StructuredInputFreeform(StructuredInputBase):
    """A question answered with free text."""

    type: Literal["freeform"] = "freeform"
    description: str | None = None


StructuredInput = Annotated[
    StructuredInputMultipleChoice | StructuredInputFreeform, Field(discriminator="type")
]


class StructuredInputAnswerSubmission(BaseModel):
    """The client's answer to one question."""

    values: list[str] = Field(default_factory=list)
    skipped: bool = False


class StructuredInputSubmission(BaseModel):
    """The client's answers to a pending structured-input item, keyed by question id."""

    status: Literal["answered", "skipped"] = "answered"
    answers: dict[str, StructuredInputAnswerSubmission] = Field(default_factory=dict)


# ---------------------------------------------------------------------------
# Thread items (§3)
# ---------------------------------------------------------------------------


class ThreadItemBase(_AwareTimestamps):
    """Fields shared by every thread item (`created_at` is always timezone-aware)."""

    id: str
    thread_id: str
    created_at: _Timestamp


class UserMessageItem(ThreadItemBase):
    """A message from the user, with attachments embedded in full.

    `metadata` is server-private (integration data kept by the store): dumps made with
    `context={"exclude_metadata": True}` (as every wire dump is) leave it out.
    """

    type: Literal["user_message"] = "user_message"
    content: list[UserMessageContent]
    attachments: list[Attachment] = Field(default_factory=list)
    quoted_text: str | None = None
    inference_options: InferenceOptions
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_serializer(mode="wrap")
    def _serialize_user_message(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        data = handler(self)
        if isinstance(data, dict) and _hides_metadata(info):
            data.pop("metadata", None)
        return data

    @property
    def text(self) -> str:
        """Return the message as plain text, each tag written as `@<tag text>`."""
        return "".join(
            part.text if part.type == "input_text" else f"@{part.text}" for part in self.content
        )


class AssistantMessageItem(ThreadItemBase):
    """A message from the assistant."""

    type: Literal["assistant_message"] = "assistant_message"
    content: list[AssistantMessageContent]

    @property
    def text(self) -> str:
        """Return the text of all content parts, concatenated."""
        return "".join(part.text for part in self.content)


class ClientToolCallItem(ThreadItemBase):
    """A tool call the client runs; `output` is set once it answered."""

    type: Literal["client_tool_call"] = "client_tool_call"
    status: Literal["pending", "completed"] = "pending"
    call_id: str
    name: str
    arguments: dict[str, Any]
    output: Any | None = None


class WidgetItem(ThreadItemBase):
    """A widget; `copy_text` is what the copy button copies."""

    type: Literal["widget"] = "widget"
    widget: WidgetRoot
    copy_text: str | None = None


class GeneratedImage(BaseModel):
    """An image produced by the model."""

    id: str
    url: str


class GeneratedImageItem(ThreadItemBase):
    """A generated image; `image` is absent while it is being generated."""

    type: Literal["generated_image"] = "generated_image"
    image: GeneratedImage | None = None


class StructuredInputItem(ThreadItemBase):
    """Questions the user answers through the structured-input UI."""

    type: Literal["structured_input"] = "structured_input"
    status: Literal["pending", "answered", "skipped"] = "pending"
    inputs: list[StructuredInput]


class TaskItem(ThreadItemBase):
    """A single task shown on its own."""

    type: Literal["task"] = "task"
    task: Task


class WorkflowItem(ThreadItemBase):
    """A workflow block."""

    type: Literal["workflow"] = "workflow"
    workflow: Workflow


class EndOfTurnItem(ThreadItemBase):
    """Marks the end of the assistant's turn."""

    type: Literal["end_of_turn"] = "end_of_turn"


class HiddenContextItem(ThreadItemBase):
    """Integrator context for the model; stored but never sent to the client."""

    type: Literal["hidden_context_item"] = "hidden_context_item"
    content: Any


class SDKHiddenContextItem(ThreadItemBase):
    """Context the SDK keeps for the model (e.g. a cancellation note); never sent."""

    type: Literal["sdk_hidden_context"] = "sdk_hidden_context"
    content: str


ThreadItem = Annotated[
    UserMessageItem
    | AssistantMessageItem
    | ClientToolCallItem
    | WidgetItem
    | GeneratedImageItem
    | StructuredInputItem
    | WorkflowItem
    | TaskItem
    | HiddenContextItem
    | SDKHiddenContextItem
    | EndOfTurnItem,
    Field(discriminator="type"),
]


# ---------------------------------------------------------------------------
# Threads (§2.2)
# ---------------------------------------------------------------------------


class ActiveStatus(BaseModel):
    """The thread accepts input."""

    type: Literal["active"] = Field(default="active", frozen=True)


class LockedStatus(BaseModel):
    """The composer is shown disabled, with `reason` as placeholder."""

    type: Literal["locked"] = Field(default="locked", frozen=True)
    reason: str | None = None


class ClosedStatus(BaseModel):
    """The composer is replaced by a banner."""

    type: Literal["closed"] = Field(default="closed", frozen=True)
    reason: str | None = None


ThreadStatus = Annotated[ActiveStatus | LockedStatus | ClosedStatus, Field(discriminator="type")]


class ThreadMetadata(_AwareTimestamps):
    """A thread without its items, as the store keeps it.

    `metadata` and `updated_at` are server-private: dumps made with
    `context={"exclude_metadata": True}` (as every wire dump is) write `metadata` as `{}`
    and leave `updated_at` out. The server sets `updated_at` to now whenever it saves the
    thread; a store may keep it or not.
    """

    title: str | None = None
    id: str
    created_at: _Timestamp
    status: ThreadStatus = Field(default_factory=ActiveStatus)
    allowed_image_domains: list[str] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    updated_at: _Timestamp | None = None

    @model_serializer(mode="wrap")
    def _serialize_thread(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        data = handler(self)
        if isinstance(data, dict) and _hides_metadata(info):
            if "metadata" in data:
                data["metadata"] = {}
            data.pop("updated_at", None)
        return data


class Thread(ThreadMetadata):
    """A thread with a page of its items, as sent to the client."""

    items: Page[ThreadItem] = Field(default_factory=lambda: Page[ThreadItem]())


# ---------------------------------------------------------------------------
# Item updates (§4.1)
# ---------------------------------------------------------------------------


class AssistantMessageContentPartAdded(BaseModel):
    """A content part was added at `content_index`."""

    type: Literal["assistant_message.content_part.added"] = "assistant_message.content_part.added"
    content_index: int
    content: AssistantMessageContent


class AssistantMessageContentPartTextDelta(BaseModel):
    """Text was appended to the part at `content_index`."""

    type: Literal["assistant_message.content_part.text_delta"] = (
        "assistant_message.content_part.text_delta"
    )
    content_index: int
    delta: str


class AssistantMessageContentPartAnnotationAdded(BaseModel):
    """An annotation was inserted into the part at `content_index`."""

    type: Literal["assistant_message.content_part.annotation_added"] = (
        "assistant_message.content_part.annotation_added"
    )
    content_index: int
    annotation_index: int
    annotation: Annotation


class AssistantMessageContentPartDone(BaseModel):
    """The part at `content_index` is final."""

    type: Literal["assistant_message.content_part.done"] = "assistant_message.content_part.done"
    content_index: int
    content: AssistantMessageContent


class WidgetStreamingTextValueDelta(BaseModel):
    """Text was appended to the `Text`/`Markdown` node `component_id`."""

    type: Literal["widget.streaming_text.value_delta"] = "widget.streaming_text.value_delta"
    component_id: str
    delta: str
    done: bool


class WidgetRootUpdated(BaseModel):
    """The whole widget was replaced."""

    type: Literal["widget.root.updated"] = "widget.root.updated"
    widget: WidgetRoot


class WidgetComponentUpdated(BaseModel):
    """The node `component_id` was replaced."""

    type: Literal["widget.component.updated"] = "widget.component.updated"
    component_id: str
    component: WidgetComponent


class WorkflowTaskAdded(BaseModel):
    """A task was appended to the workflow."""

    type: Literal["workflow.task.added"] = "workflow.task.added"
    task_index: int
    task: Task


class WorkflowTaskUpdated(BaseModel):
    """The task at `task_index` was replaced."""

    type: Literal["workflow.task.updated"] = "workflow.task.updated"
    task_index: int
    task: Task


class GeneratedImageUpdated(BaseModel):
    """A (partial) image is available; `progress` is 0..1."""

    type: Literal["generated_image.updated"] = "generated_image.updated"
    image: GeneratedImage
    progress: float | None = None


ThreadItemUpdate = (
    AssistantMessageContentPartAdded
    | AssistantMessageContentPartTextDelta
    | AssistantMessageContentPartAnnotationAdded
    | AssistantMessageContentPartDone
    | WidgetStreamingTextValueDelta
    | WidgetComponentUpdated
    | WidgetRootUpdated
    | WorkflowTaskAdded
    | WorkflowTaskUpdated
    | GeneratedImageUpdated
)


# ---------------------------------------------------------------------------
# Stream events (§4)
# ---------------------------------------------------------------------------


class ThreadCreatedEvent(BaseModel):
    """A thread was created."""

    type: Literal["thread.created"] = "thread.created"
    thread: Thread


class ThreadUpdatedEvent(BaseModel):
    """The thread's metadata changed."""

    type: Literal["thread.updated"] = "thread.updated"
    thread: Thread


class ThreadItemAddedEvent(BaseModel):
    """An item started streaming (not stored yet)."""

    type: Literal["thread.item.added"] = "thread.item.added"
    item: ThreadItem


class ThreadItemUpdatedEvent(BaseModel):
    """An update to a streaming item (never stored)."""

    type: Literal["thread.item.updated"] = "thread.item.updated"
    item_id: str
    update: ThreadItemUpdate


ThreadItemUpdated = ThreadItemUpdatedEvent
"""Older name of `ThreadItemUpdatedEvent`."""


class ThreadItemDoneEvent(BaseModel):
    """An item is complete (and stored)."""

    type: Literal["thread.item.done"] = "thread.item.done"
    item: ThreadItem


class ThreadItemRemovedEvent(BaseModel):
    """An item was removed."""

    type: Literal["thread.item.removed"] = "thread.item.removed"
    item_id: str


class ThreadItemReplacedEvent(BaseModel):
    """An item was replaced as a whole (same id)."""

    type: Literal["thread.item.replaced"] = "thread.item.replaced"
    item: ThreadItem


class StreamOptions(BaseModel):
    """Options of the stream; `allow_cancel` lets the client offer a Stop button."""

    allow_cancel: bool


class StreamOptionsEvent(BaseModel):
    """The first event of every respond pipeline."""

    type: Literal["stream_options"] = "stream_options"
    stream_options: StreamOptions


class ProgressUpdateEvent(BaseModel):
    """A transient status line."""

    type: Literal["progress_update"] = "progress_update"
    icon: IconName | None = None
    text: str


class ClientEffectEvent(BaseModel):
    """A fire-and-forget call of the client's effect handler `name`."""

    type: Literal["client_effect"] = "client_effect"
    name: str
    data: dict[str, Any] = Field(default_factory=dict)


class ErrorEvent(BaseModel):
    """A failure; `message` is shown for `code="custom"`."""

    type: Literal["error"] = "error"
    code: ErrorCode | Literal["custom"] = "custom"
    message: str | None = None
    allow_retry: bool = False


class NoticeEvent(BaseModel):
    """A user-facing notice; `message` is Markdown."""

    type: Literal["notice"] = "notice"
    level: Literal["info", "warning", "danger"]
    message: str
    title: str | None = None


ThreadStreamEvent = Annotated[
    ThreadCreatedEvent
    | ThreadUpdatedEvent
    | ThreadItemDoneEvent
    | ThreadItemAddedEvent
    | ThreadItemUpdatedEvent
    | ThreadItemRemovedEvent
    | ThreadItemReplacedEvent
    | StreamOptionsEvent
    | ProgressUpdateEvent
    | ClientEffectEvent
    | ErrorEvent
    | NoticeEvent,
    Field(discriminator="type"),
]


class SyncCustomActionResponse(BaseModel):
    """Result of `threads.sync_custom_action`: `{}` or `{"updated_item": ...}`."""

    updated_item: ThreadItem | None = None


# ---------------------------------------------------------------------------
# Request params (§5)
# ---------------------------------------------------------------------------


class ThreadCreateParams(BaseModel):
    """Params of `threads.create`."""

    input: UserMessageInput


class ThreadAddUserMessageParams(BaseModel):
    """Params of `threads.add_user_message`."""

    input: UserMessageInput
    thread_id: str


class ThreadAddClientToolOutputParams(BaseModel):
    """Params of `threads.add_client_tool_output`; `result` is any JSON."""

    thread_id: str
    result: Any


class ThreadAddStructuredInputParams(BaseModel):
    """Params of `threads.add_structured_input`."""

    thread_id: str
    item_id: str
    input: StructuredInputSubmission


class ThreadRetryAfterItemParams(BaseModel):
    """Params of `threads.retry_after_item`; `item_id` names a user message."""

    thread_id: str
    item_id: str


class ThreadCustomActionParams(BaseModel):
    """Params of `threads.custom_action` and `threads.sync_custom_action`."""

    thread_id: str
    item_id: str | None = None
    action: Action[str, Any]


class ThreadGetByIdParams(BaseModel):
    """Params of `threads.get_by_id`."""

    thread_id: str


class ThreadListParams(BaseModel):
    """Params of `threads.list`; a null or zero `limit` means the default."""

    limit: int | None = None
    order: Literal["asc", "desc"] = "desc"
    after: str | None = None


class ThreadUpdateParams(BaseModel):
    """Params of `threads.update`."""

    thread_id: str
    title: str


class ThreadDeleteParams(BaseModel):
    """Params of `threads.delete`."""

    thread_id: str


class ItemsListParams(BaseModel):
    """Params of `items.list` (newest first by default)."""

    thread_id: str
    limit: int | None = None
    order: Literal["asc", "desc"] = "desc"
    after: str | None = None


class ItemFeedbackParams(BaseModel):
    """Params of `items.feedback`."""

    thread_id: str
    item_ids: list[str]
    kind: FeedbackKind


class AttachmentDeleteParams(BaseModel):
    """Params of `attachments.delete`."""

    attachment_id: str


class InputTranscribeParams(BaseModel):
    """Params of `input.transcribe`: base64 audio and its raw MIME type."""

    audio_base64: str
    mime_type: str


class AudioInput(BaseModel):
    """Decoded audio handed to the transcriber."""

    data: bytes
    mime_type: str

    @property
    def media_type(self) -> str:
        """Return the MIME type without parameters (`audio/webm;codecs=opus` → `audio/webm`)."""
        return self.mime_type.split(";", 1)[0]


class TranscriptionResult(BaseModel):
    """Result of `input.transcribe`."""

    text: str


# ---------------------------------------------------------------------------
# Requests (§1.2, §1.3)
# ---------------------------------------------------------------------------


class BaseReq(BaseModel):
    """Fields shared by every request; `metadata` is free-form integration data."""

    metadata: dict[str, Any] = Field(default_factory=dict)


class ThreadsCreateReq(BaseReq):
    """Create a thread from a user message (streaming)."""

    type: Literal["threads.create"] = "threads.create"
    params: ThreadCreateParams


class ThreadsAddUserMessageReq(BaseReq):
    """Add a user message to a thread (streaming)."""

    type: Literal["threads.add_user_message"] = "threads.add_user_message"
    params: ThreadAddUserMessageParams


class ThreadsAddClientToolOutputReq(BaseReq):
    """Answer the pending client tool call (streaming)."""

    type: Literal["threads.add_client_tool_output"] = "threads.add_client_tool_output"
    params: ThreadAddClientToolOutputParams


class ThreadsAddStructuredInputReq(BaseReq):
    """Answer a pending structured-input item (streaming)."""

    type: Literal["threads.add_structured_input"] = "threads.add_structured_input"
    params: ThreadAddStructuredInputParams


class ThreadsRetryAfterItemReq(BaseReq):
    """Regenerate the response to a user message (streaming)."""

    type: Literal["threads.retry_after_item"] = "threads.retry_after_item"
    params: ThreadRetryAfterItemParams


class ThreadsCustomActionReq(BaseReq):
    """Run a widget action (streaming)."""

    type: Literal["threads.custom_action"] = "threads.custom_action"
    params: ThreadCustomActionParams


class ThreadsSyncCustomActionReq(BaseReq):
    """Run a widget action and return at most one updated item (JSON)."""

    type: Literal["threads.sync_custom_action"] = "threads.sync_custom_action"
    params: ThreadCustomActionParams


class ThreadsGetByIdReq(BaseReq):
    """Fetch a thread with its oldest items (JSON)."""

    type: Literal["threads.get_by_id"] = "threads.get_by_id"
    params: ThreadGetByIdParams


class ThreadsListReq(BaseReq):
    """List threads (JSON)."""

    type: Literal["threads.list"] = "threads.list"
    params: ThreadListParams


class ThreadsUpdateReq(BaseReq):
    """Rename a thread (JSON)."""

    type: Literal["threads.update"] = "threads.update"
    params: ThreadUpdateParams


class ThreadsDeleteReq(BaseReq):
    """Delete a thread and its items (JSON)."""

    type: Literal["threads.delete"] = "threads.delete"
    params: ThreadDeleteParams


class ItemsListReq(BaseReq):
    """List a thread's items (JSON)."""

    type: Literal["items.list"] = "items.list"
    params: ItemsListParams


class ItemsFeedbackReq(BaseReq):
    """Record thumbs up/down on items (JSON)."""

    type: Literal["items.feedback"] = "items.feedback"
    params: ItemFeedbackParams


class AttachmentsCreateReq(BaseReq):
    """Register an attachment before upload (JSON)."""

    type: Literal["attachments.create"] = "attachments.create"
    params: AttachmentCreateParams


class AttachmentsDeleteReq(BaseReq):
    """Delete an attachment (JSON)."""

    type: Literal["attachments.delete"] = "attachments.delete"
    params: AttachmentDeleteParams


class InputTranscribeReq(BaseReq):
    """Transcribe dictated audio (JSON)."""

    type: Literal["input.transcribe"] = "input.transcribe"
    params: InputTranscribeParams


StreamingReq = (
    ThreadsCreateReq
    | ThreadsAddUserMessageReq
    | ThreadsAddClientToolOutputReq
    | ThreadsAddStructuredInputReq
    | ThreadsRetryAfterItemReq
    | ThreadsCustomActionReq
)
"""Requests answered with an SSE stream."""

NonStreamingReq = (
    ThreadsGetByIdReq
    | ThreadsListReq
    | ItemsListReq
    | ItemsFeedbackReq
    | AttachmentsCreateReq
    | AttachmentsDeleteReq
    | ThreadsUpdateReq
    | ThreadsDeleteReq
    | InputTranscribeReq
    | ThreadsSyncCustomActionReq
)
"""Requests answered with one JSON body."""

ChatKitReq = Annotated[StreamingReq | NonStreamingReq, Field(discriminator="type")]
"""Any request, told apart by `type`."""

_STREAMING_REQ_TYPES = (
    ThreadsCreateReq,
    ThreadsAddUserMessageReq,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsRetryAfterItemReq,
    ThreadsCustomActionReq,
)


def is_streaming_req(request: ChatKitReq) -> TypeIs[StreamingReq]:
    """Return whether `request` is answered with an SSE stream."""
    return isinstance(request, _STREAMING_REQ_TYPES)
