"""Stored thread items (chatkit_core's protocol items) as OpenAI's `chatkit.thread_item`s.

    user_message       chatkit.user_message      tags become "@text", quoted text a part
    assistant_message  chatkit.assistant_message file and URL citations (entities dropped)
    widget             chatkit.widget            the widget as a JSON string
    client_tool_call   chatkit.client_tool_call  arguments and output as JSON strings;
                                                 pending reads in_progress
    task               chatkit.task              custom and thought keep their type,
                                                 every other task reads custom
    workflow           chatkit.task_group        its tasks, as for chatkit.task

The other items (generated images, structured input, hidden context, end of turn) have no
counterpart in OpenAI's API and are left out of the listing, in the query itself, so that
pages stay full and cursors always name a listed item.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field

__all__ = ["LISTED_TYPES", "ThreadItemOut", "thread_item_out", "unix_seconds"]


class _ItemBase(Schema):
    id: str
    object: Literal["chatkit.thread_item"]
    thread_id: str
    created_at: int


class UserMessageOut(_ItemBase):
    type: Literal["chatkit.user_message"]
    content: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    inference_options: dict[str, Any] | None


class AssistantMessageOut(_ItemBase):
    type: Literal["chatkit.assistant_message"]
    content: list[dict[str, Any]]


class WidgetOut(_ItemBase):
    type: Literal["chatkit.widget"]
    widget: str


class ClientToolCallOut(_ItemBase):
    type: Literal["chatkit.client_tool_call"]
    call_id: str
    name: str
    arguments: str
    output: str | None
    status: Literal["in_progress", "completed"]


class TaskOut(_ItemBase):
    type: Literal["chatkit.task"]
    task_type: Literal["custom", "thought"]
    heading: str | None
    summary: str | None


class TaskGroupOut(_ItemBase):
    type: Literal["chatkit.task_group"]
    tasks: list[dict[str, Any]]


ThreadItemOut = Annotated[
    UserMessageOut | AssistantMessageOut | WidgetOut | ClientToolCallOut | TaskOut | TaskGroupOut,
    Field(discriminator="type"),
]


def unix_seconds(value: datetime | str) -> int:
    """Return a timestamp (a datetime, or ISO text as stored items have) as unix seconds."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # stored naive timestamps are UTC
    return int(moment.timestamp())


def _base(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": data["id"],
        "object": "chatkit.thread_item",
        "thread_id": data["thread_id"],
        "created_at": unix_seconds(data["created_at"]),
    }


def _user_message(data: dict[str, Any]) -> dict[str, Any]:
    content = [
        {
            "type": "input_text",
            "text": part["text"] if part["type"] == "input_text" else f"@{part['text']}",
        }
        for part in data.get("content", [])
    ]
    if data.get("quoted_text"):
        content.append({"type": "quoted_text", "text": data["quoted_text"]})
    attachments = [
        {
            "id": attachment["id"],
            "name": attachment["name"],
            "mime_type": attachment["mime_type"],
            "type": attachment["type"],
            "preview_url": attachment.get("preview_url"),
        }
        for attachment in data.get("attachments", [])
    ]
    options = data.get("inference_options") or {}
    inference = None
    if options.get("model") or options.get("tool_choice"):
        inference = {"model": options.get("model"), "tool_choice": options.get("tool_choice")}
    return {
        "type": "chatkit.user_message",
        "content": content,
        "attachments": attachments,
        "inference_options": inference,
    }


def _annotation(annotation: dict[str, Any]) -> dict[str, Any] | None:
    source = annotation.get("source") or {}
    if source.get("type") == "file":
        return {"type": "file", "source": {"type": "file", "filename": source["filename"]}}
    if source.get("type") == "url":
        return {"type": "url", "source": {"type": "url", "url": source["url"]}}
    return None  # entity citations have no counterpart


def _assistant_message(data: dict[str, Any]) -> dict[str, Any]:
    content = []
    for part in data.get("content", []):
        annotations = [_annotation(a) for a in part.get("annotations", [])]
        content.append(
            {
                "type": "output_text",
                "text": part["text"],
                "annotations": [a for a in annotations if a is not None],
            }
        )
    return {"type": "chatkit.assistant_message", "content": content}


def _widget(data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "chatkit.widget", "widget": json.dumps(data["widget"])}


def _client_tool_call(data: dict[str, Any]) -> dict[str, Any]:
    output = data.get("output")
    return {
        "type": "chatkit.client_tool_call",
        "call_id": data["call_id"],
        "name": data["name"],
        "arguments": json.dumps(data.get("arguments", {})),
        "output": None if output is None else json.dumps(output),
        "status": "completed" if data.get("status") == "completed" else "in_progress",
    }


def _task_fields(task: dict[str, Any]) -> tuple[str, str | None, str | None]:
    kind = task.get("type")
    summary = task.get("content") if kind in ("custom", "thought") else None
    return ("thought" if kind == "thought" else "custom"), task.get("title"), summary


def _task(data: dict[str, Any]) -> dict[str, Any]:
    task_type, heading, summary = _task_fields(data["task"])
    return {"type": "chatkit.task", "task_type": task_type, "heading": heading, "summary": summary}


def _task_group(data: dict[str, Any]) -> dict[str, Any]:
    tasks = []
    for task in data["workflow"].get("tasks", []):
        task_type, heading, summary = _task_fields(task)
        tasks.append({"type": task_type, "heading": heading, "summary": summary})
    return {"type": "chatkit.task_group", "tasks": tasks}


_CONVERTERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "user_message": _user_message,
    "assistant_message": _assistant_message,
    "widget": _widget,
    "client_tool_call": _client_tool_call,
    "task": _task,
    "workflow": _task_group,
}
LISTED_TYPES = tuple(_CONVERTERS)


def thread_item_out(data: dict[str, Any]) -> dict[str, Any]:
    """Return the stored item `data` (of one of `LISTED_TYPES`) in OpenAI's shape."""
    return {**_base(data), **_CONVERTERS[data["type"]](data)}
