"""Talk to a tenant's published agent from the terminal.

The command speaks the ChatKit protocol to the platform's server in-process: it sends
`threads.create` (or `threads.add_user_message` with --thread) through
`PlatformChatKitServer.process()` and prints the streamed answer as it arrives, so an
operator can try an agent, its tools and its provider without a browser.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from asgiref.sync import sync_to_async
from django.core.management.base import BaseCommand, CommandError

from chatkit_core.server import StreamingResult
from hosted_agents.chat_access import OperatorCredential, chat_context_build
from hosted_agents.exceptions import ObjectNotFound
from hosted_agents.runtime import PlatformChatKitServer, RequestContext


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
        context = access.context
        asyncio.run(self._chat(context, options))

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
        async for chunk in result:
            event = json.loads(chunk.removeprefix(b"data: "))
            self._show(event, raw=options["raw"])
        self.stdout.write("")

    def _show(self, event: dict[str, Any], *, raw: bool) -> None:
        if raw:
            self.stdout.write(json.dumps(event, ensure_ascii=False))
            return
        kind = event["type"]
        if kind == "thread.created":
            self.stdout.write(f"[thread {event['thread']['id']}]")
        elif kind == "thread.item.updated":
            update = event["update"]
            if update["type"] == "assistant_message.content_part.text_delta":
                self.stdout.write(update["delta"], ending="")
                self.stdout.flush()
        elif kind == "thread.item.done":
            item = event["item"]
            if item["type"] == "widget":
                self.stdout.write(f"\n[widget] {json.dumps(item['widget'], ensure_ascii=False)}")
            elif item["type"] == "client_tool_call":
                args = json.dumps(item["arguments"])
                self.stdout.write(f"\n[client tool call] {item['name']}({args})")
        elif kind == "progress_update":
            self.stdout.write(f"\n[progress] {event['text']}")
        elif kind == "error":
            self.stdout.write(f"\n[error] {event.get('message', event['code'])}")
