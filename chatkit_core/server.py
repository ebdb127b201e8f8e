"""The ChatKit server: one `process()` entry point for every protocol request.

`ChatKitServer.process(body, context)` parses a request and returns either a
`StreamingResult` (serve it as `text/event-stream`, one chunk per event) or a
`NonStreamingResult` (serve `.json` as `application/json`). Integrators subclass
`ChatKitServer` and implement `respond` (and, as needed, `action`, `sync_action`,
`add_feedback`, `transcribe`).

Where we deliberately differ from the reference server (protocol recommendations):

* A body that is not a valid request makes `process()` raise `InvalidRequestError` before
  anything is read or written; answer it with HTTP 400 and its `code`/`message`.
* A non-streaming operation on a missing record lets the store's `NotFoundError` escape
  (answer 404); nothing has been written at that point. A store whose `load_thread` or
  `load_item` returns None (the seed reference's signature allows it) is read the same
  way: the server raises `NotFoundError` instead of failing on `None`.
* An operation this server does not offer raises `UnsupportedOperationError` (a
  `ProtocolError`, status 501; also a `NotImplementedError`): `attachments.*` without an
  attachment store, `input.transcribe` and `threads.sync_custom_action` unless the hook is
  overridden. The reference raises a bare `RuntimeError`/`NotImplementedError`.
* `limit` of `threads.list`/`items.list`: null or 0 means `DEFAULT_PAGE_SIZE`, a negative
  value is an `InvalidRequestError` (`invalid_params`), and anything above
  `MAX_PAGE_SIZE` (100) is lowered to it; `has_more`/`after` still let a client page on.
* `items.feedback` loads the thread first (unknown thread: `NotFoundError`), and
  `add_feedback` receives only the ids of items that exist in that thread (possibly
  none, each once), found with one `Store.find_item_ids` call; the reference passes the
  request's ids through unchecked.
* Every request is checked against `limits` (`RequestLimits`: string lengths, list
  sizes, at most 100 feedback ids) and refused if any string carries a NUL character,
  with `InvalidRequestError`, before anything is read or written; the reference has no
  limits.
* `threads.create` saves the thread and its first message through `Store.create_thread`,
  as one unit; the reference saves them separately.
* A streaming operation runs its checks and writes before `process()` returns, so what
  the official server raises from the stream before its first byte is raised by
  `process()` here: `NotFoundError` for an unknown (or another user's) thread, item or
  attachment, `InvalidRequestError` (a `ValueError`) for an item the operation cannot
  use (no pending client tool call, a structured input that is not pending, a retry after
  an item that is not a user message). `threads.create` checks its attachments before it
  saves anything, where the official server has already announced a new thread.
* Timestamps are timezone-aware UTC: the ones we create, and every `created_at` you set,
  since a naive value (`datetime.now()`) is read as local time and converted to UTC when
  the record is built or the field assigned. Code written for the reference that computes
  `datetime.now() - thread.created_at` must use `datetime.now(UTC)` here (mixing naive
  and aware datetimes raises `TypeError`). Naive values therefore reach the wire as UTC
  with `Z` where the reference writes them as they are.
* `ThreadMetadata.updated_at` (set to now whenever the server saves the thread) and
  `UserMessageItem.metadata` exist here and not in the reference; both are server-private
  and never sent to clients.
* The request context that `_to_agent_input` reads is bound for the duration of a
  `process()` call and, for a streaming answer, while the stream is iterated; it is unbound
  when the stream ends if the same task (context) that started it finishes it. A stream
  iterated from several tasks leaves the binding to the task that started it.
* Input the protocol types accept but an operation cannot use raises
  `InvalidRequestError` too (`threads.sync_custom_action` naming a non-widget item,
  `input.transcribe` with invalid base64); like the reference's `ValueError` and
  `binascii.Error`, it is a `ValueError`.
* `respond` receives the thread as `ThreadMetadata` in every operation (the reference
  passes a `Thread` from `threads.create`); the fields are the same.
* A `Text`/`Markdown` node inside a `Transition` streams its deltas (protocol §8.7), and an
  input tag without `data` is read as `{}` (§2.3); the reference skips and rejects these.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import typing
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, cast

from pydantic import BaseModel
from typing_extensions import TypeVar

from chatkit_core._copying import copy_record
from chatkit_core._limits import RequestLimits, check_request
from chatkit_core._pipeline import (
    HIDDEN_ITEM_TYPES,
    PendingItems,
    ThreadWatch,
    error_event_for,
)
from chatkit_core._serialization import dump_json, parse_request, sse_event
from chatkit_core._server_widgets import diff_widget, stream_widget
from chatkit_core.actions import Action
from chatkit_core.errors import ErrorCode, InvalidRequestError, UnsupportedOperationError
from chatkit_core.store import AttachmentStore, NotFoundError, Store
from chatkit_core.types import (
    AssistantMessageItem,
    Attachment,
    AttachmentsCreateReq,
    AttachmentsDeleteReq,
    AudioInput,
    ChatKitReq,
    ClientToolCallItem,
    ErrorEvent,
    FeedbackKind,
    InputTranscribeReq,
    ItemsFeedbackReq,
    ItemsListReq,
    Page,
    SDKHiddenContextItem,
    StreamingReq,
    StreamOptions,
    StreamOptionsEvent,
    StructuredInputAnswer,
    StructuredInputItem,
    StructuredInputSubmission,
    SyncCustomActionResponse,
    Thread,
    ThreadCreatedEvent,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemReplacedEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsDeleteReq,
    ThreadsGetByIdReq,
    ThreadsListReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    ThreadStreamEvent,
    ThreadsUpdateReq,
    ThreadUpdatedEvent,
    TranscriptionResult,
    UserMessageInput,
    UserMessageItem,
    WidgetItem,
    is_streaming_req,
)

# typing.TYPE_CHECKING, not the bare name: every upper-case name of this module is one of
# its public constants (tests/chatkit_core/test_seed_reference.py).
if typing.TYPE_CHECKING:
    from chatkit_core._agents_input import ThreadItemConverter

__all__ = [
    "DEFAULT_ERROR_MESSAGE",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "ChatKitServer",
    "NonStreamingResult",
    "RequestLimits",
    "StreamingResult",
    "TContext",
    "agents_sdk_user_agent_override",
    "diff_widget",
    "stream_widget",
]

logger = logging.getLogger("chatkit_core.server")

DEFAULT_PAGE_SIZE = 20
"""Page size used when a request names none (protocol §5.8, §5.9, §5.12)."""

MAX_PAGE_SIZE = 100
"""Largest page `threads.list`/`items.list` return; a larger `limit` is lowered to it."""

DEFAULT_ERROR_MESSAGE = "An error occurred when generating a response."

_CANCELLED_STREAM_NOTE = (
    "The user stopped the previous response before it finished. "
    "Do not resume or continue that earlier request."
)
"""Model-facing content of the `sdk_hidden_context` item stored on cancellation (§1.7)."""

_HISTORY_PAGE_SIZE = 100

TContext = TypeVar("TContext", default=Any)

_request_context: ContextVar[Any] = ContextVar("chatkit_core_request_context")

# Cancellation clean-up runs as its own task so a second cancellation cannot cut it short;
# asyncio keeps only weak references to tasks, so they are held here until they finish.
_cleanup_tasks: set[asyncio.Task[None]] = set()

# Parametrized once: subscripting a generic model on every request is surprisingly costly.
_ItemPage = Page[ThreadItem]
_ThreadPage = Page[Thread]

# The empty items page of every metadata-only thread response. It is shared, so it must
# never be mutated: `_to_thread_response` results are only ever serialized, never handed
# to integrator code.
_NO_ITEMS = _ItemPage.model_construct(data=[], has_more=False, after=None)

_Producer = Callable[[], AsyncIterator[ThreadStreamEvent]]

# threads.custom_action naming an item that is not a widget: the official server answers
# with this one event and runs nothing; so do we.
_NOT_A_WIDGET_ERROR = ErrorEvent(code=ErrorCode.STREAM_ERROR, allow_retry=False)


@contextmanager
def agents_sdk_user_agent_override() -> Iterator[None]:
    """Within the block, tag model requests made by `openai-agents` with our user agent."""
    import agents
    from agents.models.chatcmpl_helpers import HEADERS_OVERRIDE
    from agents.models.openai_responses import _HEADERS_OVERRIDE

    headers = {"User-Agent": f"Agents/Python {agents.__version__} ChatKitCore/Python"}
    chat_token = HEADERS_OVERRIDE.set(headers)
    responses_token = _HEADERS_OVERRIDE.set(headers)
    try:
        yield
    finally:
        _HEADERS_OVERRIDE.reset(responses_token)
        HEADERS_OVERRIDE.reset(chat_token)


class StreamingResult(AsyncIterable[bytes]):
    """A streamed answer: iterate it to get one SSE chunk (`bytes`) per event.

    Serve it with HTTP 200 and `Content-Type: text/event-stream`, writing each chunk as it
    arrives. Stopping the iteration (closing it, or cancelling the task that iterates it)
    is how a client disconnect is signalled; see `ChatKitServer.handle_stream_cancelled`.
    """

    def __init__(self, stream: AsyncGenerator[bytes, None]) -> None:
        self.json_events = stream

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.json_events


class NonStreamingResult:
    """A JSON answer: serve `.json` with HTTP 200 and `Content-Type: application/json`."""

    def __init__(self, result: bytes) -> None:
        self.json = result


@dataclass(slots=True)
class _StreamPlan:
    """What a streaming operation does once its checks and writes are done."""

    thread: ThreadMetadata
    lead: list[ThreadStreamEvent] = field(default_factory=list)
    producer: _Producer | None = None


class ChatKitServer(ABC, Generic[TContext]):
    """Base class of a ChatKit backend; subclass it and implement `respond`."""

    limits: RequestLimits = RequestLimits()
    """Bounds on what one request may carry; a larger request is an `InvalidRequestError`."""

    def __init__(
        self,
        store: Store[TContext],
        attachment_store: AttachmentStore[TContext] | None = None,
        *,
        limits: RequestLimits | None = None,
    ) -> None:
        """Create a server over `store`; `attachment_store` enables the attachment ops.

        `limits` replaces the class's `RequestLimits` for this server.
        """
        self.store = store
        self.attachment_store = attachment_store
        if limits is not None:
            self.limits = limits

    def _get_attachment_store(self) -> AttachmentStore[TContext]:
        """Return the attachment store, or raise `UnsupportedOperationError` without one."""
        if self.attachment_store is None:
            raise UnsupportedOperationError(
                "This server has no attachment store: pass attachment_store= to "
                "ChatKitServer to support attachment operations."
            )
        return self.attachment_store

    # --- hooks for integrators ---------------------------------------------------------

    @abstractmethod
    def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: TContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Yield the events answering `input_user_message` (None after a tool output).

        Items are stored when yielded as `thread.item.done`/`replaced` and deleted with
        `thread.item.removed`; changes made to `thread` are saved and announced with
        `thread.updated`.
        """

    async def add_feedback(
        self,
        thread_id: str,
        item_ids: list[str],
        feedback: FeedbackKind,
        context: TContext,
    ) -> None:
        """Record user feedback on items; the default ignores it."""

    async def transcribe(self, audio_input: AudioInput, context: TContext) -> TranscriptionResult:
        """Return the text spoken in `audio_input` (dictation); override to support it.

        The default raises `UnsupportedOperationError` (HTTP 501).
        """
        raise UnsupportedOperationError(
            "This server does not support dictation: override transcribe() to handle "
            "input.transcribe requests."
        )

    def action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: TContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Yield the events answering a streaming widget action; override to support them."""
        raise NotImplementedError("Override action() to react to threads.custom_action.")

    async def sync_action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: TContext,
    ) -> SyncCustomActionResponse:
        """Return the answer to a non-streaming widget action; override to support them.

        The default raises `UnsupportedOperationError` (HTTP 501).
        """
        raise UnsupportedOperationError(
            "This server does not handle synchronous widget actions: override "
            "sync_action() to handle threads.sync_custom_action requests."
        )

    def get_stream_options(self, thread: ThreadMetadata, context: TContext) -> StreamOptions:
        """Return the options sent first in every response stream (cancel allowed)."""
        return StreamOptions(allow_cancel=True)

    async def handle_stream_cancelled(
        self,
        thread: ThreadMetadata,
        pending_items: list[ThreadItem],
        context: TContext,
    ) -> None:
        """Persist what a disconnected client had already seen (protocol §1.7).

        `pending_items` were announced with `thread.item.added` but never finished; their
        updates so far are applied. The default stores the assistant messages that have
        some non-blank text, then a hidden note telling the model the user cancelled.
        It runs shielded from further cancellation.
        """
        for item in pending_items:
            if isinstance(item, AssistantMessageItem) and any(
                part.text.strip() for part in item.content
            ):
                await self.store.add_thread_item(thread.id, item, context=context)
        note = SDKHiddenContextItem(
            id=self.store.generate_item_id("sdk_hidden_context", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(UTC),
            content=_CANCELLED_STREAM_NOTE,
        )
        await self.store.add_thread_item(thread.id, note, context=context)

    # --- entry point -------------------------------------------------------------------

    async def process(
        self, request: str | bytes | bytearray, context: TContext
    ) -> StreamingResult | NonStreamingResult:
        """Handle one protocol request body for the caller described by `context`.

        `request` is the raw body (`bytes` or `str`), not parsed JSON. Raise
        `InvalidRequestError` (HTTP 400, also a `ValueError`) when the body is not a valid
        request or names an item the operation cannot use, `UnsupportedOperationError`
        (HTTP 501) for an operation this server does not offer, and let the store's
        `NotFoundError` (HTTP 404) escape for an unknown thread, item or attachment; in all
        three cases nothing has been written. A streaming operation's checks and writes
        run before this returns; its respond pipeline runs when the result is iterated.
        Any `ProtocolError` carries the status to answer in `status_code`.
        """
        if isinstance(request, bytearray | memoryview):
            request = bytes(request)
        elif not isinstance(request, bytes | str):
            raise TypeError(
                "ChatKitServer.process() takes the raw request body as bytes or str "
                f"(for example `await request.body()`), not {type(request).__name__}"
            )
        parsed = parse_request(request)
        check_request(parsed, self.limits)
        token = _request_context.set(context)
        try:
            if is_streaming_req(parsed):
                # The checks and writes that precede the respond pipeline run here, so an
                # unknown thread or an unusable item raises before the first byte.
                plan = await self._prepare(parsed, context)
                return StreamingResult(self._stream(plan, context))
            return NonStreamingResult(await self._answer(parsed, context))
        finally:
            _request_context.reset(token)

    async def _to_agent_input(
        self,
        thread: ThreadMetadata,
        item: UserMessageItem | None,
        converter: ThreadItemConverter | None = None,
    ) -> list[dict[str, Any]] | None:
        """Return the thread's history (oldest first) as agent input items, or None if empty.

        Loads every stored item, hidden ones included, with the request context of the
        `process()` call in progress, and converts them with `converter` (by default
        `agents.simple_to_agent_input`). `item` is appended when it is not stored yet.
        """
        from chatkit_core.agents import simple_to_agent_input

        try:
            context = _request_context.get()
        except LookupError:
            raise RuntimeError("_to_agent_input() must be called while process() runs") from None
        history = [entry async for entry in self._iter_items(thread.id, "asc", context)]
        if item is not None and all(entry.id != item.id for entry in history):
            history.append(item)
        if not history:
            return None
        if converter is None:
            converted = await simple_to_agent_input(history)
        else:
            converted = await converter.to_agent_input(history)
        return cast(list[dict[str, Any]], converted) or None

    # --- non-streaming operations ------------------------------------------------------

    async def _answer(self, request: ChatKitReq, context: TContext) -> bytes:
        match request:
            case ThreadsGetByIdReq():
                thread = await self._load_full_thread(request.params.thread_id, context)
                return dump_json(self._to_thread_response(thread))
            case ThreadsListReq():
                params = request.params
                threads = await self.store.load_threads(
                    _page_size(params.limit), params.after, params.order, context
                )
                return dump_json(
                    _ThreadPage.model_construct(
                        data=[self._to_thread_response(thread) for thread in threads.data],
                        has_more=threads.has_more,
                        after=threads.after,
                    )
                )
            case ItemsListReq():
                list_params = request.params
                items = await self.store.load_thread_items(
                    list_params.thread_id,
                    list_params.after,
                    _page_size(list_params.limit),
                    list_params.order,
                    context,
                )
                return dump_json(_without_hidden(items))
            case ThreadsUpdateReq():
                metadata = await self._load_thread(request.params.thread_id, context)
                metadata.title = request.params.title
                await self._save_thread(metadata, context)
                return dump_json(self._to_thread_response(metadata))
            case ThreadsDeleteReq():
                await self.store.delete_thread(request.params.thread_id, context=context)
                return b"{}"
            case ItemsFeedbackReq():
                feedback = request.params
                rated = await self._load_thread(feedback.thread_id, context)
                item_ids = await self.store.find_item_ids(rated.id, feedback.item_ids, context)
                await self.add_feedback(rated.id, item_ids, feedback.kind, context)
                return b"{}"
            case _:
                return await self._answer_other(request, context)

    async def _answer_other(self, request: ChatKitReq, context: TContext) -> bytes:
        match request:
            case AttachmentsCreateReq():
                attachment_store = self._get_attachment_store()
                attachment = await attachment_store.create_attachment(request.params, context)
                await self.store.save_attachment(attachment, context=context)
                return dump_json(attachment)
            case AttachmentsDeleteReq():
                attachment_store = self._get_attachment_store()
                attachment_id = request.params.attachment_id
                await attachment_store.delete_attachment(attachment_id, context=context)
                await self.store.delete_attachment(attachment_id, context=context)
                return b"{}"
            case InputTranscribeReq():
                audio = AudioInput(
                    data=_decode_base64(request.params.audio_base64),
                    mime_type=request.params.mime_type,
                )
                return dump_json(await self.transcribe(audio, context))
            case ThreadsSyncCustomActionReq():
                params = request.params
                thread = await self._load_thread(params.thread_id, context)
                sender = await self._load_sender(params.thread_id, params.item_id, context)
                if sender is not None and not isinstance(sender, WidgetItem):
                    raise InvalidRequestError(
                        "invalid_params", "params.item_id: the item is not a widget item"
                    )
                result = await self.sync_action(thread, params.action, sender, context)
                return dump_json(result)
        raise AssertionError(f"unhandled request type {request.type!r}")  # pragma: no cover

    # --- streaming operations ----------------------------------------------------------

    async def _stream(self, plan: _StreamPlan, context: TContext) -> AsyncGenerator[bytes, None]:
        """Send a prepared streaming operation's lead events, then run its respond pipeline."""
        token = _request_context.set(context)
        try:
            for lead in plan.lead:
                yield sse_event(lead)
            if plan.producer is None:
                return

            # The pipeline is inlined here (not a nested generator) to keep the per-event cost
            # to one dispatch, one serialization and one cheap change check.
            thread = plan.thread
            thread_id = thread.id
            store = self.store
            pending = PendingItems()
            watch = ThreadWatch(thread)
            stream: AsyncIterator[ThreadStreamEvent] | None = None
            try:
                options = self.get_stream_options(thread, context)
                yield sse_event(StreamOptionsEvent(stream_options=options))
                stream = plan.producer()
                async for event in stream:
                    if isinstance(event, ThreadItemUpdatedEvent):
                        pending.apply(event)
                    elif isinstance(event, ThreadItemAddedEvent):
                        pending.add(event.item)
                    elif isinstance(event, ThreadItemDoneEvent):
                        await store.add_thread_item(thread_id, event.item, context=context)
                        pending.discard(event.item.id)
                        if event.item.type in HIDDEN_ITEM_TYPES:
                            if watch.changed():
                                yield await self._announce_thread_change(thread, context)
                            continue
                    elif isinstance(event, ThreadItemRemovedEvent):
                        await store.delete_thread_item(thread_id, event.item_id, context=context)
                        pending.discard(event.item_id)
                    elif isinstance(event, ThreadItemReplacedEvent):
                        await store.save_item(thread_id, event.item, context=context)
                        pending.discard(event.item.id)
                    yield sse_event(event)
                    if watch.changed():
                        yield await self._announce_thread_change(thread, context)
            except (asyncio.CancelledError, GeneratorExit):
                await self._persist_cancelled(thread, pending, context)
                raise
            except Exception as exc:
                yield sse_event(error_event_for(exc))
            finally:
                await _close_quietly(stream)

            try:
                if watch.changed():
                    yield await self._announce_thread_change(thread, context)
            except Exception as exc:
                yield sse_event(error_event_for(exc))
        finally:
            # Only the context that bound the value can unbind it; a stream finished (or
            # closed by the garbage collector) from another task leaves it to that task.
            with contextlib.suppress(ValueError):
                _request_context.reset(token)

    async def _announce_thread_change(self, thread: ThreadMetadata, context: TContext) -> bytes:
        await self._save_thread(thread, context)
        return sse_event(ThreadUpdatedEvent(thread=self._to_thread_response(thread)))

    async def _persist_cancelled(
        self, thread: ThreadMetadata, pending: PendingItems, context: TContext
    ) -> None:
        task = asyncio.ensure_future(
            self.handle_stream_cancelled(thread, pending.snapshot(), context)
        )
        _cleanup_tasks.add(task)
        task.add_done_callback(_forget_cleanup_task)
        # shield: if the host cancels again while we wait, the clean-up still completes.
        # A failure is logged by _forget_cleanup_task; the cancellation itself must go on.
        with contextlib.suppress(Exception):
            await asyncio.shield(task)

    async def _prepare(self, request: StreamingReq, context: TContext) -> _StreamPlan:
        match request:
            case ThreadsCreateReq():
                return await self._prepare_create(request, context)
            case ThreadsAddUserMessageReq():
                thread = await self._load_thread(request.params.thread_id, context)
                message = await self._build_user_message_item(request.params.input, thread, context)
                await self._save_user_message(thread, message, context)
                return _StreamPlan(
                    thread,
                    [ThreadItemDoneEvent(item=message)],
                    self._responder(thread, message, context),
                )
            case ThreadsAddClientToolOutputReq():
                return await self._prepare_tool_output(request, context)
            case ThreadsAddStructuredInputReq():
                return await self._prepare_structured_input(request, context)
            case ThreadsRetryAfterItemReq():
                return await self._prepare_retry(request, context)
            case ThreadsCustomActionReq():
                params = request.params
                thread = await self._load_thread(params.thread_id, context)
                item = await self._load_sender(params.thread_id, params.item_id, context)
                if item is not None and not isinstance(item, WidgetItem):
                    # As the official server does: one error event, nothing run.
                    return _StreamPlan(thread, [_NOT_A_WIDGET_ERROR])
                sender, action = item, params.action
                return _StreamPlan(thread, [], lambda: self.action(thread, action, sender, context))

    def _responder(
        self, thread: ThreadMetadata, item: UserMessageItem | None, context: TContext
    ) -> _Producer:
        return lambda: self.respond(thread, item, context)

    async def _prepare_create(self, request: ThreadsCreateReq, context: TContext) -> _StreamPlan:
        thread = ThreadMetadata(
            id=self.store.generate_thread_id(context), created_at=datetime.now(UTC)
        )
        # Attachments are loaded before the thread is saved, so an unknown attachment id
        # leaves no empty thread behind.
        message = await self._build_user_message_item(request.params.input, thread, context)
        thread.updated_at = datetime.now(UTC)
        # One unit: a failure leaves neither the thread nor its first message.
        await self.store.create_thread(thread, message, context=context)
        try:
            for attachment in message.attachments:
                await self.store.save_attachment(attachment, context=context)
        except BaseException:
            await self.store.delete_thread(thread.id, context=context)
            raise
        lead: list[ThreadStreamEvent] = [
            ThreadCreatedEvent(thread=self._to_thread_response(thread)),
            ThreadItemDoneEvent(item=message),
        ]
        return _StreamPlan(thread, lead, self._responder(thread, message, context))

    async def _prepare_tool_output(
        self, request: ThreadsAddClientToolOutputReq, context: TContext
    ) -> _StreamPlan:
        thread = await self._load_thread(request.params.thread_id, context)
        newest = await self.store.load_thread_items(thread.id, None, 1, "desc", context)
        call = newest.data[0] if newest.data else None
        if not isinstance(call, ClientToolCallItem) or call.status != "pending":
            raise InvalidRequestError(
                "invalid_params",
                f"params.thread_id: the newest item of thread {thread.id} is not a pending "
                "client tool call",
            )
        completed = call.model_copy(update={"output": request.params.result, "status": "completed"})
        await self.store.save_item(thread.id, completed, context=context)
        await self._cleanup_pending_client_tool_call(thread, context)
        return _StreamPlan(thread, [], self._responder(thread, None, context))

    async def _cleanup_pending_client_tool_call(
        self, thread: ThreadMetadata, context: TContext
    ) -> None:
        """Delete pending client tool calls among the newest items (should never exist)."""
        recent = await self.store.load_thread_items(
            thread.id, None, DEFAULT_PAGE_SIZE, "desc", context
        )
        for item in recent.data:
            if isinstance(item, ClientToolCallItem) and item.status == "pending":
                logger.warning("Deleting dangling pending client tool call %s", item.call_id)
                await self.store.delete_thread_item(thread.id, item.id, context=context)

    async def _prepare_structured_input(
        self, request: ThreadsAddStructuredInputReq, context: TContext
    ) -> _StreamPlan:
        params = request.params
        thread = await self._load_thread(params.thread_id, context)
        item = await self._load_item(params.thread_id, params.item_id, context)
        if not isinstance(item, StructuredInputItem) or item.status != "pending":
            raise InvalidRequestError(
                "invalid_params", "params.item_id: the item is not a pending structured input"
            )
        answered = await self._apply_structured_input_submission(item, params.input)

        async def replace_then_respond() -> AsyncIterator[ThreadStreamEvent]:
            # Replaced through the pipeline, so the usual replace rule persists it.
            yield ThreadItemReplacedEvent(item=answered)
            async for event in self.respond(thread, None, context):
                yield event

        return _StreamPlan(thread, [], replace_then_respond)

    async def _apply_structured_input_submission(
        self, item: StructuredInputItem, submission: StructuredInputSubmission
    ) -> StructuredInputItem:
        """Return a copy of `item` holding the submitted answers (protocol §5.4)."""
        if item.status != "pending":
            raise ValueError(f"Structured input item {item.id} is not pending")
        answered = copy_record(item)
        for question in answered.inputs:
            answer = submission.answers.get(question.id)
            if (
                submission.status == "skipped"
                or answer is None
                or answer.skipped
                or not answer.values
            ):
                question.answer = StructuredInputAnswer(values=[], skipped=True)
                continue
            values = list(answer.values)
            if question.type == "multiple_choice" and not question.multiple:
                values = values[:1]
            question.answer = StructuredInputAnswer(values=values, skipped=False)
        answered.status = submission.status
        return answered

    async def _prepare_retry(
        self, request: ThreadsRetryAfterItemReq, context: TContext
    ) -> _StreamPlan:
        params = request.params
        thread = await self._load_thread(params.thread_id, context)
        newer: list[ThreadItem] = []
        async for item in self._iter_items(thread.id, "desc", context, DEFAULT_PAGE_SIZE):
            if item.id != params.item_id:
                newer.append(item)
                continue
            if not isinstance(item, UserMessageItem):
                raise InvalidRequestError(
                    "invalid_params", "params.item_id: the item is not a user message"
                )
            for stale in newer:
                await self.store.delete_thread_item(thread.id, stale.id, context=context)
            return _StreamPlan(thread, [], self._responder(thread, item, context))
        # Unknown item: the reference answers with an empty stream and deletes nothing.
        return _StreamPlan(thread)

    # --- helpers -----------------------------------------------------------------------

    async def _load_thread(self, thread_id: str, context: TContext) -> ThreadMetadata:
        """Load a thread; a store that answers None (seed-style) means `NotFoundError`."""
        thread = cast(ThreadMetadata | None, await self.store.load_thread(thread_id, context))
        if thread is None:
            raise NotFoundError(f"Thread {thread_id} not found")
        return thread

    async def _load_item(self, thread_id: str, item_id: str, context: TContext) -> ThreadItem:
        """Load an item; a store that answers None means `NotFoundError`."""
        item = cast(ThreadItem | None, await self.store.load_item(thread_id, item_id, context))
        if item is None:
            raise NotFoundError(f"Item {item_id} not found in thread {thread_id}")
        return item

    async def _load_attachment(self, attachment_id: str, context: TContext) -> Attachment:
        """Load attachment metadata; a store that answers None means `NotFoundError`."""
        attachment = cast(
            Attachment | None, await self.store.load_attachment(attachment_id, context)
        )
        if attachment is None:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return attachment

    async def _save_thread(self, thread: ThreadMetadata, context: TContext) -> None:
        """Save a thread's metadata, stamping `updated_at` (server-private) with now."""
        thread.updated_at = datetime.now(UTC)
        await self.store.save_thread(thread, context=context)

    async def _build_user_message_item(
        self, input: UserMessageInput, thread: ThreadMetadata, context: TContext
    ) -> UserMessageItem:
        attachments = [
            (await self._load_attachment(attachment_id, context)).model_copy(
                update={"thread_id": thread.id}
            )
            for attachment_id in input.attachments
        ]
        return UserMessageItem(
            id=self.store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(UTC),
            content=input.content,
            attachments=attachments,
            quoted_text=input.quoted_text,
            inference_options=input.inference_options,
        )

    async def _save_user_message(
        self, thread: ThreadMetadata, message: UserMessageItem, context: TContext
    ) -> None:
        for attachment in message.attachments:
            await self.store.save_attachment(attachment, context=context)
        await self.store.add_thread_item(thread.id, message, context=context)

    async def _load_sender(
        self, thread_id: str, item_id: str | None, context: TContext
    ) -> ThreadItem | None:
        """Return the item an action names (it should be a widget item), or None."""
        if not item_id:
            return None
        return await self._load_item(thread_id, item_id, context)

    async def _load_full_thread(self, thread_id: str, context: TContext) -> Thread:
        metadata = await self._load_thread(thread_id, context)
        items = await self.store.load_thread_items(
            thread_id, None, DEFAULT_PAGE_SIZE, "asc", context
        )
        return Thread(**_fields(metadata), items=items)

    async def _iter_items(
        self,
        thread_id: str,
        order: str,
        context: TContext,
        page_size: int = _HISTORY_PAGE_SIZE,
    ) -> AsyncIterator[ThreadItem]:
        after: str | None = None
        while True:
            page = await self.store.load_thread_items(thread_id, after, page_size, order, context)
            for item in page.data:
                yield item
            if not page.has_more or page.after is None:
                return
            after = page.after

    def _serialize(self, obj: BaseModel) -> bytes:
        """Return the wire JSON of a protocol object (as every answer is serialized)."""
        return dump_json(obj)

    def _to_thread_response(self, thread: ThreadMetadata | Thread) -> Thread:
        """Return the thread as sent to clients: no private metadata, no hidden items.

        A metadata-only thread gets the shared `_NO_ITEMS` page: serialize the result, never
        mutate it.
        """
        items = _without_hidden(thread.items) if isinstance(thread, Thread) else _NO_ITEMS
        # Every value comes from an already validated thread: skip re-validation.
        return Thread.model_construct(
            id=thread.id,
            title=thread.title,
            created_at=thread.created_at,
            status=thread.status,
            allowed_image_domains=thread.allowed_image_domains,
            metadata={},
            items=items,
        )


