"""The per-agent ChatKit endpoint and the run-follow stream, as Channels HTTP consumers.

    POST    /t/<tenant>/agents/<agent>/chatkit                   every protocol request
    GET     /t/<tenant>/agents/<agent>/threads/<thread>/stream   follow the run in progress
    OPTIONS (both)                                               CORS preflight

Each request passes, in order: the body limit (413, read as it arrives), the content type
(415), the credential (401/403/404, one hop and one SQL statement, see auth.py), the
Origin (403, see origins.py), the per-minute limits (429) and, before a streamed turn, the
monthly quota (429). Only then does the platform's server see the body: a non-streaming
answer is JSON, a streaming one Server-Sent Events written as each event is produced (those
that follow a write within `CHATKIT_SSE_COALESCE_MS` go out together at the end of that
window), with a keep-alive comment when nothing was written for
`CHATKIT_SSE_KEEPALIVE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.http import AsyncHttpConsumer
from django.conf import settings

from chatkit_core.errors import ProtocolError
from chatkit_core.server import NonStreamingResult
from chatkit_core.store import NotFoundError
from chatkit_endpoints import origins
from chatkit_endpoints.attachments import PlatformAttachmentStore, endpoint_base_url
from chatkit_endpoints.auth import authenticate
from chatkit_endpoints.errors import EndpointError, error_body, from_protocol_error
from chatkit_endpoints.limits import quota_enforce, rate_limit_enforce
from chatkit_endpoints.runs import (
    DetachedRun,
    Feed,
    RunKey,
    ThreadBusy,
    run_claim,
    run_follow,
    run_lookup,
    run_release,
)
from hosted_agents.chat_access import ChatAccess
from hosted_agents.runtime import PlatformChatKitServer
from operations.context import log_context_bind
from operations.metrics import ACTIVE_STREAMS, FIRST_EVENT_SECONDS, STREAM_SECONDS

__all__ = ["ChatKitConsumer", "ThreadStreamConsumer"]

logger = logging.getLogger(__name__)

STREAMING_TYPES = frozenset(
    {
        "threads.create",
        "threads.add_user_message",
        "threads.add_client_tool_output",
        "threads.add_structured_input",
        "threads.retry_after_item",
        "threads.custom_action",
    }
)
# Requests whose one read is made in the hop that authenticates them.
READ_AHEAD_TYPES = frozenset({"threads.list", "items.list"})
KEEPALIVE = b": keep-alive\n\n"
_JSON = (b"content-type", b"application/json")
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    # Proxies such as nginx buffer responses unless told not to.
    (b"x-accel-buffering", b"no"),
]
_STREAM_FAILED = b'data: {"type":"error","code":"stream.error","allow_retry":false}\n\n'
_THREAD_BUSY = (
    b'data: {"type":"error","code":"custom","message":"This conversation is still answering '
    b'the previous message. Wait for the answer to finish, then send again.",'
    b'"allow_retry":true}\n\n'
)


class _EndpointConsumer(AsyncHttpConsumer):  # type: ignore[misc]  # untyped
    """What both endpoints share: reading the request, admitting the caller, answering."""

    methods: tuple[str, ...] = ()
    # The `endpoint` label of the stream metrics.
    metrics_name = ""
    # No channel of its own per request: a run's events travel through channels it makes.
    channel_layer_alias = "no channel layer for plain requests"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._size = 0
        self._started = False
        self._written_at = 0.0  # monotonic time of the last write of a stream
        self._cors: list[tuple[bytes, bytes]] = []

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections before every handler; the ORM hops
        # (database_sync_to_async) already do, so this skips one hop per request.
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def http_request(self, message: dict[str, Any]) -> None:
        chunk = message.get("body", b"")
        self._size += len(chunk)
        if self._size > settings.CHATKIT_MAX_REQUEST_BYTES or self._declared_too_big():
            await self._refuse(_too_large())
            raise StopConsumer()
        self.body.append(chunk)
        if not message.get("more_body"):
            try:
                await self.handle(b"".join(self.body))
            finally:
                await self.disconnect()
            raise StopConsumer()

    def _declared_too_big(self) -> bool:
        declared = self.headers.get(b"content-length", b"0")
        return declared.isdigit() and int(declared) > settings.CHATKIT_MAX_REQUEST_BYTES

    @property
    def headers(self) -> dict[bytes, bytes]:
        headers: dict[bytes, bytes] | None = self.scope.get("chatkit_headers")
        if headers is None:
            headers = self.scope["chatkit_headers"] = dict(self.scope["headers"])
        return headers

    @property
    def path_kwargs(self) -> dict[str, str]:
        kwargs: dict[str, str] = self.scope["url_route"]["kwargs"]
        return kwargs

    async def handle(self, body: bytes) -> None:
        try:
            method = self.scope["method"]
            if method == "OPTIONS":
                await self._preflight()
            elif method not in self.methods:
                allow = ", ".join((*self.methods, "OPTIONS")).encode()
                raise EndpointError(
                    405, "method_not_allowed", "Use " + allow.decode(), [(b"allow", allow)]
                )
            else:
                await self.serve(body)
        except EndpointError as error:
            await self._refuse(error)
        except Exception:
            logger.exception("The ChatKit endpoint failed on %s", self.scope["path"])
            await self._refuse(
                EndpointError(500, "internal_error", "The server failed; it has been logged.")
            )

    async def serve(self, body: bytes) -> None:
        raise NotImplementedError

    async def admit(
        self, read_ahead: bytes | None = None, **server_options: Any
    ) -> tuple[ChatAccess, PlatformChatKitServer]:
        """Authenticate, check the Origin and count the request; return the caller's access
        and the server for it.

        `read_ahead`: a list request whose read is made in the authentication's hop (see
        `PlatformChatKitServer.prefetch`), so that it needs no hop of its own. It is made
        before the Origin and the limits are checked; a refusal drops what was read.
        """
        kwargs = self.path_kwargs
        client = self.scope.get("client")
        access, server = await _admit_hop(
            headers=self.headers,
            tenant_slug=kwargs["tenant"],
            agent_slug=kwargs["agent"],
            ip=client[0] if client else None,
            read_ahead=read_ahead,
            server_options=server_options,
        )
        origin = self.headers.get(b"origin")
        if origin is not None:
            self._cors = origins.origin_check(
                origin.decode("latin-1"), access.context.tenant, access.context.agent, self.scope
            )
        # Every log line of the request (and of its detached run) names them from here on.
        log_context_bind(tenant=access.context.tenant.slug, agent=access.context.agent.slug)
        await rate_limit_enforce(access)
        return access, server

    async def _preflight(self) -> None:
        kwargs = self.path_kwargs
        origin = self.headers.get(b"origin", b"").decode("latin-1")
        headers = await database_sync_to_async(origins.preflight)(
            origin=origin,
            tenant_slug=kwargs["tenant"],
            agent_slug=kwargs["agent"],
            scope=self.scope,
            methods=self.methods,
        )
        await self.send_response(204, b"", headers=headers)

    async def _refuse(self, error: EndpointError) -> None:
        if self._started:
            # Headers are out: a refusal can only be a protocol error event now.
            await self.send_body(_STREAM_FAILED)
            return
        self._started = True
        if not self._cors and error.code != "origin_not_allowed":
            self._cors = await self._refusal_cors()
        headers = [_JSON, *self._cors, *error.headers]
        body = error_body(error.code, error.message, **error.details)
        await self.send_response(error.status, body, headers=headers)

    async def _refusal_cors(self) -> list[tuple[bytes, bytes]]:
        """Return CORS headers for a refusal that came before the Origin check, if allowed."""
        origin = self.headers.get(b"origin")
        kwargs = self.scope.get("url_route", {}).get("kwargs", {})
        if origin is None or "tenant" not in kwargs or "agent" not in kwargs:
            return []
        try:
            headers: list[tuple[bytes, bytes]] = await database_sync_to_async(
                origins.refusal_headers
            )(
                origin=origin.decode("latin-1"),
                tenant_slug=kwargs["tenant"],
                agent_slug=kwargs["agent"],
                scope=self.scope,
            )
        except Exception:
            logger.exception("Checking the origin of a refusal failed")
            return []
        return headers

    async def send_json(self, body: bytes) -> None:
        self._started = True
        await self.send_response(200, body, headers=[_JSON, *self._cors])

    async def send_events(self, events: Feed) -> None:
        """Write each event as it arrives, with keep-alive comments while none comes."""
        self._started = True
        await self.send_headers(status=200, headers=[*_SSE_HEADERS, *self._cors])
        active = ACTIVE_STREAMS.labels(self.metrics_name)
        active.inc()
        started = time.monotonic()
        try:
            # In a task of its own: this task sits under a dozen frames of routing and
            # middleware, all resumed at every wake-up; the writer's stack is two frames.
            # (Cancelling this task, as the server does when it gives up, cancels it too.)
            await asyncio.create_task(self._write_events(events))
        finally:
            active.dec()
            STREAM_SECONDS.labels(self.metrics_name).observe(time.monotonic() - started)

    async def _write_events(self, events: Feed) -> None:
        # One keep-alive timer for the whole stream rather than a timeout around each wait
        # for an event: a turn writes dozens of events, and arming and cancelling a timer
        # for each was the largest part of this loop's CPU.
        self._written_at = time.monotonic()
        pinger = asyncio.create_task(self._keep_alive(settings.CHATKIT_SSE_KEEPALIVE_SECONDS))
        # An event that comes after a quiet moment is written at once; those that follow it
        # within the window go out together at its end, in one write. A fast model makes an
        # event every few dozen microseconds: writing each alone was most of what this
        # endpoint added to a turn (bench/endpoint_load.md), for no gain a reader can see.
        window = settings.CHATKIT_SSE_COALESCE_MS / 1000
        loop = asyncio.get_running_loop()
        try:
            first = True
            not_before = 0.0
            while (batch := await events.take(not_before)) is not None:
                if first:
                    first = False
                    self._first_event_observe()
                await self._write(batch[0] if len(batch) == 1 else b"".join(batch))
                not_before = loop.time() + window
        finally:
            pinger.cancel()
            # Once it has stopped, nothing else is written before the end of the body.
            await asyncio.gather(pinger, return_exceptions=True)
        await self.send_body(b"")

    async def _write(self, data: bytes) -> None:
        self._written_at = time.monotonic()
        await self.send_body(data, more_body=True)

    async def _keep_alive(self, seconds: float) -> None:
        """Write a comment whenever nothing was written for `seconds`."""
        while True:
            await asyncio.sleep(max(0.0, self._written_at + seconds - time.monotonic()))
            if time.monotonic() - self._written_at >= seconds:
                await self._write(KEEPALIVE)

    def _first_event_observe(self) -> None:
        request = self.scope.get("ckp_request")  # set by operations.asgi
        if request is not None:
            elapsed = time.monotonic() - request["started"]
            FIRST_EVENT_SECONDS.labels(self.metrics_name).observe(elapsed)


class ChatKitConsumer(_EndpointConsumer):
    """POST /t/<tenant>/agents/<agent>/chatkit: the ChatKit protocol."""

    methods = ("POST",)
    metrics_name = "chatkit"

    async def serve(self, body: bytes) -> None:
        content_type = self.headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type != b"application/json":
            raise EndpointError(
                415, "unsupported_media_type", "Send the request as Content-Type: application/json."
            )
        kind, thread_id = _peek(body)
        access, server = await self.admit(
            body if kind in READ_AHEAD_TYPES else None,
            attachment_store=PlatformAttachmentStore(endpoint_base_url(self.scope)),
        )
        context = access.context
        streaming = kind in STREAMING_TYPES
        if streaming:
            await quota_enforce(context.tenant)
        owner = RunKey(context.tenant.pk, context.agent.pk, context.end_user_id, thread_id or "")
        channel = None
        if streaming and thread_id:
            try:
                channel = await run_claim(owner)
            except ThreadBusy:
                await self._busy()
                return
        try:
            result = await server.process(body, context)
        except BaseException as error:
            if channel is not None:
                await run_release(owner)
            if isinstance(error, ProtocolError | NotFoundError):
                raise from_protocol_error(error) from None
            raise
        if isinstance(result, NonStreamingResult):
            await self.send_json(result.json)
            return
        run = await DetachedRun.start(result, owner, channel)
        await self.send_events(run.subscribe())

    async def _busy(self) -> None:
        await self.send_events(Feed([_THREAD_BUSY], closed=True))


class ThreadStreamConsumer(_EndpointConsumer):
    """GET /t/<tenant>/agents/<agent>/threads/<thread>/stream: follow the run in progress.

    Answers the run's events so far and then its live events, until it ends (SSE); 204 when
    the thread has no run in progress, 404 when the caller has no such thread.
    """

    methods = ("GET",)
    metrics_name = "follow"

    async def serve(self, body: bytes) -> None:
        access, server = await self.admit()
        context = access.context
        thread_id = self.path_kwargs["thread"]
        key = RunKey(context.tenant.pk, context.agent.pk, context.end_user_id, thread_id)
        run_channel = await run_lookup(key)
        if run_channel is None:
            try:
                await server.store.load_thread(thread_id, context)
            except NotFoundError as error:
                raise from_protocol_error(error) from None
            self._started = True
            await self.send_response(204, b"", headers=self._cors)
            return
        feed = Feed()
        pump = asyncio.create_task(_pump(run_follow(key, run_channel), feed))
        try:
            await self.send_events(feed)
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)


def _admit_sync(
    *,
    headers: dict[bytes, bytes],
    tenant_slug: str,
    agent_slug: str,
    ip: str | None,
    read_ahead: bytes | None,
    server_options: dict[str, Any] | None = None,
) -> tuple[ChatAccess, PlatformChatKitServer]:
    access = authenticate(headers=headers, tenant_slug=tenant_slug, agent_slug=agent_slug, ip=ip)
    server = PlatformChatKitServer.for_request(access.context, **(server_options or {}))
    if read_ahead is not None:
        server.prefetch(read_ahead)
    return access, server


# One hop, one statement for the credential (see auth.py), and a list's read with it.
_admit_hop = database_sync_to_async(_admit_sync)


async def _pump(source: AsyncIterator[bytes], feed: Feed) -> None:
    try:
        async for chunk in source:
            feed.push(chunk)
    finally:
        feed.close()


def _peek(body: bytes) -> tuple[str | None, str | None]:
    """Return the request's type and thread id, or Nones (process() then says what is wrong)."""
    try:
        request = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(request, dict):
        return None, None
    kind = request.get("type")
    params = request.get("params")
    thread_id = params.get("thread_id") if isinstance(params, dict) else None
    return (
        kind if isinstance(kind, str) else None,
        thread_id if isinstance(thread_id, str) and thread_id else None,
    )


def _too_large() -> EndpointError:
    limit = settings.CHATKIT_MAX_REQUEST_BYTES
    return EndpointError(
        413, "request_too_large", f"The request body is larger than {limit} bytes.", limit=limit
    )
