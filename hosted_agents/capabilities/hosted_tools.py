"""OpenAI's hosted tools: run by the provider itself, offered only on the Responses API.

An agent's `hosted_tools` capability is a list of at most one entry per type:

    {"type": "web_search", "search_context_size": "low" | "medium" | "high"}
    {"type": "file_search", "vector_store_ids": ["vs_..."], "max_num_results": 5}
    {"type": "code_interpreter"}
    {"type": "image_generation"}

The provider runs them and streams their results in the answer: web and file search as the
message's annotations (url and file citations), images as generated images; chatkit_core's
bridge maps both. `HostedToolTasks` adds a workflow task for each search the provider ran
(`web_search` with its query, `file` for file search), through the bridge's own
`AgentContext.add_workflow_task`. The Chat Completions API and the offline demo model
cannot run them, so the check refuses them there, at the draft's change and at publish.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

from agents import (
    CodeInterpreterTool,
    FileSearchTool,
    ImageGenerationTool,
    Tool,
    WebSearchTool,
)
from agents.result import RunResultStreaming
from agents.stream_events import StreamEvent

from chatkit_core.agents import AgentContext
from chatkit_core.types import FileTask, SearchTask, Task
from hosted_agents.exceptions import InvalidInput

__all__ = ["HOSTED_TOOL_TYPES", "HostedToolTasks", "hosted_tools_build", "hosted_tools_normalize"]

HOSTED_TOOL_TYPES = ("web_search", "file_search", "code_interpreter", "image_generation")
MAX_VECTOR_STORES = 10  # what OpenAI's file search takes
_VECTOR_STORE_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_CONTEXT_SIZES = ("low", "medium", "high")


def hosted_tools_normalize(value: Any) -> list[dict[str, Any]]:
    """Return the checked list of hosted tools, or raise `InvalidInput`."""
    if not isinstance(value, list):
        raise InvalidInput("hosted_tools", "must be a list")
    tools = [_entry(entry) for entry in value]
    types = [tool["type"] for tool in tools]
    if len(set(types)) != len(types):
        raise InvalidInput("hosted_tools", "each hosted tool may be chosen once")
    return tools


def _entry(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict) or entry.get("type") not in HOSTED_TOOL_TYPES:
        raise InvalidInput("hosted_tools", f"each must have a type: {', '.join(HOSTED_TOOL_TYPES)}")
    kind = entry["type"]
    allowed = {"type", *_OPTIONS.get(kind, ())}
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise InvalidInput("hosted_tools", f"{kind} takes no {unknown[0]!r}")
    if kind == "web_search":
        size = entry.get("search_context_size", "medium")
        if size not in _CONTEXT_SIZES:
            raise InvalidInput("hosted_tools", "search_context_size must be low, medium or high")
        return {"type": kind, "search_context_size": size}
    if kind == "file_search":
        return _file_search(entry)
    return {"type": kind}


_OPTIONS = {
    "web_search": ("search_context_size",),
    "file_search": ("vector_store_ids", "max_num_results"),
}


def _file_search(entry: dict[str, Any]) -> dict[str, Any]:
    ids = entry.get("vector_store_ids")
    if (
        not isinstance(ids, list)
        or not 0 < len(ids) <= MAX_VECTOR_STORES
        or not all(isinstance(i, str) and _VECTOR_STORE_ID.match(i) for i in ids)
    ):
        raise InvalidInput(
            "hosted_tools", f"file_search needs 1 to {MAX_VECTOR_STORES} vector store ids"
        )
    tool: dict[str, Any] = {"type": "file_search", "vector_store_ids": list(dict.fromkeys(ids))}
    limit = entry.get("max_num_results")
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 50:
            raise InvalidInput("hosted_tools", "max_num_results must be 1 to 50")
        tool["max_num_results"] = limit
    return tool


def hosted_tools_build(frozen: list[dict[str, Any]]) -> list[Tool]:
    """Return the openai-agents tools for the frozen hosted tools of a version."""
    tools: list[Tool] = []
    for entry in frozen:
        kind = entry["type"]
        if kind == "web_search":
            tools.append(WebSearchTool(search_context_size=entry["search_context_size"]))
        elif kind == "file_search":
            tools.append(
                FileSearchTool(
                    vector_store_ids=list(entry["vector_store_ids"]),
                    max_num_results=entry.get("max_num_results"),
                )
            )
        elif kind == "code_interpreter":
            tools.append(
                CodeInterpreterTool(
                    tool_config={"type": "code_interpreter", "container": {"type": "auto"}}
                )
            )
        elif kind == "image_generation":
            tools.append(ImageGenerationTool(tool_config={"type": "image_generation"}))
    return tools


class HostedToolTasks:
    """A streamed run result whose hosted search calls also show as workflow tasks.

    It stands in for the `RunResultStreaming` given to `stream_agent_response`, which reads
    `stream_events()` and, duck-typed, `is_complete` and `cancel()`.
    """

    def __init__(self, result: RunResultStreaming, context: AgentContext[Any]) -> None:
        self._result = result
        self._context = context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._result, name)

    async def stream_events(self) -> AsyncIterator[StreamEvent]:
        async for event in self._result.stream_events():
            task = _task_of(event.data) if event.type == "raw_response_event" else None
            if task is not None:
                await self._context.add_workflow_task(task)
                # The bridge takes a queued event before the run's next one once it has
                # been handed over: let that happen before the call's answer follows.
                await asyncio.sleep(0)
            yield event


def _task_of(data: Any) -> Task | None:
    """Return the task that shows a finished hosted search call, or None."""
    if getattr(data, "type", None) != "response.output_item.done":
        return None
    item = data.item
    if item.type == "web_search_call":
        query = getattr(getattr(item, "action", None), "query", None)
        return SearchTask(
            title="Searched the web",
            title_query=query,
            queries=[query] if query else [],
            status_indicator="complete",
        )
    if item.type == "file_search_call":
        queries = ", ".join(item.queries or [])
        return FileTask(title=f"Searched the files for {queries}", status_indicator="complete")
    return None
