"""A synchronous client of a live ChatKit endpoint that reads real SSE as it arrives."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.live_server import LiveServer
from tests.support.sse import parse_sse


def user_input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


@dataclass
class Stream:
    """A streamed answer: the events, when each arrived, and the raw body."""

    status: int
    headers: httpx.Headers
    events: list[dict[str, Any]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    raw: str = ""

    def kinds(self) -> list[str]:
        return [event["type"] for event in self.events]

    def text(self) -> str:
        """The final text of the assistant messages."""
        return "".join(
            part["text"]
            for event in self.events
            if event["type"] == "thread.item.done" and event["item"]["type"] == "assistant_message"
            for part in event["item"]["content"]
        )

    def thread_id(self) -> str:
        created = next(event for event in self.events if event["type"] == "thread.created")
        thread_id: str = created["thread"]["id"]
        return thread_id


def read_stream(
    response: httpx.Response, until: Callable[[dict[str, Any]], bool] | None = None
) -> Stream:
    """Read SSE events as they arrive; stop after the first event `until` accepts."""
    stream = Stream(response.status_code, response.headers)
    buffer = ""
    for text in response.iter_text():
        stream.raw += text
        buffer += text
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            for event in parse_sse(block + "\n\n"):
                stream.events.append(event.json())
                stream.arrivals.append(time.monotonic())
                if until is not None and until(stream.events[-1]):
                    return stream
    return stream


@dataclass
class Endpoint:
    """A client of one agent's ChatKit endpoint, as a tenant's backend would call it."""

    server: LiveServer
    tenant: str
    agent: str
    token: str | None
    user: str | None = "user-1"
    origin: str | None = None
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))

    def close(self) -> None:
        self.client.close()

    def clone(self, **changes: Any) -> Endpoint:
        """Return a client of another endpoint, credential or user (same connection pool
        unless `client=` is given)."""
        values = {"server": self.server, "tenant": self.tenant, "agent": self.agent,
                  "token": self.token, "user": self.user, "origin": self.origin,
                  "client": self.client}  # fmt: skip
        return Endpoint(**(values | changes))

    @property
    def path(self) -> str:
        return f"/t/{self.tenant}/agents/{self.agent}/chatkit"

    def headers(self, **extra: str) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self.token is not None:
            headers["authorization"] = f"Bearer {self.token}"
        if self.user is not None:
            headers["x-chatkit-user"] = self.user
        if self.origin is not None:
            headers["origin"] = self.origin
        return headers | extra

    def post(self, body: Any, **headers: str) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.post(
            self.server.url(self.path), content=content, headers=self.headers(**headers)
        )

    def call(self, type_: str, **params: Any) -> Any:
        response = self.post({"type": type_, "params": params})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        return response.json()

    def stream(
        self, type_: str, until: Callable[[dict[str, Any]], bool] | None = None, **params: Any
    ) -> Stream:
        content = json.dumps({"type": type_, "params": params}).encode()
        with self.client.stream(
            "POST", self.server.url(self.path), content=content, headers=self.headers()
        ) as response:
            return read_stream(response, until)

    def create(self, text: str, **kwargs: Any) -> Stream:
        return self.stream("threads.create", input=user_input(text), **kwargs)

    def follow(self, thread_id: str) -> Stream:
        path = f"/t/{self.tenant}/agents/{self.agent}/threads/{thread_id}/stream"
        headers = self.headers()
        del headers["content-type"]
        with self.client.stream("GET", self.server.url(path), headers=headers) as response:
            return read_stream(response)


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Return the first truthy value of `condition()`, polling for up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")
