"""Turn the tools frozen in a published agent version into openai-agents tools."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from agents import FunctionTool

from hosted_agents import http_fetch
from hosted_agents.approvals import approval_asked
from hosted_agents.exceptions import AgentMisconfigured, UnknownToolError
from hosted_agents.tools.client import ClientToolSpec, client_function_tool
from hosted_agents.tools.code import LongToolRunner, code_function_tool, unavailable_code_tool
from hosted_agents.tools.http import Fetcher, HeaderLoader, HttpToolSpec, http_function_tool
from hosted_agents.tools.registry import get_code_tool

__all__ = ["tools_build"]


def tools_build(
    entries: list[dict[str, Any]],
    *,
    tenant_id: int,
    run_id: str,
    allow_private_http: bool,
    load_headers: HeaderLoader,
    long_tool_runner: LongToolRunner | None = None,
    fetcher: Fetcher = http_fetch.fetch,
) -> list[FunctionTool]:
    """Return one FunctionTool per entry of a version's `config["tools"]`, for one run.

    Code tools are what the version froze (description, argument schema, time limit); only
    their function comes from the registry, by name. A name no longer registered becomes a
    tool that answers the model with an error. An unknown kind raises `AgentMisconfigured`.
    A tool whose policy asks the end user (`approval_asked`) pauses the run before a call.
    """
    tools = []
    for entry in entries:
        kind = entry["kind"]
        if kind == "code":
            tools.append(_frozen_code_tool(entry, tenant_id, run_id, long_tool_runner))
        elif kind == "http":
            tools.append(
                http_function_tool(
                    HttpToolSpec.from_config(entry),
                    load_headers=load_headers,
                    allow_private=allow_private_http,
                    fetcher=fetcher,
                )
            )
        elif kind == "client":
            tools.append(client_function_tool(ClientToolSpec.from_config(entry)))
        else:
            raise AgentMisconfigured(f"unknown tool kind {kind!r}")
    asked = {entry.get("name") for entry in entries if approval_asked(entry)}
    for tool in tools:
        if tool.name in asked:
            tool.needs_approval = True
    return tools


def _frozen_code_tool(
    entry: dict[str, Any], tenant_id: int, run_id: str, runner: LongToolRunner | None
) -> FunctionTool:
    try:
        registered = get_code_tool(entry["name"])
    except UnknownToolError:
        return unavailable_code_tool(entry)
    frozen = replace(
        registered,
        description=entry["description"],
        params_schema=entry["params_schema"],
        time_limit_seconds=float(entry["time_limit_seconds"]),
    )
    return code_function_tool(frozen, tenant_id=tenant_id, run_id=run_id, long_tool_runner=runner)
