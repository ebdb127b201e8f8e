"""Bridge between openai-agents runs and ChatKit threads (protocol §7).

`stream_agent_response` turns a streamed `Runner.run_streamed` result into thread stream
events; tools reach the thread through `AgentContext` (widgets, workflows, progress, client
tool calls). `ThreadItemConverter` turns stored thread items back into model input.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any, Generic, TypeVar, cast

from agents import (
    InputGuardrailTripwireTriggered,
    OutputGuardrailTripwireTriggered,
    RunResultStreaming,
    StreamEvent,
)
from pydantic import BaseModel, ConfigDict, PrivateAttr, SkipValidation

from chatkit_core._agents_events import EventQueue, Queued, interleave
from chatkit_core._agents_input import ThreadItemConverter, simple_to_agent_input
from chatkit_core._agents_stream import (
    DEFAULT_RESPONSE_STREAM_CONVERTER,
    ResponseStreamConverter,
    RunTranslator,
    StreamingThoughtTracker,
    drain,
    elapsed_seconds,
    is_fresh,
    now,
)
from chatkit_core._copying import copy_record
from chatkit_core._server_widgets import stream_widget as _stream_widget
from chatkit_core.store import Store, StoreItemType
from chatkit_core.types import (
    DurationSummary,
    GeneratedImageItem,
    Task,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    Workflow,
    WorkflowItem,
    WorkflowSummary,
    WorkflowTaskAdded,
    WorkflowTaskUpdated,
)
from chatkit_core.widgets import Markdown, Text, WidgetRoot

__all__ = [
    "AgentContext",
    "ClientToolCall",
    "ResponseStreamConverter",
    "StreamingThoughtTracker",
    "ThreadItemConverter",
    "accumulate_text",
    "simple_to_agent_input",
    "stream_agent_response",
]

TContext = TypeVar("TContext")
TWidget = TypeVar("TWidget", bound=Markdown | Text)


class ClientToolCall(BaseModel):
    """A request, made by a server-side tool, to run tool `name` in the client."""

    name: str
    arguments: dict[str, Any]


class AgentContext(BaseModel, Generic[TContext]):
    """Run context handed to tools: the thread, the store and ways to add to the stream.

    Pass it as `context=` to `Runner.run_streamed`; tools get it as `ctx.context`. Events
    sent through it are merged into the output of `stream_agent_response` as soon as
    possible.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    thread: ThreadMetadata
    store: Annotated[Store[TContext], SkipValidation]
    request_context: TContext
    previous_response_id: str | None = None
    client_tool_call: ClientToolCall | None = None
    workflow_item: WorkflowItem | None = None
    generated_image_item: GeneratedImageItem | None = None
    _events: EventQueue[ThreadStreamEvent] = PrivateAttr(default_factory=EventQueue)

    def generate_id(self, type: StoreItemType, thread: ThreadMetadata | None = None) -> str:
        """Return a new id for an item of `type` from the store's id generators."""
        if type == "thread":
            return self.store.generate_thread_id(self.request_context)
        return self.store.generate_item_id(type, thread or self.thread, self.request_context)

    async def stream(self, event: ThreadStreamEvent) -> None:
        """Send `event` to the client, interleaved with the run's own events."""
        # A snapshot: helpers keep mutating the workflow item after announcing it.
        await self._events.put(copy_record(event))

    async def stream_widget(
        self,
        widget: WidgetRoot | AsyncGenerator[WidgetRoot, None],
        copy_text: str | None = None,
    ) -> None:
        """Show a widget, or stream a sequence of widget states, as one widget item."""
        events = _stream_widget(
            self.thread,
            widget,
            copy_text,
            lambda item_type: self.generate_id(item_type),
        )
        async for event in events:
            await self.stream(event)

    async def start_workflow(self, workflow: Workflow) -> None:
        """Open a workflow item; a custom workflow without tasks is announced with its first."""
        self.workflow_item = WorkflowItem(
            id=self.generate_id("workflow"),
            thread_id=self.thread.id,
            created_at=now(),
            workflow=workflow,
        )
        if workflow.type == "reasoning" or workflow.tasks:
            await self.stream(ThreadItemAddedEvent(item=self.workflow_item))

    async def add_workflow_task(self, task: Task) -> None:
        """Append `task` to the open workflow, opening a custom workflow if there is none."""
        if self.workflow_item is None:
            self.workflow_item = WorkflowItem(
                id=self.generate_id("workflow"),
                thread_id=self.thread.id,
                created_at=now(),
                workflow=Workflow(type="custom", tasks=[]),
            )
        workflow = self.workflow_item.workflow
        workflow.tasks.append(task)
        if workflow.type != "reasoning" and len(workflow.tasks) == 1:
            await self.stream(ThreadItemAddedEvent(item=self.workflow_item))
            return
        update = WorkflowTaskAdded(task=task, task_index=len(workflow.tasks) - 1)
        await self.stream(ThreadItemUpdatedEvent(item_id=self.workflow_item.id, update=update))

    async def update_workflow_task(self, task: Task, task_index: int) -> None:
        """Replace the task at `task_index` of the open workflow."""
        if self.workflow_item is None:
            raise ValueError("no workflow is open")
        self.workflow_item.workflow.tasks[task_index] = task
        update = WorkflowTaskUpdated(task=task, task_index=task_index)
        await self.stream(ThreadItemUpdatedEvent(item_id=self.workflow_item.id, update=update))

    async def end_workflow(
        self, summary: WorkflowSummary | None = None, expanded: bool = False
    ) -> None:
        """Finish the open workflow (if any) with `summary`, by default its duration."""
        if self.workflow_item is None:
            return
        workflow = self.workflow_item.workflow
        if summary is not None:
            workflow.summary = summary
        elif workflow.summary is None:
            workflow.summary = DurationSummary(
                duration=elapsed_seconds(self.workflow_item.created_at)
            )
        workflow.expanded = expanded
        await self.stream(ThreadItemDoneEvent(item=self.workflow_item))
        self.workflow_item = None


