"""Talk to a tenant's published agent from the terminal.

The command speaks the ChatKit protocol to the platform's server in-process: it sends
`threads.create` (or `threads.add_user_message` with --thread) through
`PlatformChatKitServer.process()` and prints the streamed answer as it arrives, so an
operator can try an agent, its tools and its provider without a browser.

The answer's text streams as it comes; widgets are printed as text (a table as aligned
columns), progress and errors on lines of their own, and a client tool call (which only a
browser client can run) ends the turn with a sentence saying so. `--raw` prints every
protocol event as one JSON line. Output into a pipe closed early (`chat --raw | head`) ends
the command quietly.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from asgiref.sync import sync_to_async
from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from chatkit_core.server import StreamingResult
from hosted_agents.chat_access import OperatorCredential, chat_context_build
from hosted_agents.exceptions import ObjectNotFound
from hosted_agents.runtime import PlatformChatKitServer, RequestContext

# Widget nodes whose `value` is text to show.
_TEXT_NODES = frozenset({"Text", "Title", "Caption", "Markdown", "Label"})


class Command(BaseCommand):
    help = "Send a message to a tenant's agent and print the streamed answer."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("tenant", help="tenant slug")
        parser.add_argument("agent", help="agent slug")
        parser.add_argument("message", help="what the user says")
        parser.add_argument("--thread", help="continue this thread id instead of starting one")
        parser.add_argument("--user", default="cli", help="end-user id (default: cli)")
        parser.add_argument("--raw", action="store_true", help="print every protocol event")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            access = chat_context_build(
                tenant_slug=options["tenant"],
                agent_slug=options["agent"],
                end_user_id=options["user"],
                credential=OperatorCredential(),
            )
        except ObjectNotFound:
            raise CommandError(
                f"no agent {options['agent']!r} in a tenant {options['tenant']!r}"
            ) from None
        try:
            asyncio.run(self._chat(access.context, options))
        except BrokenPipeError:
            # The reader left (`| head`): stop quietly. Point stdout at /dev/null so that
            # the interpreter's last flush at exit does not fail on the closed pipe too.
            _silence_stdout()

    async def _chat(self, context: RequestContext, options: dict[str, Any]) -> None:
        server = await sync_to_async(PlatformChatKitServer.for_request)(context)
        user_input = {
            "content": [{"type": "input_text", "text": options["message"]}],
            "attachments": [],
            "inference_options": {},
        }
        if options["thread"]:
            request = {
                "type": "threads.add_user_message",
                "params": {"thread_id": options["thread"], "input": user_input},
            }
        else:
            request = {"type": "threads.create", "params": {"input": user_input}}
        result = await server.process(json.dumps(request).encode(), context)
        if not isinstance(result, StreamingResult):
            raise CommandError("the server did not answer with a stream")
        transcript = Transcript(self.stdout, raw=options["raw"])
        try:
            async for chunk in result:
                transcript.show(json.loads(chunk.removeprefix(b"data: ")))
            transcript.end()
        finally:
            # A stream left early (the pipe closed) is closed here, as a client leaving.
            await result.json_events.aclose()


class Transcript:
    """Print protocol events for a person: text as it streams, everything else on its line."""

    def __init__(self, out: OutputWrapper, *, raw: bool = False) -> None:
        self.out = out
        self.raw = raw
        self.at_line_start = True

    def show(self, event: dict[str, Any]) -> None:
        if self.raw:
            self._line(json.dumps(event, ensure_ascii=False))
            return
        kind = event["type"]
        if kind == "thread.created":
            self._line(f"[thread {event['thread']['id']}]")
        elif kind == "thread.item.updated":
            update = event["update"]
            if update["type"] == "assistant_message.content_part.text_delta":
                self.out.write(update["delta"], ending="")
                self.out.flush()
                self.at_line_start = update["delta"].endswith("\n")
        elif kind == "thread.item.done":
            self._item(event["item"])
        elif kind == "progress_update":
            self._line(f"[progress] {event['text']}")
        elif kind == "error":
            self._line(f"[error] {event.get('message') or event['code']}")

    def end(self) -> None:
        if not self.raw and not self.at_line_start:
            self.out.write("")
            self.at_line_start = True

    def _item(self, item: dict[str, Any]) -> None:
        if item["type"] == "widget":
            self._line("[widget]")
            for line in widget_lines(item["widget"]):
                self._line(f"  {line}" if line else "")
        elif item["type"] == "client_tool_call":
            arguments = json.dumps(item.get("arguments", {}), ensure_ascii=False)
            self._line(f"[client tool call] {item['name']}({arguments})")
            self._line(
                "The agent asked the chat client to run this tool in the browser and send "
                "back its result. The terminal cannot run client tools, so the turn ends here."
            )

    def _line(self, text: str) -> None:
        if not self.at_line_start:
            self.out.write("")  # end the streamed text first: one line break, not two
        self.out.write(text)
        self.at_line_start = True


def widget_lines(widget: dict[str, Any]) -> list[str]:
    """Return a widget tree as lines of text; rows of cells are aligned as a table."""
    blocks: list[str | list[str]] = []
    _walk(widget, blocks)
    lines: list[str] = []
    table: list[list[str] | None] = []  # None: a divider between rows

    def end_table() -> None:
        while table and table[-1] is None:
            table.pop()
        if table:
            lines.extend(_aligned(table))
        table.clear()

    for block in blocks:
        if isinstance(block, list):
            table.append(block)
        elif block == _DIVIDER:
            if table:
                table.append(None)
            elif lines:
                lines.append("-" * len(lines[-1]))
        else:
            end_table()
            if block:
                lines.append(block)
    end_table()
    return lines


_DIVIDER = "\x00divider"


def _walk(node: dict[str, Any], blocks: list[str | list[str]]) -> None:
    kind = node.get("type")
    children = [child for child in node.get("children") or [] if isinstance(child, dict)]
    if kind in _TEXT_NODES:
        blocks.append(str(node.get("value", "")))
    elif kind == "Divider":
        blocks.append(_DIVIDER)
    elif kind == "Row" and children:
        blocks.append([" ".join(_texts(child)) for child in children])
    else:
        for child in children:
            _walk(child, blocks)


def _texts(node: dict[str, Any]) -> list[str]:
    if node.get("type") in _TEXT_NODES:
        return [str(node.get("value", ""))]
    return [text for child in node.get("children") or [] for text in _texts(child)]


def _aligned(rows: list[list[str] | None]) -> list[str]:
    cells = [row for row in rows if row is not None]
    columns = max(len(row) for row in cells)
    widths = [max(len(row[n]) if n < len(row) else 0 for row in cells) for n in range(columns)]
    total = sum(widths) + 2 * (columns - 1)
    return [
        "-" * total
        if row is None
        else "  ".join(cell.ljust(widths[n]) for n, cell in enumerate(row)).rstrip()
        for row in rows
    ]


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (a test's StringIO)
        pass
