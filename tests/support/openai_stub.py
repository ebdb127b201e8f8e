"""A local OpenAI-compatible HTTP server for tests.

`OpenAIStub` listens on 127.0.0.1 (ephemeral port) in a background thread and answers
`GET /v1/models` (`stub.models`), `POST /v1/responses` and `POST /v1/chat/completions`,
streamed (real SSE, written and flushed event by event) or not. Tests script it turn by
turn: each model call takes the next scripted `Turn` (or `HTTPError`) from one shared
queue, whichever endpoint it hits.

    stub.add(Reasoning(["Thinking"]), "Hello there")      # one turn, two outputs
    stub.add(FunctionCall("get_weather", {"city": "Oslo"}))
    stub.add_error(HTTPError.rate_limit())

Every request is recorded (`stub.requests`): path, headers (lower-case keys) and parsed
JSON body, so tests can assert the model, instructions, tools and API key that were sent.
The event shapes follow the `openai` package's types (openai/types/responses/*,
openai/types/chat/*), with every required field present.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "FunctionCall",
    "HTTPError",
    "ImageGeneration",
    "OpenAIStub",
    "Output",
    "Reasoning",
    "RecordedRequest",
    "Refusal",
    "StreamError",
    "Text",
    "Turn",
]


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def _split_words(text: str) -> list[str]:
    """Split text into word-sized deltas (each word keeps its trailing whitespace)."""
    return re.findall(r"\s*\S+\s*|\s+", text) or [text]


# --------------------------------------------------------------------------- scripting


@dataclass
class Text:
    """An assistant message with one output_text part, streamed as many deltas.

    `unfinished` cuts the message after its deltas (no done events); follow it with a
    `StreamError` to fail in the middle of a message.
    """

    text: str
    deltas: list[str] | None = None
    annotations: list[dict[str, Any]] = field(default_factory=list)
    id: str = field(default_factory=lambda: _new_id("msg"))
    unfinished: bool = False

    def chunks(self) -> list[str]:
        return self.deltas if self.deltas is not None else _split_words(self.text)


@dataclass
class Refusal:
    """An assistant message whose only part is a refusal."""

    text: str
    id: str = field(default_factory=lambda: _new_id("msg"))


@dataclass
class FunctionCall:
    """A function tool call; `arguments` may be a dict (JSON-encoded) or a raw string."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    call_id: str = field(default_factory=lambda: _new_id("call"))
    id: str = field(default_factory=lambda: _new_id("fc"))

    @property
    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass
class Reasoning:
    """A reasoning item with summary parts (Chat Completions: `reasoning_content`)."""

    summary: list[str]
    id: str = field(default_factory=lambda: _new_id("rs"))


@dataclass
class ImageGeneration:
    """An image_generation_call (Responses only) with optional partial images."""

    result: str
    partial_images: list[str] = field(default_factory=list)
    id: str = field(default_factory=lambda: _new_id("ig"))


@dataclass
class StreamError:
    """Fail mid-stream: the outputs before it are sent, then an error event ends the stream."""

    message: str = "The server had an error while processing your request."
    code: str = "server_error"


Output = Text | Refusal | FunctionCall | Reasoning | ImageGeneration | StreamError


@dataclass
class Turn:
    """One scripted model answer.

    `delay` pauses between streamed events (slow streams); `headers_delay` pauses before
    any byte of the response is sent (timeouts).
    """

    outputs: list[Output]
    delay: float = 0.0
    headers_delay: float = 0.0
    input_tokens: int = 11
    output_tokens: int = 7


@dataclass
class HTTPError:
    """An HTTP error answer with an OpenAI-shaped body."""

    status: int
    message: str
    type: str
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    headers_delay: float = 0.0

    @classmethod
    def bad_key(cls) -> HTTPError:
        return cls(
            401,
            "Incorrect API key provided. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        )

    @classmethod
    def rate_limit(cls) -> HTTPError:
        return cls(
            429,
            "Rate limit reached for requests. Please try again in 20s.",
            "requests",
            "rate_limit_exceeded",
            headers={"retry-after": "20"},
        )

    @classmethod
    def server_error(cls) -> HTTPError:
        return cls(
            500,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
        )

    def body(self) -> dict[str, Any]:
        return {
            "error": {"message": self.message, "type": self.type, "param": None, "code": self.code}
        }


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def api_key(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))


