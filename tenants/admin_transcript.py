"""A thread's conversation as plain text, for the operators' read-only thread page.

Until the console shows conversations, an operator reads one here instead of opening items
one at a time. Items are rendered from their stored protocol JSON: messages as their text,
client tool calls with their arguments and output, widgets as the text they show. Two
hidden items the runtime adds are shown by what they mean: a tripped guardrail (`guardrail`)
and the agent a handoff gave the answer to (`answered_by`, which also labels the messages it
names "Assistant (<agent>)"; see hosted_agents/capabilities/). An approval widget says what
was asked and what the user decided. Each answer is followed by the trace of the run that
produced it: model calls with latency and tokens, tool calls with arguments and results,
handoffs and guardrails (hosted_agents/tracing.py).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from tenants.models import Thread, ThreadItem

__all__ = ["ThreadTranscriptMixin", "answered_by_names", "item_label", "item_text", "widget_text"]

# A thread page renders at most this many items (the oldest first).
MAX_ITEMS = 500

_LABELS = {
    "user_message": "User",
    "assistant_message": "Assistant",
    "client_tool_call": "Client tool call",
    "widget": "Widget",
    "task": "Task",
    "workflow": "Workflow",
    "generated_image": "Image",
    "structured_input": "Question",
    "end_of_turn": "End of turn",
    "hidden_context_item": "Hidden context",
    "sdk_hidden_context": "Hidden context",
}
# Widget fields that hold what the user reads, in the order they are looked for.
_WIDGET_TEXT_FIELDS = ("value", "label", "title", "text", "alt")


class ThreadTranscriptMixin:
    """Adds the read-only "Transcript" field to a thread's admin page."""

    readonly_fields: ClassVar[list[str] | tuple[str, ...]] = ("transcript",)

    @admin.display(description="Transcript")
    def transcript(self, thread: Thread) -> SafeString:
        if thread.pk is None:
            return format_html("{}", "")
        items = list(
            ThreadItem.objects.for_tenant(thread.tenant_id)
            .filter(thread=thread)
            .order_by("created_at", "id")
            .values_list("public_id", "type", "created_at", "data")[: MAX_ITEMS + 1]
        )
        if not items:
            return format_html("<p>{}</p>", "No items yet.")
        answered_by = answered_by_names([data for _, _, _, data in items[:MAX_ITEMS]])
        traces = _trace_texts(thread)
        rows = format_html_join(
            "",
            '<div style="margin-bottom: 0.8em"><strong>{}</strong> <small>{}</small>'
            '<div style="white-space: pre-wrap">{}</div>'
            '<div style="white-space: pre-wrap; color: #666; font-size: 0.85em">{}</div></div>',
            (
                (
                    item_label(kind, data, answered_by),
                    f"{created:%Y-%m-%d %H:%M:%S}",
                    item_text(kind, data),
                    traces.get(public_id, ""),
                )
                for public_id, kind, created, data in items[:MAX_ITEMS]
            ),
        )
        if len(items) > MAX_ITEMS:
            more = f"Only the first {MAX_ITEMS} items are shown."
            return format_html("{}<p>{}</p>", rows, more)
        return rows


def _hidden_content(data: dict[str, Any]) -> dict[str, Any]:
    content = data.get("content")
    return content if isinstance(content, dict) else {}


def answered_by_names(items: list[dict[str, Any]]) -> dict[str, str]:
    """Return {message id: agent name} from the run's `answered_by` marks."""
    names: dict[str, str] = {}
    for data in items:
        mark = _hidden_content(data).get("answered_by")
        if isinstance(mark, dict):
            for message_id in _hidden_content(data).get("message_ids") or []:
                names[str(message_id)] = str(mark.get("name") or mark.get("slug"))
    return names


def item_label(
    kind: str, data: dict[str, Any] | None = None, answered_by: dict[str, str] | None = None
) -> str:
    """Return the reader's name of a stored item ("User", "Assistant (Billing)", ...)."""
    data = data or {}
    answered_by = answered_by or {}
    if kind == "assistant_message" and data.get("id") in answered_by:
        return f"Assistant ({answered_by[data['id']]})"
    if kind in {"hidden_context_item", "sdk_hidden_context"}:
        content = _hidden_content(data)
        if "guardrail" in content:
            return f"Guardrail tripped ({content['guardrail']})"
        if "answered_by" in content:
            return "Handoff"
    return _LABELS.get(kind, kind)


