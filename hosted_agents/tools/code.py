"""Code tools as openai-agents `FunctionTool`s; long-running ones go through long_tools."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from agents import FunctionTool
from agents.tool_context import ToolContext
from pydantic import ValidationError

from chatkit_core.agents import AgentContext
from chatkit_core.types import ProgressUpdateEvent
from hosted_agents.long_tools import LongToolError, long_tool_run
from hosted_agents.tools.registry import CodeTool
from operations.metrics import tool_call_observe

__all__ = [
    "LongToolRunner",
    "code_function_tool",
    "tool_output",
    "unavailable_code_tool",
]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[str, float | None], Awaitable[None]]


class LongToolRunner(Protocol):
    """The signature of `hosted_agents.long_tools.long_tool_run` (the seam tests fake)."""

    async def __call__(
        self,
        *,
        tenant_id: int,
        thread_id: str,
        run_id: str,
        call_id: str,
        tool_name: str,
        arguments: dict[str, Any],
        time_limit_seconds: float,
        on_progress: ProgressCallback,
    ) -> Any: ...


def tool_output(result: Any) -> str:
    """Return a tool result as the text the model reads: strings as they are, else JSON."""
    if isinstance(result, str):
        return result
    return json.dumps(result, default=str, ensure_ascii=False)


def parse_arguments(raw: str) -> dict[str, Any]:
    """Return the model's JSON arguments as a dict, or raise ValueError."""
    arguments = json.loads(raw) if raw and raw.strip() else {}
    if not isinstance(arguments, dict):
        raise ValueError("the arguments must be a JSON object")
    return arguments


def code_function_tool(
    tool: CodeTool,
    *,
    tenant_id: int,
    run_id: str,
    long_tool_runner: LongToolRunner | None = None,
) -> FunctionTool:
    """Return a FunctionTool that runs `tool` in the run `run_id`; failures become messages
    for the model.

    A long-running call is recorded under the run id and the provider's call id: providers
    reuse call ids (some number them per response, `call_0`), and openai-agents refuses
    a reused one only within a run.
    """

    async def invoke(ctx: ToolContext[AgentContext[Any]], raw: str) -> str:
        try:
            arguments = parse_arguments(raw)
            args, kwargs = tool.call_args(arguments)
        except (ValueError, ValidationError) as error:
            return f"Invalid arguments for {tool.name}: {error}"
        started = time.monotonic()
        if tool.long_running:
            output, failure = await _run_long(
                ctx, tool, arguments, tenant_id, run_id, long_tool_runner
            )
        else:
            output, failure = await _run_here(ctx, tool, args, kwargs)
        tool_call_observe(tool.name, "long" if tool.long_running else "code", started, failure)
        return output

    return FunctionTool(
        name=tool.name,
        description=tool.description,
        params_json_schema=tool.params_schema,
        on_invoke_tool=invoke,
        strict_json_schema=tool.schema.strict_json_schema,
    )


async def _run_here(
    ctx: ToolContext[AgentContext[Any]], tool: CodeTool, args: list[Any], kwargs: dict[str, Any]
) -> tuple[str, str | None]:
    """Return the output for the model and why the call failed (None when it did not)."""
    if tool.takes_context:
        args = [ctx, *args]
    try:
        async with asyncio.timeout(tool.time_limit_seconds):
            if inspect.iscoroutinefunction(tool.func):
                result = await tool.func(*args, **kwargs)
            else:
                # A thread cannot be stopped: past the limit it runs on, but unheard.
                result = await asyncio.to_thread(tool.func, *args, **kwargs)
    except TimeoutError:
        limit = tool.time_limit_seconds
        return f"The tool {tool.name} did not finish within {limit:g} seconds.", "timeout"
    except Exception:
        logger.exception("Code tool %s failed", tool.name)
        return f"The tool {tool.name} failed with an internal error.", "error"
    return tool_output(result), None


async def _run_long(
    ctx: ToolContext[AgentContext[Any]],
    tool: CodeTool,
    arguments: dict[str, Any],
    tenant_id: int,
    run_id: str,
    runner: LongToolRunner | None,
) -> tuple[str, str | None]:
    """Return the output for the model and why the call failed (None when it did not)."""
    agent_context = ctx.context

    async def on_progress(text: str, fraction: float | None) -> None:
        label = text if fraction is None else f"{text} ({round(fraction * 100)}%)"
        await agent_context.stream(ProgressUpdateEvent(text=label))

    try:
        run = runner or long_tool_run
        result = await run(
            tenant_id=tenant_id,
            thread_id=agent_context.thread.id,
            run_id=run_id,
            call_id=ctx.tool_call_id,
            tool_name=tool.name,
            arguments=arguments,
            time_limit_seconds=tool.time_limit_seconds,
            on_progress=on_progress,
        )
    except LongToolError as error:
        # Already a whole sentence that names the tool.
        return str(error), error.code
    except Exception:
        logger.exception("Long-running tool %s failed", tool.name)
        return f"The tool {tool.name} failed with an internal error.", "error"
    return tool_output(result), None


def unavailable_code_tool(entry: dict[str, Any]) -> FunctionTool:
    """Return a stand-in for a frozen code tool that is no longer registered.

    The model is still offered the tool as the version froze it; calling it answers with
    an error the model can relay, rather than failing the whole run.
    """
    name = entry["name"]

    async def invoke(ctx: ToolContext[AgentContext[Any]], raw: str) -> str:
        logger.warning("Code tool %s is frozen in a published version but not registered", name)
        return f"The tool {name} is no longer available on this platform."

    return FunctionTool(
        name=name,
        description=entry["description"],
        params_json_schema=entry["params_schema"],
        on_invoke_tool=invoke,
        strict_json_schema=False,
    )
