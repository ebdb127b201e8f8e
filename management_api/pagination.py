"""The one list shape of /api/v1/, a keyset page, as the sessions API's:

    {"object": "list", "data": [...], "first_id", "last_id", "has_more"}

The next page is `?after=<last_id>`. A cursor is the `id` the list shows, as a string; a
cursor that names nothing (or another tenant's row) answers an empty page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from django.db.models import Model, QuerySet, Subquery
from ninja import Schema
from pydantic import Field

__all__ = ["MAX_LIMIT", "OrderedPageQuery", "PageQuery", "list_out", "page_out", "pk_page"]

MAX_LIMIT = 100
_M = TypeVar("_M", bound=Model)


class PageQuery(Schema):
    after: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=MAX_LIMIT)


class OrderedPageQuery(PageQuery):
    order: Literal["asc", "desc"] = "desc"


def list_out(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": str(data[0]["id"]) if data else None,
        "last_id": str(data[-1]["id"]) if data else None,
        "has_more": has_more,
    }


def pk_page(
    rows: QuerySet[_M], *, cursor_field: str, after: str | None, limit: int
) -> tuple[list[_M], bool]:
    """Return up to `limit` rows, newest first, past the row whose `cursor_field` is `after`.

    One statement; the cursor row is read by a scalar subquery within `rows`, so a cursor
    of another tenant finds nothing.
    """
    if after is not None:
        if cursor_field == "pk" and not after.isdigit():
            return [], False
        cursor = Subquery(rows.filter(**{cursor_field: after}).values("pk")[:1])
        rows = rows.filter(pk__lt=cursor)
    found = list(rows.order_by("-pk")[: limit + 1])
    return found[:limit], len(found) > limit


def page_out(
    rows: QuerySet[_M],
    query: PageQuery,
    shape: Callable[[_M], dict[str, Any]],
    *,
    cursor_field: str = "pk",
) -> dict[str, Any]:
    found, has_more = pk_page(rows, cursor_field=cursor_field, after=query.after, limit=query.limit)
    return list_out([shape(row) for row in found], has_more)
