"""The console's live view of a thread, over a WebSocket, for signed-in members of its tenant.

    ws /t/<tenant>/live/threads/<thread>

Members (Django's session cookie, read by Channels' `AuthMiddlewareStack`) of the tenant get
every event of every run on the thread as it happens (new items arrive as
`thread.item.done`): `{"type": "thread.event", "event": {...}}` for each, and
`{"type": "run.done"}` when a run ends. Anyone else, including members of other tenants and
visitors naming a thread that does not exist, is refused at the handshake, all alike.

Runs publish only to watched threads (see chatkit_endpoints/runs.py): the view marks its
thread with `thread_watch` when it opens and every WATCH_REFRESH_SECONDS while it stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from chatkit_endpoints.runs import WATCH_REFRESH_SECONDS, RunKey, thread_watch
from tenants.exceptions import ObjectNotFound
from tenants.selectors import membership_get, tenant_get, thread_get

__all__ = ["LiveViewConsumer"]


def _thread_key_for_member(user: Any, tenant_slug: str, thread_id: str) -> RunKey | None:
    """Return the thread's run key if `user` is a member and the thread the tenant's (sync)."""
    if user is None or not user.is_authenticated:
        return None
    try:
        tenant = tenant_get(slug=tenant_slug)
        membership_get(tenant=tenant, user=user)
        thread = thread_get(tenant=tenant, thread_id=thread_id)
    except ObjectNotFound:
        return None
    # Runs are keyed by the agent that serves the thread and the thread's end user.
    return RunKey(tenant.pk, thread.agent_id or 0, thread.end_user_id, thread_id)


class LiveViewConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]  # untyped
    group: str | None = None
    _watching: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        kwargs = self.scope["url_route"]["kwargs"]
        key = await database_sync_to_async(_thread_key_for_member)(
            self.scope.get("user"), kwargs["tenant"], kwargs["thread"]
        )
        if key is None:
            await self.close()
            return
        self.group = key.group
        await self.channel_layer.group_add(self.group, self.channel_name)
        # After joining the group: a run told to publish now has somebody to publish to.
        await thread_watch(key)
        self._watching = asyncio.create_task(self._keep_watching(key))
        await self.accept()

    async def _keep_watching(self, key: RunKey) -> None:
        while True:
            await asyncio.sleep(WATCH_REFRESH_SECONDS)
            with contextlib.suppress(Exception):
                await thread_watch(key)

    async def disconnect(self, code: int) -> None:
        if self._watching is not None:
            self._watching.cancel()
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """The view only listens; what the browser sends is ignored."""

    async def run_events(self, message: dict[str, Any]) -> None:
        for chunk in message["chunks"]:
            event = json.loads(chunk.removeprefix(b"data: "))
            await self.send_json({"type": "thread.event", "event": event})

    async def run_done(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "run.done"})
