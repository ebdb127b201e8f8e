"""Differential harness: one integrator backend, run on `openai-chatkit` and on `chatkit_core`.

`build_backend(sdk)` is the integrator's code, written once. It reaches the SDK only through
the modules of `sdk` (`sdk.server`, `sdk.types`, ...), which is exactly what changing the
import prefix from `chatkit` to `chatkit_core` does. Ids are deterministic on both sides
(the store numbers them), so events can be compared without renaming ids.

`run_scenario` feeds the same request bytes to both backends and returns, per side, the
normalised outcome of every step, the store contents and the log of hook calls.
"""

from __future__ import annotations

import asyncio
import copy
import importlib
import json
import re
import warnings
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from types import ModuleType
from typing import Any

REFERENCE = "chatkit"
OURS = "chatkit_core"

# A timestamp the integrator code sets itself: identical on both sides, compared exactly.
FIXED_AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
FIXED_AT_WIRE = "2025-01-02T03:04:05Z"
# Naive and offset timestamps an integrator may set. The reference sends both unchanged;
# we send the offset one unchanged and the naive one read as local time, in UTC (D9).
FIXED_NAIVE = datetime(2025, 1, 2, 3, 4, 5, 120000)
FIXED_NAIVE_WIRE = "2025-01-02T03:04:05.120000"
FIXED_NAIVE_AS_UTC_WIRE = FIXED_NAIVE.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
FIXED_OFFSET = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
_INTEGRATOR_TIMESTAMPS = {
    FIXED_AT_WIRE,
    FIXED_NAIVE_WIRE,
    FIXED_NAIVE_AS_UTC_WIRE,
    "2025-01-02T03:04:05+02:00",
}

# The official widget classes warn on import and on every instantiation.
WIDGET_DEPRECATION = "Direct usage of named widget classes is deprecated"

_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$")
_OURS_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")


@dataclass(frozen=True)
class SDK:
    """The public modules of one SDK, as an integrator imports them."""

    prefix: str
    server: ModuleType
    types: ModuleType
    widgets: ModuleType
    errors: ModuleType
    store: ModuleType
    actions: ModuleType


@cache
def load_sdk(prefix: str) -> SDK:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=WIDGET_DEPRECATION, category=DeprecationWarning)
        modules = {
            name: importlib.import_module(f"{prefix}.{name}")
            for name in ("server", "types", "widgets", "errors", "store", "actions")
        }
    return SDK(prefix=prefix, **modules)


@dataclass
class Backend:
    server: Any
    store: Any
    files: Any
    log: list[Any]


# ==========================================================================================
# The integrator's code. Everything below, down to the next banner, is what a user of either
# SDK would write; `sdk.x` stands for `from chatkit import x` / `from chatkit_core import x`.
# ==========================================================================================


def _card_states(W: Any) -> list[Any]:
    def card(text: str, note: str, *extra: Any, streaming: bool | None = None) -> Any:
        children = [W.Text(id="t", value=text, streaming=streaming), W.Markdown(value=note)]
        return W.Card(children=[*children, *extra])

    return [
        card("", ""),
        card("Hel", "no id"),  # a delta for "t"; nothing for the Markdown without id
        card("Hello", "no id, longer"),
        card("Hello", "no id, longer", W.Divider()),  # a child added: root replaced
        card("Hello", "x", W.Divider()),  # not an append: root replaced
        card("Hello", "x", W.Divider(), streaming=True),  # the flag changed: root replaced
        card("Hello!", "x", W.Divider(), streaming=True),  # a delta with done false
        card("Hello!", "x", W.Divider(), streaming=False),
    ]


def _two_ids_states(W: Any) -> list[Any]:
    def card(first: str, second: str) -> Any:
        return W.Card(
            children=[
                W.Title(value="Title"),
                W.Row(children=[W.Text(id="first", value=first), W.Text(id="mid", value="=")]),
                W.Markdown(id="second", value=second),
            ]
        )

    # Both texts grow in the same step: one delta each, in document order.
    return [card("", ""), card("a", "b"), card("aa", "bb")]


def _nested_states(W: Any) -> list[Any]:
    def view(text: str, label: str) -> Any:
        return W.ListView(
            children=[
                W.ListViewItem(children=[W.Text(id="row", value=text)]),
                W.ListViewItem(children=[W.Transition(children=W.Text(id="moving", value=label))]),
            ]
        )

    return [view("r", "m"), view("ro", "m"), view("row", "m")]


