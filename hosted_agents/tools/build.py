"""Turn the tools frozen in a published agent version into openai-agents tools."""

from __future__ import annotations

from typing import Any

from agents import FunctionTool

from hosted_agents import http_fetch
from hosted_agents.exceptions import AgentMisconfigured, UnknownToolError
from hosted_agents.tools.client import ClientToolSpec, client_function_tool
from hosted_agents.tools.code import LongToolRunner, code_function_tool
from hosted_agents.tools.http import Fetcher, HeaderLoader, HttpToolSpec, http_function_tool
from hosted_agents.tools.registry import get_code_tool

__all__ = ["tools_build"]


def tools_build(
    entries: list[dict[str, Any]],
    *,
    tenant_id: int,
    allow_private_http: bool,
    load_headers: HeaderLoader,
    long_tool_runner: LongToolRunner | None = None,
    fetcher: Fetcher = http_fetch.fetch,
) -> list[FunctionTool]:
    """Return one FunctionTool per entry of a version's `config["tools"]`.

    Code tools are looked up in the registry by name (their code is not frozen); a name no
    longer registered raises `AgentMisconfigured`.
    """
    tools = []
    for entry in entries:
        kind = entry["kind"]
        if kind == "code":
            try:
                code_tool = get_code_tool(entry["name"])
            except UnknownToolError as error:
                raise AgentMisconfigured(f"code tool {entry['name']!r} is not available") from error
            tools.append(
                code_function_tool(
                    code_tool, tenant_id=tenant_id, long_tool_runner=long_tool_runner
                )
            )
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
    return tools