Script = Turn | HTTPError
Responder = Callable[[RecordedRequest], Script]


# --------------------------------------------------------------------------- Responses API


class _ResponsesRenderer:
    """Build Responses API objects and stream events for one turn."""

    def __init__(self, turn: Turn, request: dict[str, Any]) -> None:
        self.turn = turn
        self.request = request
        self.response_id = _new_id("resp")
        self.created_at = int(time.time())
        self._seq = itertools.count()

    def event(self, type_: str, **fields: Any) -> dict[str, Any]:
        return {"type": type_, "sequence_number": next(self._seq), **fields}

    def response(self, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
        req = self.request
        done = status == "completed"
        usage = {
            "input_tokens": self.turn.input_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": self.turn.output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": self.turn.input_tokens + self.turn.output_tokens,
        }
        return {
            "id": self.response_id,
            "object": "response",
            "created_at": self.created_at,
            "completed_at": int(time.time()) if done else None,
            "status": status,
            "error": None,
            "incomplete_details": None,
            "instructions": req.get("instructions"),
            "max_output_tokens": req.get("max_output_tokens"),
            "metadata": req.get("metadata") or {},
            "model": req.get("model", "gpt-stub"),
            "output": output,
            "parallel_tool_calls": req.get("parallel_tool_calls", True),
            "previous_response_id": req.get("previous_response_id"),
            "reasoning": req.get("reasoning"),
            "temperature": req.get("temperature", 1.0),
            "text": {"format": {"type": "text"}},
            "tool_choice": req.get("tool_choice", "auto"),
            "tools": req.get("tools", []),
            "top_p": req.get("top_p", 1.0),
            "truncation": req.get("truncation", "disabled"),
            "usage": usage if done else None,
            "user": None,
        }

    def final_item(self, output: Output) -> dict[str, Any]:
        if isinstance(output, Text):
            part = {
                "type": "output_text",
                "text": output.text,
                "annotations": output.annotations,
                "logprobs": [],
            }
            return _message(output.id, "completed", [part])
        if isinstance(output, Refusal):
            return _message(output.id, "completed", [{"type": "refusal", "refusal": output.text}])
        if isinstance(output, FunctionCall):
            return _function_call(output, output.arguments_json, "completed")
        if isinstance(output, Reasoning):
            summary = [{"type": "summary_text", "text": s} for s in output.summary]
            return {"id": output.id, "type": "reasoning", "summary": summary}
        if isinstance(output, ImageGeneration):
            return {
                "id": output.id,
                "type": "image_generation_call",
                "status": "completed",
                "result": output.result,
            }
        raise TypeError(f"not an output item: {output!r}")

    def whole(self) -> dict[str, Any]:
        items = [self.final_item(o) for o in self.turn.outputs if not isinstance(o, StreamError)]
        return self.response("completed", items)

    def events(self) -> Iterator[dict[str, Any]]:
        yield self.event("response.created", response=self.response("in_progress", []))
        yield self.event("response.in_progress", response=self.response("in_progress", []))
        done: list[dict[str, Any]] = []
        for index, output in enumerate(self.turn.outputs):
            if isinstance(output, StreamError):
                yield self.event("error", code=output.code, message=output.message, param=None)
                return
            yield from self.item_events(output, index)
            if not (isinstance(output, Text) and output.unfinished):
                done.append(self.final_item(output))
        yield self.event("response.completed", response=self.response("completed", done))

    def item_events(self, output: Output, index: int) -> Iterator[dict[str, Any]]:
        if isinstance(output, Text):
            yield from self.text_events(output, index)
        elif isinstance(output, Refusal):
            yield from self.refusal_events(output, index)
        elif isinstance(output, FunctionCall):
            yield from self.function_call_events(output, index)
        elif isinstance(output, Reasoning):
            yield from self.reasoning_events(output, index)
        elif isinstance(output, ImageGeneration):
            yield from self.image_events(output, index)

    def text_events(self, out: Text, index: int) -> Iterator[dict[str, Any]]:
        at = {"item_id": out.id, "output_index": index}
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield self.event(
            "response.output_item.added",
            output_index=index,
            item=_message(out.id, "in_progress", []),
        )
        yield self.event("response.content_part.added", **at, content_index=0, part=part)
        for delta in out.chunks():
            yield self.event(
                "response.output_text.delta", **at, content_index=0, delta=delta, logprobs=[]
            )
        if out.unfinished:
            return
        for n, annotation in enumerate(out.annotations):
            yield self.event(
                "response.output_text.annotation.added",
                **at,
                content_index=0,
                annotation_index=n,
                annotation=annotation,
            )
        yield self.event(
            "response.output_text.done", **at, content_index=0, text=out.text, logprobs=[]
        )
        final = self.final_item(out)
        yield self.event(
            "response.content_part.done", **at, content_index=0, part=final["content"][0]
        )
        yield self.event("response.output_item.done", output_index=index, item=final)

    def refusal_events(self, out: Refusal, index: int) -> Iterator[dict[str, Any]]:
        at = {"item_id": out.id, "output_index": index, "content_index": 0}
        yield self.event(
            "response.output_item.added",
            output_index=index,
            item=_message(out.id, "in_progress", []),
        )
        yield self.event(
            "response.content_part.added", **at, part={"type": "refusal", "refusal": ""}
        )
        yield self.event("response.refusal.delta", **at, delta=out.text)
        yield self.event("response.refusal.done", **at, refusal=out.text)
        yield self.event(
            "response.content_part.done", **at, part={"type": "refusal", "refusal": out.text}
        )
        yield self.event("response.output_item.done", output_index=index, item=self.final_item(out))

    def function_call_events(self, out: FunctionCall, index: int) -> Iterator[dict[str, Any]]:
        at = {"item_id": out.id, "output_index": index}
        yield self.event(
            "response.output_item.added",
            output_index=index,
            item=_function_call(out, "", "in_progress"),
        )
        arguments = out.arguments_json
        for start in range(0, len(arguments), 8):
            yield self.event(
                "response.function_call_arguments.delta", **at, delta=arguments[start : start + 8]
            )
        yield self.event(
            "response.function_call_arguments.done", **at, arguments=arguments, name=out.name
        )
        yield self.event("response.output_item.done", output_index=index, item=self.final_item(out))

    def reasoning_events(self, out: Reasoning, index: int) -> Iterator[dict[str, Any]]:
        at = {"item_id": out.id, "output_index": index}
        yield self.event(
            "response.output_item.added",
            output_index=index,
            item={"id": out.id, "type": "reasoning", "summary": []},
        )
        for n, text in enumerate(out.summary):
            yield self.event(
                "response.reasoning_summary_part.added",
                **at,
                summary_index=n,
                part={"type": "summary_text", "text": ""},
            )
            for delta in _split_words(text):
                yield self.event(
                    "response.reasoning_summary_text.delta", **at, summary_index=n, delta=delta
                )
            yield self.event(
                "response.reasoning_summary_text.done", **at, summary_index=n, text=text
            )
            yield self.event(
                "response.reasoning_summary_part.done",
                **at,
                summary_index=n,
                part={"type": "summary_text", "text": text},
            )
        yield self.event("response.output_item.done", output_index=index, item=self.final_item(out))

    def image_events(self, out: ImageGeneration, index: int) -> Iterator[dict[str, Any]]:
        at = {"item_id": out.id, "output_index": index}
        pending = {
            "id": out.id,
            "type": "image_generation_call",
            "status": "in_progress",
            "result": None,
        }
        yield self.event("response.output_item.added", output_index=index, item=pending)
        yield self.event("response.image_generation_call.in_progress", **at)
        yield self.event("response.image_generation_call.generating", **at)
        for n, partial in enumerate(out.partial_images):
            yield self.event(
                "response.image_generation_call.partial_image",
                **at,
                partial_image_index=n,
                partial_image_b64=partial,
            )
        yield self.event("response.image_generation_call.completed", **at)
        yield self.event("response.output_item.done", output_index=index, item=self.final_item(out))


def _message(item_id: str, status: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def _function_call(out: FunctionCall, arguments: str, status: str) -> dict[str, Any]:
    return {
        "id": out.id,
        "type": "function_call",
        "call_id": out.call_id,
        "name": out.name,
        "arguments": arguments,
        "status": status,
    }


# --------------------------------------------------------------------------- Chat Completions


class _ChatRenderer:
    """Build Chat Completions objects and stream chunks for one turn."""

    def __init__(self, turn: Turn, request: dict[str, Any]) -> None:
        for output in turn.outputs:
            if isinstance(output, ImageGeneration):
                raise ValueError("Chat Completions cannot produce image_generation_call")
        self.turn = turn
        self.request = request
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.model = request.get("model", "gpt-stub")

    @property
    def calls(self) -> list[FunctionCall]:
        return [o for o in self.turn.outputs if isinstance(o, FunctionCall)]

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.calls else "stop"

    def usage(self) -> dict[str, Any]:
        t = self.turn
        return {
            "prompt_tokens": t.input_tokens,
            "completion_tokens": t.output_tokens,
            "total_tokens": t.input_tokens + t.output_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def whole(self) -> dict[str, Any]:
        texts = [o.text for o in self.turn.outputs if isinstance(o, Text)]
        refusals = [o.text for o in self.turn.outputs if isinstance(o, Refusal)]
        reasoning = [s for o in self.turn.outputs if isinstance(o, Reasoning) for s in o.summary]
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(texts) if texts else None,
            "refusal": "".join(refusals) if refusals else None,
            "annotations": [],
        }
        if reasoning:
            message["reasoning_content"] = "\n\n".join(reasoning)
        if self.calls:
            message["tool_calls"] = [
                {
                    "id": c.call_id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments_json},
                }
                for c in self.calls
            ]
        choice = {
            "index": 0,
            "message": message,
            "finish_reason": self.finish_reason,
            "logprobs": None,
        }
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
            "usage": self.usage(),
            "system_fingerprint": "fp_stub",
        }

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_stub",
            "choices": [choice],
        }

    def events(self) -> Iterator[dict[str, Any]]:
        yield self.chunk({"role": "assistant", "content": "", "refusal": None})
        call_index = itertools.count()
        for output in self.turn.outputs:
            if isinstance(output, StreamError):
                yield {
                    "error": {
                        "message": output.message,
                        "type": "server_error",
                        "param": None,
                        "code": output.code,
                    }
                }
                return
            yield from self.output_chunks(output, call_index)
        yield self.chunk({}, self.finish_reason)
        options = self.request.get("stream_options") or {}
        if options.get("include_usage"):
            final = self.chunk({})
            final["choices"] = []
            final["usage"] = self.usage()
            yield final

    def output_chunks(self, output: Output, call_index: Iterator[int]) -> Iterator[dict[str, Any]]:
        if isinstance(output, Text):
            for delta in output.chunks():
                yield self.chunk({"content": delta})
        elif isinstance(output, Refusal):
            yield self.chunk({"refusal": output.text})
        elif isinstance(output, Reasoning):
            for text in output.summary:
                for delta in _split_words(text):
                    yield self.chunk({"reasoning_content": delta})
        elif isinstance(output, FunctionCall):
            n = next(call_index)
            head = {
                "index": n,
                "id": output.call_id,
                "type": "function",
                "function": {"name": output.name, "arguments": ""},
            }
            yield self.chunk({"tool_calls": [head]})
            arguments = output.arguments_json
            for start in range(0, len(arguments), 8):
                piece = {"index": n, "function": {"arguments": arguments[start : start + 8]}}
                yield self.chunk({"tool_calls": [piece]})


