"""What happened in the tenant: end users' feedback, the audit trail, and usage."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal

from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import Field, model_validator

from hosted_agents.selectors_usage import usage_by_agent, usage_by_day, usage_by_end_user
from management_api.auth import request_tenant
from management_api.exports import ExportFormat, export_response
from management_api.pagination import PageQuery, page_out
from tenants.models import AuditEvent, Feedback
from tenants.selectors_threads import audit_event_search, feedback_search

router = Router(tags=["activity"])

MAX_USAGE_DAYS = 366


class FeedbackListQuery(PageQuery):
    kind: Literal["positive", "negative"] | None = None
    thread: str | None = Field(default=None, min_length=1, max_length=100)


class FeedbackOut(Schema):
    id: str
    object: Literal["feedback"]
    thread: str
    kind: str
    item_ids: list[Any]
    user: str
    created_at: datetime


class FeedbackListOut(Schema):
    object: Literal["list"]
    data: list[FeedbackOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


class AuditFilterQuery(Schema):
    action: str | None = Field(default=None, min_length=1, max_length=100)
    actor_kind: Literal["user", "api_key", "client_session", "system"] | None = None
    target_type: str | None = Field(default=None, min_length=1, max_length=100)
    since: datetime | None = None
    until: datetime | None = None


class AuditListQuery(AuditFilterQuery, PageQuery):
    pass


class AuditExportQuery(AuditFilterQuery):
    format: ExportFormat = "jsonl"


class AuditEventOut(Schema):
    id: str
    object: Literal["audit_event"]
    action: str
    actor: str
    actor_kind: str
    target_type: str
    target_id: str
    before: dict[str, Any]
    after: dict[str, Any]
    ip: str | None
    created_at: datetime


class AuditEventListOut(Schema):
    object: Literal["list"]
    data: list[AuditEventOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


class UsageQuery(Schema):
    group_by: Literal["day", "agent", "end_user"] = "day"
    since: date | None = None
    until: date | None = None

    @model_validator(mode="after")
    def _range(self) -> UsageQuery:
        if self.since and self.until and not 0 <= (self.until - self.since).days < MAX_USAGE_DAYS:
            raise ValueError(f"since must be before until, at most {MAX_USAGE_DAYS} days apart")
        return self


class UsageRowOut(Schema):
    day: date | None = None
    agent: str | None = None
    user: str | None = None
    runs: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    threads: int | None = None
    items: int | None = None


class UsageOut(Schema):
    object: Literal["usage"]
    group_by: str
    since: date
    until: date
    data: list[UsageRowOut]


def feedback_out(row: Feedback) -> dict[str, Any]:
    return {
        "id": str(row.pk), "object": "feedback", "thread": row.thread.public_id,
        "kind": row.kind, "item_ids": row.item_ids, "user": row.end_user_id,
        "created_at": row.created_at,
    }  # fmt: skip


def audit_event_out(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": str(event.pk), "object": "audit_event", "action": event.action,
        "actor": event.actor_label, "actor_kind": event.actor_kind,
        "target_type": event.target_type, "target_id": event.target_id,
        "before": event.before, "after": event.after, "ip": event.ip,
        "created_at": event.created_at,
    }  # fmt: skip


@router.get("/feedback", response=FeedbackListOut, url_name="feedback_list")
def feedback_list_operation(
    request: HttpRequest, query: Query[FeedbackListQuery]
) -> dict[str, Any]:
    rows = feedback_search(tenant=request_tenant(request), kind=query.kind, thread_id=query.thread)
    return page_out(rows, query, feedback_out)


def _audit_rows(request: HttpRequest, query: AuditFilterQuery) -> Any:
    return audit_event_search(
        tenant=request_tenant(request), action=query.action, actor_kind=query.actor_kind,
        target_type=query.target_type, since=query.since, until=query.until,
    )  # fmt: skip


@router.get("/audit-events", response=AuditEventListOut, url_name="audit_event_list")
def audit_event_list_operation(
    request: HttpRequest, query: Query[AuditListQuery]
) -> dict[str, Any]:
    return page_out(_audit_rows(request, query), query, audit_event_out)


@router.get(
    "/audit-events/export",
    url_name="audit_event_export",
    openapi_extra={
        "responses": {
            "200": {
                "description": "Every filtered audit event, oldest first, streamed.",
                "content": {
                    "application/x-ndjson": {"schema": {"type": "string"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        }
    },
)
def audit_event_export(
    request: HttpRequest, query: Query[AuditExportQuery]
) -> StreamingHttpResponse:
    rows = _audit_rows(request, query).order_by("created_at", "id").iterator(chunk_size=2000)
    columns = list(AuditEventOut.model_fields)
    return export_response(
        (audit_event_out(e) for e in rows), columns=columns, fmt=query.format, name="audit"
    )


@router.get("/usage", response=UsageOut, url_name="usage")
def usage(request: HttpRequest, query: Query[UsageQuery]) -> dict[str, Any]:
    tenant = request_tenant(request)
    until = query.until or timezone.now().date()
    since = query.since or until - timedelta(days=30)
    if query.group_by == "day":
        data = [
            {**r, "day": r["day"]} for r in usage_by_day(tenant=tenant, since=since, until=until)
        ]
    elif query.group_by == "agent":
        data = [{**r, "agent": r.pop("agent_slug")}
                for r in usage_by_agent(tenant=tenant, since=since, until=until)]  # fmt: skip
    else:
        data = [{"user": r["end_user_id"], "threads": r["threads"], "items": r["items"]}
                for r in usage_by_end_user(tenant=tenant, since=since, until=until)]  # fmt: skip
    return {"object": "usage", "group_by": query.group_by, "since": since, "until": until,
            "data": data}  # fmt: skip