def _transition_states(W: Any) -> list[Any]:
    def card(text: str) -> Any:
        return W.Card(children=[W.Transition(children=W.Text(id="moving", value=text))])

    return [card("m"), card("mo")]


WIDGET_STREAMS = {
    "card": _card_states,
    "two_ids": _two_ids_states,
    "nested": _nested_states,
    "transition": _transition_states,
}


def build_backend(sdk: SDK, *, with_files: bool = True) -> Backend:
    T = sdk.types
    W = sdk.widgets
    E = sdk.errors
    S = sdk.store
    ChatKitServer = sdk.server.ChatKitServer
    stream_widget = sdk.server.stream_widget

    log: list[Any] = []

    def dump(value: Any) -> Any:
        if value is None:
            return None
        return _without_private(value.model_dump(mode="json", exclude={"items"}))

    class DictStore(S.Store[dict]):
        """Threads, items and attachments in dicts; records kept in insertion order."""

        def __init__(self) -> None:
            self.threads: dict[str, Any] = {}
            self.items: dict[str, list[Any]] = {}
            self.attachments: dict[str, Any] = {}
            self.numbers: Counter[str] = Counter()

        def next_id(self, prefix: str) -> str:
            self.numbers[prefix] += 1
            return f"{prefix}_{self.numbers[prefix]}"

        def generate_thread_id(self, context: dict) -> str:
            return self.next_id("thr")

        def generate_item_id(self, item_type: str, thread: Any, context: dict) -> str:
            return self.next_id(item_type)

        async def load_thread(self, thread_id: str, context: dict) -> Any:
            if thread_id not in self.threads:
                raise S.NotFoundError(f"thread {thread_id}")
            return self.threads[thread_id].model_copy(deep=True)

        async def save_thread(self, thread: Any, context: dict) -> None:
            fields = {name: getattr(thread, name) for name in T.ThreadMetadata.model_fields}
            self.threads[thread.id] = T.ThreadMetadata(**copy.deepcopy(fields))
            self.items.setdefault(thread.id, [])

        async def load_threads(self, limit: int, after: str | None, order: str, context: dict):
            return self.page(list(self.threads.values()), after, limit, order, T.ThreadMetadata)

        async def delete_thread(self, thread_id: str, context: dict) -> None:
            self.threads.pop(thread_id, None)
            self.items.pop(thread_id, None)

        async def load_thread_items(
            self, thread_id: str, after: str | None, limit: int, order: str, context: dict
        ) -> Any:
            records = self.items.get(thread_id, [])
            return self.page(records, after, limit, order, T.ThreadItem)

        def page(self, records: list[Any], after: Any, limit: int, order: str, kind: Any) -> Any:
            ordered = records if order == "asc" else records[::-1]
            ids = [record.id for record in ordered]
            start = ids.index(after) + 1 if after in ids else 0
            data = ordered[start : start + limit]
            has_more = start + limit < len(ordered)
            return T.Page[kind](
                data=[record.model_copy(deep=True) for record in data],
                has_more=has_more,
                after=data[-1].id if has_more and data else None,
            )

        async def add_thread_item(self, thread_id: str, item: Any, context: dict) -> None:
            if item.id == "unstorable":
                raise RuntimeError("the database is down")
            await self.save_item(thread_id, item, context)

        async def save_item(self, thread_id: str, item: Any, context: dict) -> None:
            records = self.items.setdefault(thread_id, [])
            stored = item.model_copy(deep=True)
            for index, record in enumerate(records):
                if record.id == item.id:
                    records[index] = stored
                    return
            records.append(stored)

        async def load_item(self, thread_id: str, item_id: str, context: dict) -> Any:
            for record in self.items.get(thread_id, []):
                if record.id == item_id:
                    return record.model_copy(deep=True)
            raise S.NotFoundError(f"item {item_id}")

        async def delete_thread_item(self, thread_id: str, item_id: str, context: dict) -> None:
            records = self.items.get(thread_id, [])
            records[:] = [record for record in records if record.id != item_id]

        async def save_attachment(self, attachment: Any, context: dict) -> None:
            self.attachments[attachment.id] = attachment.model_copy(deep=True)

        async def load_attachment(self, attachment_id: str, context: dict) -> Any:
            if attachment_id not in self.attachments:
                raise S.NotFoundError(f"attachment {attachment_id}")
            return self.attachments[attachment_id].model_copy(deep=True)

        async def delete_attachment(self, attachment_id: str, context: dict) -> None:
            self.attachments.pop(attachment_id, None)

    class Files(S.AttachmentStore[dict]):
        def __init__(self) -> None:
            self.number = 0

        def generate_attachment_id(self, mime_type: str, context: dict) -> str:
            self.number += 1
            return f"atc_{self.number}"

        async def create_attachment(self, input: Any, context: dict) -> Any:
            attachment_id = self.generate_attachment_id(input.mime_type, context)
            upload = T.AttachmentUploadDescriptor(
                url=f"https://files.example.com/upload/{attachment_id}",
                method="PUT",
                headers={"x-size": str(input.size)},
            )
            common = {
                "id": attachment_id,
                "name": input.name,
                "mime_type": input.mime_type,
                "upload_descriptor": upload,
                "metadata": {"bucket": "private", "size": input.size},
            }
            if input.mime_type.startswith("image/"):
                return T.ImageAttachment(**common, preview_url="https://files.example.com")
            return T.FileAttachment(**common)

        async def delete_attachment(self, attachment_id: str, context: dict) -> None:
            log.append(["files.delete_attachment", attachment_id])

    def text_of(item: Any) -> str:
        return "".join(part.text for part in item.content if part.type == "input_text")

    class Server(ChatKitServer[dict]):
        def message(self, thread: Any, text: str, context: dict) -> Any:
            return T.AssistantMessageItem(
                id=self.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=FIXED_AT,
                content=[T.AssistantMessageContent(text=text)],
            )

        def done(self, thread: Any, text: str, context: dict) -> Any:
            return T.ThreadItemDoneEvent(item=self.message(thread, text, context))

        async def respond(self, thread: Any, input_user_message: Any, context: dict):
            log.append(["respond", type(thread).__name__, dump(thread), dump(input_user_message)])
            if input_user_message is None:
                recent = await self.store.load_thread_items(thread.id, None, 3, "desc", context)
                seen = [
                    _without_private(item.model_dump(mode="json", exclude={"created_at"}))
                    for item in recent.data
                ]
                yield self.done(thread, f"continuing after {json.dumps(seen)}", context)
                return
            command, _, argument = text_of(input_user_message).partition(" ")
            async for event in getattr(self, f"do_{command}")(thread, argument, context):
                yield event

        async def do_noop(self, thread: Any, argument: str, context: dict):
            return
            yield

        async def do_assistant(self, thread: Any, argument: str, context: dict):
            item = self.message(thread, "", context)
            item.content = []
            yield T.ThreadItemAddedEvent(item=item)
            part = T.AssistantMessageContent(text="")
            updates = [
                T.AssistantMessageContentPartAdded(content_index=0, content=part),
                T.AssistantMessageContentPartTextDelta(content_index=0, delta="Héllo "),
                T.AssistantMessageContentPartTextDelta(content_index=0, delta="wörld ✓"),
                T.AssistantMessageContentPartAnnotationAdded(
                    content_index=0,
                    annotation_index=0,
                    annotation=T.Annotation(
                        source=T.URLSource(url="https://example.com", title="Ex"), index=5
                    ),
                ),
                T.AssistantMessageContentPartDone(
                    content_index=0, content=T.AssistantMessageContent(text="Héllo wörld ✓")
                ),
            ]
            for update in updates:
                yield T.ThreadItemUpdatedEvent(item_id=item.id, update=update)
            entity = T.EntitySource(
                id="e1", title="Entity", icon="map-pin", data={"k": None}, interactive=True
            )
            annotations = [
                T.Annotation(source=T.FileSource(filename="a.pdf", title="A")),
                T.Annotation(source=entity, index=2),
            ]
            item.content = [
                T.AssistantMessageContent(text="Héllo wörld ✓", annotations=annotations),
                T.AssistantMessageContent(text=argument or "second part"),
            ]
            yield T.ThreadItemDoneEvent(item=item)

        async def do_widget_static(self, thread: Any, argument: str, context: dict):
            card = W.Card(
                children=[
                    W.Text(id="body", value="Draft ready"),
                    W.Button(
                        label="Send",
                        onClickAction=W.ActionConfig(type="send", payload={"n": 7, "x": None}),
                    ),
                ]
            )
            async for event in stream_widget(
                thread,
                card,
                copy_text="Draft ready",
                generate_id=lambda kind: self.store.generate_item_id(kind, thread, context),
            ):
                yield event

        async def do_widget_stream(self, thread: Any, argument: str, context: dict):
            async def states() -> AsyncIterator[Any]:
                for state in WIDGET_STREAMS[argument or "card"](W):
                    yield state

            async for event in stream_widget(
                thread,
                states(),
                generate_id=lambda kind: self.store.generate_item_id(kind, thread, context),
            ):
                yield event

        async def do_workflow(self, thread: Any, argument: str, context: dict):
            workflow = T.WorkflowItem(
                id=self.store.generate_item_id("workflow", thread, context),
                thread_id=thread.id,
                created_at=FIXED_AT,
                workflow=T.Workflow(type="custom", tasks=[T.CustomTask(title="Plan")]),
            )
            yield T.ThreadItemAddedEvent(item=workflow)
            thought = T.ThoughtTask(content="thinking", status_indicator="loading")
            yield T.ThreadItemUpdatedEvent(
                item_id=workflow.id, update=T.WorkflowTaskAdded(task_index=1, task=thought)
            )
            finished = T.ThoughtTask(content="thought it", status_indicator="complete")
            yield T.ThreadItemUpdatedEvent(
                item_id=workflow.id, update=T.WorkflowTaskUpdated(task_index=1, task=finished)
            )
            workflow.workflow.tasks.append(finished)
            workflow.workflow.summary = T.CustomSummary(title="Done", icon="check")
            yield T.ThreadItemDoneEvent(item=workflow)
            reasoning = T.WorkflowItem(
                id=self.store.generate_item_id("workflow", thread, context),
                thread_id=thread.id,
                created_at=FIXED_AT,
                workflow=T.Workflow(
                    type="reasoning",
                    tasks=[T.SearchTask(queries=["q"]), T.FileTask(), T.ImageTask()],
                    summary=T.DurationSummary(duration=3),
                    expanded=True,
                ),
            )
            yield T.ThreadItemDoneEvent(item=reasoning)
            yield T.ThreadItemDoneEvent(
                item=T.TaskItem(
                    id=self.store.generate_item_id("task", thread, context),
                    thread_id=thread.id,
                    created_at=FIXED_AT,
                    task=T.CustomTask(title="Standalone", icon="bolt", content="c"),
                )
            )

        async def do_events(self, thread: Any, argument: str, context: dict):
            yield T.ProgressUpdateEvent(text="Searching…", icon="search")
            yield T.ProgressUpdateEvent(text="Still searching")
            yield T.ClientEffectEvent(name="confetti")
            yield T.ClientEffectEvent(name="highlight", data={"ids": [1, None]})
            yield T.NoticeEvent(level="warning", message="**Heads** up", title="Note")
            yield T.NoticeEvent(level="info", message="plain")
            yield T.ErrorEvent(code="custom", message="yielded, not raised")
            yield T.ErrorEvent(code=E.ErrorCode.STREAM_ERROR, allow_retry=True)
            yield self.done(thread, "still streaming after the errors", context)

        async def do_title(self, thread: Any, argument: str, context: dict):
            first = self.message(thread, "A", context)
            first.created_at = FIXED_NAIVE
            yield T.ThreadItemDoneEvent(item=first)
            thread.title = "Mid-stream title"
            yield self.done(thread, "B", context)
            last = self.message(thread, "C", context)
            last.created_at = FIXED_OFFSET
            yield T.ThreadItemDoneEvent(item=last)
            thread.status = T.LockedStatus(reason="Escalated")
            thread.allowed_image_domains = ["img.example.com"]

        async def do_metadata(self, thread: Any, argument: str, context: dict):
            thread.metadata["private"] = {"n": 1}
            yield self.done(thread, "metadata changed", context)
            thread.status = T.ClosedStatus()

        async def do_hidden(self, thread: Any, argument: str, context: dict):
            for text in ("visible 1", "visible 2"):
                yield self.done(thread, text, context)
            yield T.ThreadItemDoneEvent(
                item=T.HiddenContextItem(
                    id=self.store.generate_item_id("message", thread, context),
                    thread_id=thread.id,
                    created_at=FIXED_AT,
                    content={"note": "for the model", "empty": None},
                )
            )
            thread.title = "changed next to a hidden item"
            yield T.ThreadItemDoneEvent(
                item=T.SDKHiddenContextItem(
                    id=self.store.generate_item_id("sdk_hidden_context", thread, context),
                    thread_id=thread.id,
                    created_at=FIXED_AT,
                    content="sdk note",
                )
            )

        async def do_raise(self, thread: Any, argument: str, context: dict):
            yield self.done(thread, "before the failure", context)
            if argument == "after_title":
                thread.title = "set before raising"
            if argument == "store":
                item = self.message(thread, "never stored", context)
                item.id = "unstorable"
                yield T.ThreadItemDoneEvent(item=item)
            raise {
                "generic": RuntimeError("boom"),
                "after_title": RuntimeError("boom"),
                "stream": E.StreamError(E.ErrorCode.STREAM_ERROR),
                "stream_no_retry": E.StreamError(E.ErrorCode.STREAM_ERROR, allow_retry=False),
                "custom": E.CustomStreamError("Try later ✋"),
                "custom_retry": E.CustomStreamError("Retry me", allow_retry=True),
            }.get(argument, ValueError(argument))

        async def do_client_tool(self, thread: Any, argument: str, context: dict):
            yield self.done(thread, "running a client tool", context)
            for number in range(int(argument or 1)):  # more than one: a dangling call
                yield T.ThreadItemDoneEvent(
                    item=T.ClientToolCallItem(
                        id=self.store.generate_item_id("tool_call", thread, context),
                        thread_id=thread.id,
                        created_at=FIXED_AT,
                        call_id=f"call_{number}",
                        name="get_selection",
                        arguments={"doc": "a", "range": None},
                    )
                )

        async def do_structured(self, thread: Any, argument: str, context: dict):
            options = [T.StructuredInputMultipleChoiceOption(value=v) for v in ("A", "B", "C")]
            yield T.ThreadItemDoneEvent(
                item=T.StructuredInputItem(
                    id=self.store.generate_item_id("message", thread, context),
                    thread_id=thread.id,
                    created_at=FIXED_AT,
                    inputs=[
                        T.StructuredInputMultipleChoice(id="one", question="One?", options=options),
                        T.StructuredInputMultipleChoice(
                            id="many", question="Many?", options=options, multiple=True
                        ),
                        T.StructuredInputFreeform(id="free", question="Why?", description="d"),
                        T.StructuredInputFreeform(id="empty", question="Empty?"),
                        T.StructuredInputFreeform(id="skip", question="Skip?"),
                        T.StructuredInputFreeform(id="none", question="Unanswered?"),
                    ],
                )
            )

        async def do_edit(self, thread: Any, argument: str, context: dict):
            first = self.message(thread, "first", context)
            yield T.ThreadItemDoneEvent(item=first)
            second = self.message(thread, "second", context)
            yield T.ThreadItemDoneEvent(item=second)
            first.content = [T.AssistantMessageContent(text="first, edited")]
            yield T.ThreadItemReplacedEvent(item=first)
            yield T.ThreadItemRemovedEvent(item_id=second.id)
            yield T.ThreadItemRemovedEvent(item_id="never_stored")
            pending = self.message(thread, "only added", context)
            yield T.ThreadItemAddedEvent(item=pending)
            image = T.GeneratedImageItem(
                id=self.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=FIXED_AT,
            )
            yield T.ThreadItemAddedEvent(item=image)
            picture = T.GeneratedImage(id="img_1", url="https://img.example.com/1.png")
            yield T.ThreadItemUpdatedEvent(
                item_id=image.id, update=T.GeneratedImageUpdated(image=picture, progress=0.5)
            )
            image.image = picture
            yield T.ThreadItemDoneEvent(item=image)
            yield T.ThreadItemDoneEvent(
                item=T.EndOfTurnItem(
                    id=self.store.generate_item_id("message", thread, context),
                    thread_id=thread.id,
                    created_at=FIXED_AT,
                )
            )

        async def do_many(self, thread: Any, argument: str, context: dict):
            for number in range(int(argument)):
                yield self.done(thread, f"item {number}", context)

        async def do_slow(self, thread: Any, argument: str, context: dict):
            for text in ("kept", ""):
                item = self.message(thread, "", context)
                item.content = []
                yield T.ThreadItemAddedEvent(item=item)
                yield T.ThreadItemUpdatedEvent(
                    item_id=item.id,
                    update=T.AssistantMessageContentPartTextDelta(content_index=1, delta=text),
                )
            yield T.ThreadItemAddedEvent(
                item=T.WorkflowItem(
                    id=self.store.generate_item_id("workflow", thread, context),
                    thread_id=thread.id,
                    created_at=FIXED_AT,
                    workflow=T.Workflow(type="custom", tasks=[]),
                )
            )
            await asyncio.Event().wait()  # until the client goes away

        def action(self, thread: Any, action: Any, sender: Any, context: dict):
            log.append(["action", dump(thread), dump(action), dump(sender)])
            if action.type == "unsupported":
                return super().action(thread, action, sender, context)
            return self.handle_action(thread, action, sender, context)

        async def handle_action(self, thread: Any, action: Any, sender: Any, context: dict):
            if sender is None:
                yield self.done(thread, f"action {action.type} without a sender", context)
                return
            payload = action.payload or {}
            new_root = W.Card(children=[W.Text(id="body", value=f"Sent {payload.get('n')}")])
            yield T.ThreadItemUpdatedEvent(
                item_id=sender.id, update=T.WidgetRootUpdated(widget=new_root)
            )
            yield T.ThreadItemReplacedEvent(item=sender.model_copy(update={"widget": new_root}))
            yield T.ClientEffectEvent(name="sent", data={"id": sender.id})

        async def sync_action(self, thread: Any, action: Any, sender: Any, context: dict):
            log.append(["sync_action", dump(thread), dump(action), dump(sender)])
            if sender is None:
                return T.SyncCustomActionResponse()
            new_root = W.Card(children=[W.Text(value=f"synced {action.payload}")])
            return T.SyncCustomActionResponse(
                updated_item=sender.model_copy(update={"widget": new_root})
            )

        def get_stream_options(self, thread: Any, context: dict) -> Any:
            return T.StreamOptions(allow_cancel=thread.status.type == "active")

        async def add_feedback(self, thread_id: str, item_ids: Any, feedback: Any, context: dict):
            log.append(["add_feedback", thread_id, item_ids, feedback, context])

        async def transcribe(self, audio_input: Any, context: dict) -> Any:
            log.append(["transcribe", audio_input.data.decode(), audio_input.mime_type])
            return T.TranscriptionResult(text=f"{audio_input.media_type}: ünïcode")

    store = DictStore()
    files = Files() if with_files else None
    return Backend(server=Server(store, files), store=store, files=files, log=log)


