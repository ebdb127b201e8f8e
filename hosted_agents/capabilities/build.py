"""Turn the capabilities frozen in a published version into openai-agents parts, for one run.

The runtime calls `capabilities_build` once per run and passes what it returns to the
openai-agents `Agent`: extra tools (the allowed MCP tools) and keyword arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents import Tool
from channels.db import database_sync_to_async

from hosted_agents.capabilities.mcp import McpServerSpec, mcp_function_tool
from hosted_agents.capabilities.selectors import mcp_server_headers

__all__ = ["Capabilities", "capabilities_build"]


@dataclass
class Capabilities:
    tools: list[Tool] = field(default_factory=list)
    # Further keyword arguments of the openai-agents Agent (guardrails, handoffs).
    agent_kwargs: dict[str, Any] = field(default_factory=dict)


def capabilities_build(
    config: dict[str, Any], *, tenant_id: int, allow_private: bool
) -> Capabilities:
    """Return the run's parts for `config["capabilities"]` of a version (none if absent)."""
    frozen = config.get("capabilities") or {}
    built = Capabilities()

    async def load_headers(server_id: int) -> dict[str, str]:
        headers: dict[str, str] = await database_sync_to_async(mcp_server_headers)(
            tenant=tenant_id, server_id=server_id
        )
        return headers

    for entry in frozen.get("mcp_servers", []):
        spec = McpServerSpec.from_config(entry)
        built.tools += [
            mcp_function_tool(spec, tool, load_headers=load_headers, allow_private=allow_private)
            for tool in entry["tools"]
        ]
    return built