def _trace_texts(thread: Thread) -> dict[str, str]:
    """Return each answer's run trace as text, by the answer's item id."""
    # The spans are the agents app's table; imported here, as the thread admin is ours.
    from hosted_agents.selectors import run_traces_of_thread

    texts = {}
    for trace in run_traces_of_thread(tenant=thread.tenant_id, thread_pk=thread.pk):
        lines = [f"Trace {trace['trace_id']} (version {trace['agent_version']})"]
        lines += [span_text(span) for span in trace["spans"]]
        texts[trace["item_id"]] = "\n".join(lines)
    return texts


def span_text(span: dict[str, Any]) -> str:
    """Return one line saying what a run span did, how long it took, what it cost."""
    took = "" if span["duration_ms"] is None else f" {span['duration_ms']:.0f} ms"
    data = span["data"] or {}
    kind = span["kind"]
    if kind == "model":
        said = f"model {span['model']}: {span['input_tokens']} in, {span['output_tokens']} out"
    elif kind == "tool":
        said = f"tool {span['name']}({data.get('arguments') or ''}) -> {data.get('result')}"
    elif kind == "handoff":
        said = f"handoff {data.get('from_agent')} -> {data.get('to_agent')}"
    elif kind == "guardrail":
        said = f"guardrail {span['name']}: {'tripped' if data.get('triggered') else 'passed'}"
    else:
        said = f"{kind} {span['name']}"
    failed = f" [error: {span['error'].get('message')}]" if span["error"] else ""
    return f"  - {said}{took}{failed}"


def item_text(kind: str, data: dict[str, Any]) -> str:
    """Return the text of one stored thread item."""
    if kind == "user_message":
        return _user_text(data)
    if kind == "assistant_message":
        return "".join(part.get("text", "") for part in data.get("content") or [])
    if kind == "client_tool_call":
        text = f"{data.get('name', '?')}({_json(data.get('arguments'))}) [{data.get('status')}]"
        if data.get("output") is not None:
            text += f"\n-> {_json(data.get('output'))}"
        return text
    if kind == "widget":
        return widget_text(data.get("widget") or {})
    if kind == "task":
        return _task_text(data.get("task") or {})
    if kind == "workflow":
        tasks = (data.get("workflow") or {}).get("tasks") or []
        return "\n".join(_task_text(task) for task in tasks)
    if kind == "generated_image":
        return str((data.get("image") or {}).get("url") or "")
    if kind == "structured_input":
        return _json({k: v for k, v in data.items() if k not in _ITEM_ENVELOPE})
    if kind == "end_of_turn":
        return ""
    if kind in {"hidden_context_item", "sdk_hidden_context"}:
        mark = _hidden_content(data).get("answered_by")
        if isinstance(mark, dict):
            return f"Answered by {mark.get('name')} ({mark.get('slug')}, v{mark.get('version')})"
        return _json(data.get("content"))
    return _json({k: v for k, v in data.items() if k not in _ITEM_ENVELOPE})


_ITEM_ENVELOPE = {"id", "thread_id", "created_at", "type"}


def _user_text(data: dict[str, Any]) -> str:
    parts = []
    for part in data.get("content") or []:
        if part.get("type") == "input_tag":
            parts.append(f"@{part.get('text', '')}")
        else:
            parts.append(str(part.get("text", "")))
    text = "".join(parts)
    if data.get("quoted_text"):
        text = f"> {data['quoted_text']}\n{text}"
    names = [str(a.get("name", a.get("id", "?"))) for a in data.get("attachments") or []]
    if names:
        text += f"\n[attached: {', '.join(names)}]"
    return text


def _task_text(task: dict[str, Any]) -> str:
    return " - ".join(str(task[key]) for key in ("title", "content") if task.get(key))


def widget_text(node: Any) -> str:
    """Return what a widget shows as text: a row on one line, other containers one per line."""
    if isinstance(node, list):
        return "\n".join(filter(None, (widget_text(child) for child in node)))
    if not isinstance(node, dict):
        return ""
    kind = node.get("type", "")
    if kind == "Divider":
        return "---"
    own = next((node[f] for f in _WIDGET_TEXT_FIELDS if isinstance(node.get(f), str)), "")
    if kind == "Button" and own:
        own = f"[{own}]"
    children = node.get("children")
    if not isinstance(children, list):
        return own
    inner = [text for text in (widget_text(child) for child in children) if text]
    if kind == "Row":
        body = " | ".join(text.replace("\n", " ") for text in inner)
    else:
        body = "\n".join(inner)
    return f"{own}\n{body}" if own and body else own or body


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