def error_status(sdk: SDK, exc: Exception) -> int:
    """The integrator's HTTP handler's mapping of a failure, as the official examples write it.

    The handler awaits `process()` and reads the first SSE chunk before it sends the status
    line, so a failure before the first byte is answered with its status; a failure after
    it cuts the 200 stream.
    """
    if isinstance(exc, sdk.store.NotFoundError):
        return 404
    if isinstance(exc, ValueError):
        return 400
    return 500


# ==========================================================================================
# Driving and normalising
# ==========================================================================================

CONTEXT: dict[str, Any] = {"user": "u1"}


@dataclass(frozen=True)
class Cancel:
    """A streaming request whose client disconnects after `after` events."""

    body: dict[str, Any]
    after: int


Step = dict[str, Any] | bytes | bytearray | str | Cancel


@dataclass
class Outcome:
    """What one request produced, normalised (timestamps replaced, see `normalise`)."""

    kind: str  # "stream" | "json" | "raised"
    events: list[Any] = field(default_factory=list)
    body: Any = None
    error: str | None = None  # exception class name (a cut stream, or a raised error)
    chunks: list[bytes] = field(default_factory=list)  # raw SSE chunks / JSON body
    status: int = 200  # what the integrator's handler answers (`error_status`)

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "events": self.events,
            "body": self.body,
            "error": self.error,
            "status": self.status,
        }

    def wire(self) -> list[bytes]:
        """The raw chunks (or JSON body) with every SDK-made timestamp replaced."""
        return [_WIRE_TIMESTAMP.sub(_wire_timestamp, chunk) for chunk in self.chunks]


