"""`ClientSessionStore`: the store of one client session's end user, under its history rules.

A session's `chatkit_configuration.history` decides what its end user may see of earlier
threads, as in OpenAI's hosted ChatKit:

* `enabled: false`: `threads.list` returns nothing, and a thread started before the
  session is refused like a missing one (load, items, delete); threads the end user
  starts during the session work as usual;
* `recent_threads: N`: `threads.list` shows the N most recent threads and no more,
  whatever the page size or cursor; the threads themselves stay reachable by id.

With history on and no cap it is exactly the `DjangoStore` narrowed to the session's agent
and end user, query for query. The ChatKit endpoint builds one per request:

    store = ClientSessionStore(session)   # session from client_secret_authenticate
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatkit_core.store import NotFoundError, TContext
from chatkit_core.types import Page, ThreadItem, ThreadMetadata
from tenants.store import DjangoStore

if TYPE_CHECKING:
    from tenants.models import ClientSession

__all__ = ["ClientSessionStore", "thread_visible_in_session"]


def thread_visible_in_session(session: ClientSession, thread: ThreadMetadata) -> bool:
    """Return whether the session's end user may open `thread` (already theirs)."""
    return session.history_enabled or thread.created_at >= session.created_at


def _window_page(
    window: list[ThreadMetadata], limit: int, after: str | None
) -> Page[ThreadMetadata]:
    start = 0
    if after is not None:
        ids = [thread.id for thread in window]
        if after not in ids:
            return Page(data=[], has_more=False)  # a cursor outside the window ends the list
        start = ids.index(after) + 1
    data = window[start : start + max(limit, 0)]
    has_more = start + len(data) < len(window)
    return Page(data=data, has_more=has_more, after=data[-1].id if has_more and data else None)


class ClientSessionStore(DjangoStore[TContext]):
    """A `DjangoStore` of the session's tenant, agent and end user, with its history rules."""

    def __init__(self, session: ClientSession) -> None:
        super().__init__(session.tenant, agent=session.agent, end_user_id=session.end_user_id)
        self._session = session

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: TContext
    ) -> Page[ThreadMetadata]:
        session = self._session
        if not session.history_enabled:
            return Page(data=[], has_more=False)
        cap = session.recent_threads
        if cap is None:
            return await super().load_threads(limit, after, order, context)
        # One query for the whole window (cap is small); the page is cut from it.
        window = (await super().load_threads(cap, None, "desc", context)).data
        if order == "asc":
            window.reverse()
        return _window_page(window, limit, after)

    # Reads ahead only where the calls below pass through to DjangoStore's unchanged.
    def prefetch_threads(self, limit: int, after: str | None, order: str) -> None:
        if self._session.history_enabled and self._session.recent_threads is None:
            super().prefetch_threads(limit, after, order)

    def prefetch_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str
    ) -> None:
        if self._session.history_enabled:
            super().prefetch_thread_items(thread_id, after, limit, order)

    async def load_thread(self, thread_id: str, context: TContext) -> ThreadMetadata:
        thread = await super().load_thread(thread_id, context)
        if not thread_visible_in_session(self._session, thread):
            raise NotFoundError(f"Thread {thread_id} not found")
        return thread

    async def _check_visible(self, thread_id: str, context: TContext) -> None:
        # Only with history off: otherwise the narrowed queries need no check.
        if not self._session.history_enabled:
            await self.load_thread(thread_id, context)

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: TContext
    ) -> Page[ThreadItem]:
        await self._check_visible(thread_id, context)
        return await super().load_thread_items(thread_id, after, limit, order, context)

    async def delete_thread(self, thread_id: str, context: TContext) -> None:
        await self._check_visible(thread_id, context)
        await super().delete_thread(thread_id, context)
