"""A tiny Server-Sent Events parser for tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["SSEEvent", "collect_events", "parse_sse"]


@dataclass
class SSEEvent:
    data: str
    event: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


def parse_sse(text: str) -> list[SSEEvent]:
    """Parse a complete SSE body into events (comments and `id:`/`retry:` lines ignored)."""
    events: list[SSEEvent] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        if data:
            events.append(SSEEvent("\n".join(data), name))
    return events


async def collect_events(chunks: AsyncIterable[bytes] | Iterable[bytes]) -> list[dict[str, Any]]:
    """Join a streamed body and return each event's JSON payload, in order."""
    body = b""
    if isinstance(chunks, AsyncIterable):
        async for chunk in chunks:
            body += chunk
    else:
        body = b"".join(chunks)
    return [event.json() for event in parse_sse(body.decode())]
