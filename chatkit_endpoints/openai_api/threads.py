"""GET /v1/chatkit/threads, GET and DELETE /v1/chatkit/threads/{id}, GET .../{id}/items.

The tenant's backend sees every thread of the tenant, of every agent and end user (`user`
narrows the list to one end user). Lists are cursor pages as OpenAI's:
`{"object": "list", "data", "first_id", "last_id", "has_more"}`; the official client asks
for the next page with `after=<last_id>`.
"""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from chatkit_endpoints.openai_api.auth import request_actor, request_tenant
from chatkit_endpoints.openai_api.items import (
    LISTED_TYPES,
    ThreadItemOut,
    thread_item_out,
    unix_seconds,
)
from tenants.models import Thread
from tenants.selectors import thread_get, thread_item_page, thread_page
from tenants.services import thread_delete

router = Router(tags=["threads"])

MAX_LIMIT = 100


class PageQuery(Schema):
    after: str | None = None
    before: str | None = None
    limit: int = Field(default=20, ge=1, le=MAX_LIMIT)
    order: Literal["asc", "desc"] = "desc"


class ThreadListQuery(PageQuery):
    user: str | None = Field(default=None, min_length=1, max_length=200)


class ThreadItemListQuery(PageQuery):
    pass


class ThreadStatusOut(Schema):
    type: Literal["active", "locked", "closed"]
    reason: str | None = None


class _ThreadOut(Schema):
    id: str
    object: Literal["chatkit.thread"]
    created_at: int
    title: str | None
    user: str
    status: ThreadStatusOut


class ThreadRetrieveOut(_ThreadOut):
    pass


class ThreadListOut(Schema):
    object: Literal["list"]
    data: list[_ThreadOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


class ThreadDeleteOut(Schema):
    id: str
    object: Literal["chatkit.thread.deleted"]
    deleted: bool


class ThreadItemListOut(Schema):
    object: Literal["list"]
    data: list[ThreadItemOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


def _status(status: Any) -> dict[str, Any]:
    kind = status.get("type") if isinstance(status, dict) else None
    if kind in ("locked", "closed"):
        return {"type": kind, "reason": status.get("reason")}
    return {"type": "active"}


def _thread_out(thread: Thread) -> dict[str, Any]:
    return {
        "id": thread.public_id,
        "object": "chatkit.thread",
        "created_at": unix_seconds(thread.created_at),
        "title": thread.title,
        "user": thread.end_user_id,
        "status": _status(thread.status),
    }


def _list_out(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


@router.get("/threads", response=ThreadListOut, url_name="thread_list")
def thread_list(request: HttpRequest, query: Query[ThreadListQuery]) -> dict[str, Any]:
    threads, has_more = thread_page(
        tenant=request_tenant(request),
        end_user_id=query.user,
        after=query.after,
        before=query.before,
        limit=query.limit,
        order=query.order,
    )
    return _list_out([_thread_out(thread) for thread in threads], has_more)


@router.get("/threads/{thread_id}", response=ThreadRetrieveOut, url_name="thread_retrieve")
def thread_retrieve(request: HttpRequest, thread_id: str) -> dict[str, Any]:
    return _thread_out(thread_get(tenant=request_tenant(request), thread_id=thread_id))


@router.delete("/threads/{thread_id}", response=ThreadDeleteOut, url_name="thread_delete")
def thread_delete_operation(request: HttpRequest, thread_id: str) -> dict[str, Any]:
    thread_delete(
        tenant=request_tenant(request),
        thread_id=thread_id,
        actor=request_actor(request),
    )
    return {"id": thread_id, "object": "chatkit.thread.deleted", "deleted": True}


@router.get("/threads/{thread_id}/items", response=ThreadItemListOut, url_name="thread_items")
def thread_item_list(
    request: HttpRequest, thread_id: str, query: Query[ThreadItemListQuery]
) -> dict[str, Any]:
    tenant = request_tenant(request)
    thread = thread_get(tenant=tenant, thread_id=thread_id)
    items, has_more = thread_item_page(
        tenant=tenant,
        thread=thread,
        types=LISTED_TYPES,
        after=query.after,
        before=query.before,
        limit=query.limit,
        order=query.order,
    )
    return _list_out([thread_item_out(item) for item in items], has_more)