# --------------------------------------------------------------------------- HTTP server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        """Answer `GET /v1/models` with `stub.models` (a provider's connection test)."""
        stub = self.server.stub
        path = self.path.split("?", 1)[0]
        record = RecordedRequest("GET", path, {k.lower(): v for k, v in self.headers.items()}, None)
        stub._record(record)
        if path != "/v1/models":
            self._not_found()
            return
        if stub.api_key is not None and record.api_key != stub.api_key:
            self._send_error(HTTPError.bad_key())
            return
        models = [{"id": name, "object": "model", "created": 0, "owned_by": "stub"}
                  for name in stub.models]  # fmt: skip
        self._send_json(200, {"object": "list", "data": models})

    def do_POST(self) -> None:
        stub = self.server.stub
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = self.path.split("?", 1)[0]
        record = RecordedRequest(
            "POST", path, {k.lower(): v for k, v in self.headers.items()}, body
        )
        stub._record(record)
        if path not in ("/v1/responses", "/v1/chat/completions"):
            self._not_found()
            return
        if stub.api_key is not None and record.api_key != stub.api_key:
            self._send_error(HTTPError.bad_key())
            return
        script = stub._next_script(record)
        if isinstance(script, HTTPError):
            self._send_error(script)
            return
        try:
            if path == "/v1/responses":
                renderer: _ResponsesRenderer | _ChatRenderer = _ResponsesRenderer(script, body)
            else:
                renderer = _ChatRenderer(script, body)
        except ValueError as exc:
            self._send_error(HTTPError(400, str(exc), "invalid_request_error"))
            return
        if not stub._sleep(script.headers_delay):
            return
        if record.stream:
            self._stream(renderer, script.delay, chat=path == "/v1/chat/completions")
        else:
            self._send_json(200, renderer.whole())

    def _not_found(self) -> None:
        self._send_error(HTTPError(404, f"Unknown path {self.path}", "invalid_request_error"))

    def _send_error(self, error: HTTPError) -> None:
        if not self.server.stub._sleep(error.headers_delay):
            return
        self._send_json(error.status, error.body(), error.headers)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:16]}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self._write(data)

    def _stream(
        self, renderer: _ResponsesRenderer | _ChatRenderer, delay: float, chat: bool
    ) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:16]}")
        self.end_headers()
        first = True
        for event in renderer.events():
            if not first and not self.server.stub._sleep(delay):
                return
            first = False
            # Responses streams name each event; Chat Completions streams send data only.
            head = "" if chat else f"event: {event.get('type', 'error')}\n"
            if not self._chunk(f"{head}data: {json.dumps(event)}\n\n".encode()):
                return
        if chat and not self._chunk(b"data: [DONE]\n\n"):
            return
        self._chunk(b"")

    def _chunk(self, data: bytes) -> bool:
        return self._write(b"%x\r\n%s\r\n" % (len(data), data))

    def _write(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return False
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, stub: OpenAIStub) -> None:
        self.stub = stub
        super().__init__(("127.0.0.1", 0), _Handler)