def _page_size(limit: int | None) -> int:
    """Return the page size for a request's `limit` (see `DEFAULT_PAGE_SIZE`, `MAX_PAGE_SIZE`)."""
    if not limit:
        return DEFAULT_PAGE_SIZE
    if limit < 0:
        raise InvalidRequestError("invalid_params", "params.limit: must not be negative")
    return min(limit, MAX_PAGE_SIZE)


def _fields(metadata: ThreadMetadata) -> dict[str, Any]:
    return {name: getattr(metadata, name) for name in ThreadMetadata.model_fields}


def _without_hidden(page: Page[ThreadItem]) -> Page[ThreadItem]:
    # Filtering happens after paging, so has_more/after still describe the store's page.
    visible = [item for item in page.data if item.type not in HIDDEN_ITEM_TYPES]
    if len(visible) == len(page.data):
        return page
    return _ItemPage.model_construct(data=visible, has_more=page.has_more, after=page.after)


def _decode_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text)
    except (binascii.Error, ValueError):
        raise InvalidRequestError(
            "invalid_params", "params.audio_base64: not valid base64"
        ) from None


async def _close_quietly(stream: AsyncIterator[ThreadStreamEvent] | None) -> None:
    """Close an abandoned producer so its own clean-up (`finally`) runs."""
    aclose = getattr(stream, "aclose", None)
    if aclose is None:
        return
    try:
        await aclose()
    except Exception:
        logger.exception("Error while closing a response stream")


def _forget_cleanup_task(task: asyncio.Task[None]) -> None:
    _cleanup_tasks.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("Saving a cancelled stream failed", exc_info=task.exception())
