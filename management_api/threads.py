"""Threads: the console's filtered list, one thread with its items, delete, export, and
forgetting an end user (all their threads, items, attachments and feedback, audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from hosted_agents.selectors import run_traces_of_thread
from management_api.auth import request_actor, request_tenant
from management_api.exports import ExportFormat, export_response
from management_api.pagination import OrderedPageQuery, list_out
from management_api.schemas import In
from tenants.selectors import thread_get
from tenants.selectors_threads import (
    THREAD_COLUMNS,
    ThreadFilter,
    thread_export_rows,
    thread_items_all,
    thread_search_page,
)
from tenants.services import end_user_forget, thread_delete

router = Router(tags=["threads"])

MAX_ITEMS = 1000


class ThreadFilterQuery(Schema):
    agent: str | None = Field(default=None, min_length=1, max_length=100)
    user: str | None = Field(default=None, min_length=1, max_length=200)
    created_after: datetime | None = None
    created_before: datetime | None = None
    has_feedback: bool | None = None

    def where(self) -> ThreadFilter:
        return ThreadFilter(
            agent_slug=self.agent, end_user_id=self.user, created_after=self.created_after,
            created_before=self.created_before, has_feedback=self.has_feedback,
        )  # fmt: skip


class ThreadListQuery(ThreadFilterQuery, OrderedPageQuery):
    pass


class ThreadExportQuery(ThreadFilterQuery):
    format: ExportFormat = "jsonl"


class ThreadOut(Schema):
    id: str
    object: Literal["thread"]
    title: str | None
    agent: str
    user: str
    created_at: datetime
    updated_at: datetime


class ThreadListOut(Schema):
    object: Literal["list"]
    data: list[ThreadOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


class ThreadDetailOut(ThreadOut):
    items: list[dict[str, Any]]
    items_truncated: bool


class RunSpanOut(Schema):
    span_id: str
    parent_id: str
    agent_version: int | None
    kind: str
    name: str
    started_at: datetime
    ended_at: datetime | None
    duration_ms: float | None
    model: str
    input_tokens: int | None
    output_tokens: int | None
    data: dict[str, Any]
    error: dict[str, Any] | None


class RunTraceOut(Schema):
    object: Literal["run.trace"]
    trace_id: str
    item_id: str
    agent_version: int | None
    started_at: datetime
    ended_at: datetime | None
    input_tokens: int
    output_tokens: int
    spans: list[RunSpanOut]


class RunTraceListOut(Schema):
    object: Literal["list"]
    thread_id: str
    data: list[RunTraceOut]


class ThreadDeleteOut(Schema):
    id: str
    object: Literal["thread.deleted"]
    deleted: bool


class EndUserForgetIn(In):
    user: str = Field(min_length=1, max_length=200)


class EndUserForgottenOut(Schema):
    object: Literal["end_user.forgotten"]
    user: str
    threads: int
    items: int
    attachments: int
    feedback: int


def thread_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["public_id"], "object": "thread", "title": row["title"],
        "agent": row["agent_slug"], "user": row["end_user_id"],
        "created_at": row["created_at"], "updated_at": row["updated_at"],
    }  # fmt: skip


@router.get("/threads", response=ThreadListOut, url_name="thread_list")
def thread_list(request: HttpRequest, query: Query[ThreadListQuery]) -> dict[str, Any]:
    rows, has_more = thread_search_page(
        tenant=request_tenant(request), where=query.where(),
        after=query.after, limit=query.limit, order=query.order,
    )  # fmt: skip
    return list_out([thread_out(row) for row in rows], has_more)


@router.get(
    "/threads/export",
    url_name="thread_export",
    openapi_extra={
        "responses": {
            "200": {
                "description": "Every filtered thread, oldest first, streamed.",
                "content": {
                    "application/x-ndjson": {"schema": {"type": "string"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        }
    },
)
def thread_export(request: HttpRequest, query: Query[ThreadExportQuery]) -> StreamingHttpResponse:
    rows = (thread_out(row) for row in thread_export_rows(
        tenant=request_tenant(request), where=query.where()))  # fmt: skip
    columns = ["id", "object", "title", "agent", "user", "created_at", "updated_at"]
    return export_response(rows, columns=columns, fmt=query.format, name="threads")


@router.get("/threads/{thread_id}", response=ThreadDetailOut, url_name="thread_get")
def thread_get_operation(request: HttpRequest, thread_id: str) -> dict[str, Any]:
    tenant = request_tenant(request)
    thread = thread_get(tenant=tenant, thread_id=thread_id)
    items = thread_items_all(tenant=tenant, thread_id=thread_id, limit=MAX_ITEMS + 1)
    row = {column: getattr(thread, column) for column in THREAD_COLUMNS}
    return {
        **thread_out(row),
        "items": items[:MAX_ITEMS],
        "items_truncated": len(items) > MAX_ITEMS,
    }


@router.get("/threads/{thread_id}/traces", response=RunTraceListOut, url_name="thread_traces")
def thread_traces_operation(request: HttpRequest, thread_id: str) -> dict[str, Any]:
    """Every run of the thread, oldest first: the answer it produced and its spans."""
    tenant = request_tenant(request)
    thread = thread_get(tenant=tenant, thread_id=thread_id)
    traces = run_traces_of_thread(tenant=tenant, thread_pk=thread.pk)
    return {
        "object": "list",
        "thread_id": thread_id,
        "data": [{"object": "run.trace", **trace} for trace in traces],
    }


@router.delete("/threads/{thread_id}", response=ThreadDeleteOut, url_name="thread_delete")
def thread_delete_operation(request: HttpRequest, thread_id: str) -> dict[str, Any]:
    thread_delete(tenant=request_tenant(request), thread_id=thread_id, actor=request_actor(request))
    return {"id": thread_id, "object": "thread.deleted", "deleted": True}


@router.post("/end-users/forget", response=EndUserForgottenOut, url_name="end_user_forget")
def end_user_forget_operation(request: HttpRequest, body: EndUserForgetIn) -> dict[str, Any]:
    counts = end_user_forget(
        tenant=request_tenant(request), end_user_id=body.user, actor=request_actor(request)
    )
    return {"object": "end_user.forgotten", "user": body.user, **counts}