class OpenAIStub:
    """An OpenAI-compatible server on loopback, scripted turn by turn."""

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        """When set, requests with any other bearer token get a 401."""
        self.responder: Responder | None = None
        """Called for a request when no scripted turn is left."""
        self.models: list[str] = ["stub-large", "stub-mini"]
        """What `GET /v1/models` lists."""
        self._lock = threading.Lock()
        self._scripts: deque[Script] = deque()
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> OpenAIStub:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="openai-stub", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._server is not None, "stub not started"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The `base_url` to give an OpenAI client (ends in /v1)."""
        return f"http://127.0.0.1:{self.port}/v1"

    # scripting

    def add(self, *outputs: Output | str, delay: float = 0.0, headers_delay: float = 0.0) -> Turn:
        """Queue one turn; a plain string is a `Text` output."""
        items = [Text(o) if isinstance(o, str) else o for o in outputs]
        turn = Turn(items, delay=delay, headers_delay=headers_delay)
        self.add_turn(turn)
        return turn

    def add_turn(self, script: Script) -> None:
        with self._lock:
            self._scripts.append(script)

    def add_error(self, error: HTTPError | int) -> HTTPError:
        """Queue an HTTP error answer (401, 429 and 500 have ready-made bodies)."""
        if isinstance(error, int):
            error = {
                401: HTTPError.bad_key,
                429: HTTPError.rate_limit,
                500: HTTPError.server_error,
            }[error]()
        self.add_turn(error)
        return error

    @property
    def pending(self) -> int:
        """How many scripted answers are still unused."""
        with self._lock:
            return len(self._scripts)

    # recorded traffic

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        requests = self.requests
        assert requests, "the stub has received no request"
        return requests[-1]

    # used by the handler thread

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(record)

    def _next_script(self, record: RecordedRequest) -> Script:
        with self._lock:
            if self._scripts:
                return self._scripts.popleft()
        if self.responder is not None:
            return self.responder(record)
        return HTTPError(500, "openai stub: no scripted turn left", "server_error")

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the stub is closing; return False when it is."""
        if seconds <= 0:
            return not self._stopping.is_set()
        return not self._stopping.wait(seconds)