async def stream_agent_response(
    context: AgentContext[Any],
    result: RunResultStreaming,
    *,
    converter: ResponseStreamConverter = DEFAULT_RESPONSE_STREAM_CONVERTER,
) -> AsyncIterator[ThreadStreamEvent]:
    """Yield the thread stream events of a streamed Agents SDK run (protocol §7.2).

    Assistant messages keep the Responses message id; reasoning becomes a reasoning
    workflow; events sent through `context` are merged in. A workflow still open at the
    end is stored so the next run can continue it, and a client tool call requested by a
    tool is emitted last as a pending `client_tool_call` item. When a guardrail tripwire
    fires, every item produced so far is removed and the exception is re-raised.
    """
    translator = RunTranslator(context, converter)
    await translator.resume_workflow()
    events = interleave(result.stream_events(), context._events)
    try:
        async for source in events:
            if isinstance(source, Queued):
                out = translator.queued(source.event)
            elif source.type == "raw_response_event":
                data = source.data
                if data.type == "response.output_text.delta":
                    # Most of a stream; a fresh event, so no snapshot.
                    yield translator.text_delta(data)
                    continue
                out = await translator.raw(data)
            else:
                translator.run_item(source)
                continue
            for event in out:
                # A snapshot: the translator keeps mutating live items (workflow, image).
                yield event if is_fresh(event) else copy_record(event)
    except (InputGuardrailTripwireTriggered, OutputGuardrailTripwireTriggered):
        for item_id in translator.produced:
            yield ThreadItemRemovedEvent(item_id=item_id)
        drain(context._events)
        raise
    finally:
        await events.aclose()
        # Duck-typed: a stand-in result in an integrator's test may only have stream_events.
        if getattr(result, "is_complete", True) is False:
            result.cancel()

    for queued in drain(context._events):
        for event in translator.queued(queued):
            yield copy_record(event)
    if context.workflow_item is not None:
        # Kept unfinished so the next run (e.g. after a client tool answers) continues it.
        await context.store.add_thread_item(
            context.thread.id, context.workflow_item, context.request_context
        )
    tool_call = translator.client_tool_call_item()
    if tool_call is not None:
        yield ThreadItemDoneEvent(item=tool_call)


async def accumulate_text(
    events: AsyncIterator[StreamEvent],
    base_widget: TWidget,
) -> AsyncIterator[TWidget]:
    """Yield `base_widget`, then copies whose value is the text streamed so far, then a
    final copy with `streaming=False`; for use with `AgentContext.stream_widget`."""
    text = ""
    yield base_widget
    async for event in events:
        if event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
            text += event.data.delta
            yield cast(TWidget, base_widget.model_copy(update={"value": text}))
    yield cast(TWidget, base_widget.model_copy(update={"value": text, "streaming": False}))
