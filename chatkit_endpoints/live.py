"""The console's live view of a thread, over a WebSocket, for signed-in members of its tenant.

    ws /t/<tenant>/live/threads/<thread>

Members (Django's session cookie, read by Channels' `AuthMiddlewareStack`) of the tenant get
every event of every run on the thread as it happens (new items arrive as
`thread.item.done`): `{"type": "thread.event", "event": {...}}` for each, and
`{"type": "run.done"}` when a run ends. Anyone else, including members of other tenants and
visitors naming a thread that does not exist, is refused at the handshake, all alike.
"""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from chatkit_endpoints.runs import thread_group
from tenants.exceptions import ObjectNotFound
from tenants.selectors import membership_get, tenant_get, thread_get

__all__ = ["LiveViewConsumer"]


def _thread_tenant_for_member(user: Any, tenant_slug: str, thread_id: str) -> int | None:
    """Return the tenant id if `user` is a member and the thread is the tenant's (sync)."""
    if user is None or not user.is_authenticated:
        return None
    try:
        tenant = tenant_get(slug=tenant_slug)
        membership_get(tenant=tenant, user=user)
        thread_get(tenant=tenant, thread_id=thread_id)
    except ObjectNotFound:
        return None
    return tenant.pk


class LiveViewConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]  # untyped
    group: str | None = None

    async def connect(self) -> None:
        kwargs = self.scope["url_route"]["kwargs"]
        tenant_id = await database_sync_to_async(_thread_tenant_for_member)(
            self.scope.get("user"), kwargs["tenant"], kwargs["thread"]
        )
        if tenant_id is None:
            await self.close()
            return
        self.group = thread_group(tenant_id, kwargs["thread"])
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
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