_WIRE_TIMESTAMP = re.compile(rb'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?)"')


def _wire_timestamp(match: re.Match[bytes]) -> bytes:
    text = match.group(1).decode()
    return match.group(0) if text in _INTEGRATOR_TIMESTAMPS else b'"<now>"'


@dataclass
class Run:
    prefix: str
    outcomes: list[Outcome]
    state: dict[str, Any]
    log: list[Any]
    bad_timestamps: list[str]


def encode(step: dict[str, Any] | bytes | bytearray | str) -> bytes | bytearray | str:
    if isinstance(step, bytes | bytearray | str):
        return step
    return json.dumps(step, ensure_ascii=False).encode()


async def _send(sdk: SDK, server: Any, step: Step) -> Outcome:
    body = step.body if isinstance(step, Cancel) else step
    try:
        result = await server.process(encode(body), CONTEXT)
    except Exception as exc:
        return Outcome("raised", error=type(exc).__name__, status=error_status(sdk, exc))
    if hasattr(result, "json"):
        return Outcome("json", body=json.loads(result.json), chunks=[result.json])
    outcome = Outcome("stream")
    if isinstance(step, Cancel):
        await _consume_then_cancel(result, step.after, outcome)
        return outcome
    try:
        async for chunk in result:
            outcome.chunks.append(chunk)
    except Exception as exc:  # the reference cuts the connection this way
        outcome.error = type(exc).__name__
        if not outcome.chunks:  # nothing sent yet: the handler answers with a status
            outcome.status = error_status(sdk, exc)
    return outcome


