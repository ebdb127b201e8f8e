"""A thread's items as a readable transcript: the entries the thread page lists.

Texts come from the operators' admin transcript (tenants/admin_transcript.py, `item_text`),
so both read a thread alike; here widgets are drawn as a read-only HTML tree and long
tool calls (hosted_agents ToolCall rows) are placed among the items by time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from hosted_agents.models import ToolCall
from tenants.admin_transcript import answered_by_names, item_label, item_text

__all__ = ["Entry", "transcript_entries", "widget_html"]

# Item types an end user never sees: shown folded.
_HIDDEN = frozenset({"hidden_context_item", "sdk_hidden_context"})
# Widget nodes that show their own text, by the field that holds it.
_TEXT_NODES = {"Text": "value", "Title": "value", "Caption": "value", "Markdown": "value",
               "Label": "value", "Badge": "label"}  # fmt: skip
_FIELDS = frozenset({"Input", "Textarea", "Select", "Checkbox", "DatePicker", "RadioGroup"})
_MAX_DEPTH = 24


@dataclass
class Entry:
    """One line of the transcript: an item, or a long tool call."""

    id: str
    kind: str  # an item type, or "tool_call"
    label: str
    created_at: datetime
    role: str  # "user", "assistant" or "system": who the line speaks for
    text: str = ""
    agent_version: int | None = None
    model: str | None = None
    hidden: bool = False
    widget: SafeString | None = None
    call: dict[str, Any] = field(default_factory=dict)
    feedback: list[str] = field(default_factory=list)  # kinds of feedback on this item
    # (input, output) tokens of the run that produced this answer, from its trace.
    tokens: tuple[int, int] | None = None

    # Formatted here rather than with the template's `date` filter: a page shows hundreds.
    @property
    def iso(self) -> str:
        return self.created_at.isoformat()

    @property
    def clock(self) -> str:
        return f"{self.created_at:%H:%M:%S}"


def transcript_entries(
    items: list[dict[str, Any]],
    calls: list[ToolCall],
    *,
    has_more: bool,
    feedback: dict[str, list[str]] | None = None,
) -> list[Entry]:
    """Return the page's items and the tool calls that fall within it, in time order.

    A call belongs to the page whose items span its time; the last page takes the rest.
    """
    # Which agent answered each message, from the handoff marks among the items.
    answered_by = answered_by_names([item["data"] for item in items])
    entries = [_item_entry(item, answered_by) for item in items]
    for entry in entries:
        entry.feedback = (feedback or {}).get(entry.id, [])
    if items:
        first = items[0]["created_at"]
        last = items[-1]["created_at"]
        calls = [
            c for c in calls if c.created_at >= first and (not has_more or c.created_at <= last)
        ]
    elif has_more:
        calls = []
    entries += [_call_entry(call) for call in calls]
    entries.sort(key=lambda entry: entry.created_at)
    return entries


def _item_entry(item: dict[str, Any], answered_by: dict[str, str]) -> Entry:
    kind, data = item["type"], item["data"]
    entry = Entry(
        id=item["public_id"],
        kind=kind,
        label=item_label(kind, data, answered_by),
        created_at=item["created_at"],
        role="user" if kind == "user_message" else "assistant",
        agent_version=item["agent_version"],
        model=item["model"],
        hidden=kind in _HIDDEN,
    )
    if kind == "widget":
        entry.widget = widget_html(data.get("widget") or {})
    elif kind == "client_tool_call":
        entry.call = {
            "name": data.get("name", "?"),
            "arguments": _pretty(data.get("arguments")),
            "result": _pretty(data.get("output")) if data.get("output") is not None else "",
            "status": data.get("status", ""),
            "duration": None,
        }
    else:
        entry.text = item_text(kind, data)
    if kind in {"end_of_turn", *_HIDDEN}:
        entry.role = "system"
    return entry


def _call_entry(call: ToolCall) -> Entry:
    result = call.result if call.result is not None else None
    error = f"{call.error_code}: {call.error_message}".strip(": ") if call.error_code else ""
    return Entry(
        id=call.call_id,
        kind="tool_call",
        label="Tool call",
        created_at=call.created_at,
        role="assistant",
        call={
            "name": call.tool_name,
            "arguments": _pretty(call.arguments),
            "result": _pretty(result) if result is not None else error,
            "status": call.status,
            "duration": call.duration_seconds,
            "failed": call.status in (ToolCall.Status.FAILED, ToolCall.Status.TIMED_OUT),
        },
    )


def _pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def widget_html(node: Any, depth: int = 0) -> SafeString:
    """Return a read-only HTML drawing of a widget tree: texts, boxes, buttons, fields."""
    if depth > _MAX_DEPTH:
        return format_html("{}", "…")
    if isinstance(node, list):
        return format_html_join("", "{}", ((widget_html(child, depth + 1),) for child in node))
    if not isinstance(node, dict):
        return format_html("{}", "")
    kind = str(node.get("type", ""))
    css = f"w w-{kind.lower()}" if kind.isalnum() else "w"
    if kind in _TEXT_NODES:
        return format_html('<span class="{}">{}</span>', css, _str(node.get(_TEXT_NODES[kind])))
    if kind == "Divider":
        return format_html('<hr class="{}">', css)
    if kind == "Spacer":
        return format_html("{}", "")
    if kind == "Button":
        return format_html('<span class="{}">{}</span>', css, _str(node.get("label")) or "Button")
    if kind == "Image":
        alt = _str(node.get("alt")) or "image"
        return format_html('<span class="{}">[{}: {}]</span>', css, alt, _str(node.get("src")))
    if kind == "Icon":
        return format_html('<span class="{}">[{}]</span>', css, _str(node.get("name")))
    if kind in _FIELDS:
        name = _str(node.get("label") or node.get("placeholder") or node.get("name"))
        return format_html('<span class="{} w-field">[{}: {}]</span>', css, kind, name)
    if kind == "Chart":
        points = len(node.get("data") or [])
        return format_html('<span class="{}">[chart of {} points]</span>', css, points)
    children = node.get("children")
    inner = widget_html(children, depth + 1) if isinstance(children, list) else mark_safe("")
    own = _str(node.get("title") or node.get("label") or "")
    heading = format_html('<span class="w-title">{}</span>', own) if own else mark_safe("")
    return format_html('<div class="{}">{}{}</div>', css, heading, inner)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)
