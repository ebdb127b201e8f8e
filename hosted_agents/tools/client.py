"""Client tools as openai-agents `FunctionTool`s: calling one asks the ChatKit client to run
it. The tool records a `ClientToolCall` on the run context; the run then stops (see
`stop_at_client_tool_call`) and chatkit_core emits a pending `client_tool_call` item, which
the client answers with `threads.add_client_tool_output`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonschema
from agents import FunctionTool, FunctionToolResult, RunContextWrapper, ToolsToFinalOutputResult
from agents.tool_context import ToolContext

from chatkit_core.agents import AgentContext, ClientToolCall
from hosted_agents.tools.code import parse_arguments

__all__ = ["ClientToolSpec", "client_function_tool", "stop_at_client_tool_call"]


@dataclass(frozen=True)
class ClientToolSpec:
    id: int
    name: str
    description: str
    args_schema: dict[str, Any]

    @classmethod
    def from_config(cls, entry: dict[str, Any]) -> ClientToolSpec:
        return cls(**{name: entry[name] for name in cls.__dataclass_fields__})


def client_function_tool(spec: ClientToolSpec) -> FunctionTool:
    async def invoke(ctx: ToolContext[AgentContext[Any]], raw: str) -> str:
        try:
            arguments = parse_arguments(raw)
            jsonschema.validate(arguments, spec.args_schema)
        except jsonschema.ValidationError as error:
            return f"Invalid arguments for {spec.name}: {error.message}"
        except ValueError as error:
            return f"Invalid arguments for {spec.name}: {error}"
        ctx.context.client_tool_call = ClientToolCall(name=spec.name, arguments=arguments)
        return f"Sent {spec.name} to the user's app; its answer comes back as the tool output."

    return FunctionTool(
        name=spec.name,
        description=spec.description,
        params_json_schema=spec.args_schema,
        on_invoke_tool=invoke,
        strict_json_schema=False,
    )


def stop_at_client_tool_call(
    ctx: RunContextWrapper[AgentContext[Any]], results: list[FunctionToolResult]
) -> ToolsToFinalOutputResult:
    """End the run once any tool (client or code) asked for a client tool call.

    Decided from the context rather than by tool names (`StopAtTools`), so that code tools
    such as `switch_theme` stop the run the same way as tenant-defined client tools.
    """
    if ctx.context.client_tool_call is None:
        return ToolsToFinalOutputResult(is_final_output=False)
    return ToolsToFinalOutputResult(is_final_output=True, final_output=results[-1].output)