async def _consume_then_cancel(result: Any, after: int, outcome: Outcome) -> None:
    enough = asyncio.Event()

    async def client() -> None:
        async for chunk in result:
            outcome.chunks.append(chunk)
            if len(outcome.chunks) == after:
                enough.set()

    task = asyncio.create_task(client())
    waiter = asyncio.create_task(enough.wait())
    await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        outcome.error = "CancelledError"


def parse_chunk(chunk: bytes) -> Any:
    """Return the event of one SSE chunk, checking its exact framing (protocol §1.4)."""
    assert chunk.startswith(b"data: ") and chunk.endswith(b"\n\n"), chunk
    payload = chunk[len(b"data: ") : -2]
    assert b"\n" not in payload, chunk
    return json.loads(payload)


class _Normaliser:
    """Replace timestamps the SDK creates with `<now>`, checking ours are UTC with `Z`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.bad: list[str] = []

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        if (
            isinstance(value, str)
            and value not in _INTEGRATOR_TIMESTAMPS
            and _TIMESTAMP.match(value)
        ):
            if self.prefix == OURS and not _OURS_TIMESTAMP.match(value):
                self.bad.append(value)
            return "<now>"
        return value


def _hide_cancel_note(state: dict[str, Any]) -> dict[str, Any]:
    # Documented difference: the wording of the cancellation note is not protocol-relevant.
    for items in state["items"].values():
        for item in items:
            if item["type"] == "sdk_hidden_context" and item["content"] != "sdk note":
                item["content"] = "<cancellation note>"
    return state


def _without_private(record: dict[str, Any]) -> dict[str, Any]:
    # Server-private fields only chatkit_core has (never on the wire): the thread's
    # `updated_at` and a user message's `metadata` (D9 in test_differential).
    record.pop("updated_at", None)
    if record.get("type") == "user_message":
        record.pop("metadata", None)
    return record


def _store_state(store: Any) -> dict[str, Any]:
    return {
        "threads": [
            _without_private(thread.model_dump(mode="json")) for thread in store.threads.values()
        ],
        "items": {
            thread_id: [_without_private(item.model_dump(mode="json")) for item in items]
            for thread_id, items in store.items.items()
        },
        "attachments": {
            key: attachment.model_dump(mode="json") for key, attachment in store.attachments.items()
        },
    }


async def run_scenario(prefix: str, steps: list[Step], *, with_files: bool = True) -> Run:
    sdk = load_sdk(prefix)
    backend = build_backend(sdk, with_files=with_files)
    normalise = _Normaliser(prefix)
    outcomes = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=WIDGET_DEPRECATION, category=DeprecationWarning)
        for step in steps:
            outcome = await _send(sdk, backend.server, step)
            if outcome.kind == "stream":
                outcome.events = normalise([parse_chunk(chunk) for chunk in outcome.chunks])
            elif outcome.kind == "json":
                outcome.body = normalise(outcome.body)
            outcomes.append(outcome)
    state = _hide_cancel_note(normalise(_store_state(backend.store)))
    return Run(prefix, outcomes, state, normalise(backend.log), normalise.bad)
