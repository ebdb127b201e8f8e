"""Code tools: Python functions registered with `@code_tool`, selectable per agent by name.

    @code_tool(description="Add two numbers.")
    def add(*, a: float, b: float) -> float: ...

    @code_tool(description="Summarise a long text.", long_running=True, time_limit_seconds=120)
    def summarise(progress: ProgressReporter, *, text: str) -> dict[str, Any]: ...

The argument schema comes from the type hints (openai-agents' `function_schema`, so
docstring parameter descriptions are used too). A tool that is not long-running may be
sync or async and may take the run context (`ctx: RunContextWrapper[AgentContext]`) first,
to stream widgets or progress or to request a client tool call. A long-running tool is a
plain sync function whose first parameter is `progress`; it runs on a Celery worker (see
hosted_agents/long_tools.py) and must return something JSON can encode.

The registry is per process: a module that registers tools must be imported by both the
web and the worker processes (the builtin tools are, through `hosted_agents.tools`).
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from agents.function_schema import FuncSchema, function_schema

from hosted_agents.exceptions import UnknownToolError

__all__ = [
    "CodeTool",
    "ProgressReporter",
    "all_code_tools",
    "code_tool",
    "get_code_tool",
]

F = TypeVar("F", bound=Callable[..., Any])

PROGRESS_PARAMETER = "progress"


class ProgressReporter(Protocol):
    """What a long-running tool gets first: progress reports out, the call's key in.

    A long tool call runs at least once, not exactly once: if its worker dies, the call runs
    again from the start. `idempotency_key` is the same for every attempt of one call; pass
    it to services that deduplicate requests (an `Idempotency-Key` header, a unique column).
    """

    idempotency_key: str

    def report(self, text: str, fraction: float | None = None) -> None:
        """Tell the user how far the tool got; `fraction` is between 0 and 1 when known."""
        ...


@dataclass(frozen=True)
class CodeTool:
    name: str
    description: str
    params_schema: dict[str, Any]  # JSON schema from the type hints
    func: Callable[..., Any]
    long_running: bool
    time_limit_seconds: float
    # Built from `func` when not given; validates arguments and maps them to the call. The None
    # default never outlives __post_init__, so the field is typed without it.
    schema: FuncSchema = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.schema is None:
            schema = _schema(self.func, self.name, self.description, self.long_running)
            object.__setattr__(self, "schema", schema)

    @property
    def takes_context(self) -> bool:
        return self.schema.takes_context

    def call_args(self, arguments: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Validate `arguments` against the schema; return what to call `func` with.

        Raises pydantic's `ValidationError` for arguments the schema refuses.
        """
        parsed = self.schema.params_pydantic_model(**arguments)
        return self.schema.to_call_args(parsed)

    def invoke(self, arguments: dict[str, Any], progress: ProgressReporter | None = None) -> Any:
        """Run the tool synchronously with validated `arguments` and return its result.

        For a long-running tool `progress` receives its reports (a no-op one if None).
        A tool that needs the run context cannot be invoked this way. An async tool is run
        to completion on a fresh event loop, so call this only where no loop is running.
        """
        if self.takes_context:
            raise TypeError(f"code tool {self.name!r} needs a run context")
        args, kwargs = self.call_args(arguments)
        if self.long_running:
            return self.func(progress or _SilentProgress(), *args, **kwargs)
        result = self.func(*args, **kwargs)
        if inspect.isawaitable(result):
            return asyncio.run(_awaited(result))
        return result


class _SilentProgress:
    def __init__(self) -> None:
        # Invoked directly, every call is a call of its own.
        self.idempotency_key = uuid.uuid4().hex

    def report(self, text: str, fraction: float | None = None) -> None:
        return None


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


_registry: dict[str, CodeTool] = {}


def code_tool(
    name: str | None = None,
    *,
    description: str,
    long_running: bool = False,
    time_limit_seconds: float = 30.0,
) -> Callable[[F], F]:
    """Register the decorated function as a code tool (named after it unless `name`)."""
    if time_limit_seconds <= 0:
        raise ValueError("time_limit_seconds must be positive")

    def register(func: F) -> F:
        tool_name = name or func.__name__
        if tool_name in _registry and _registry[tool_name].func is not func:
            raise ValueError(f"a code tool named {tool_name!r} is already registered")
        schema = _schema(func, tool_name, description, long_running)
        _registry[tool_name] = CodeTool(
            name=tool_name,
            description=description,
            params_schema=schema.params_json_schema,
            func=func,
            long_running=long_running,
            time_limit_seconds=float(time_limit_seconds),
            schema=schema,
        )
        return func

    return register


def _schema(
    func: Callable[..., Any], name: str, description: str, long_running: bool
) -> FuncSchema:
    if not long_running:
        return function_schema(func, name_override=name, description_override=description)
    if inspect.iscoroutinefunction(func):
        raise TypeError(f"long-running tool {name!r} must be a plain (sync) function")
    signature = inspect.signature(func)
    parameters = list(signature.parameters.values())
    if not parameters or parameters[0].name != PROGRESS_PARAMETER:
        raise TypeError(f"long-running tool {name!r} must take `progress` first")
    # The schema comes from a stand-in whose signature leaves `progress` out; the type hints
    # are still read from the real function.
    stand_in = _without_progress(func, signature.replace(parameters=parameters[1:]))
    return function_schema(stand_in, name_override=name, description_override=description)


def _without_progress(func: Callable[..., Any], signature: inspect.Signature) -> Any:
    def stand_in(*args: Any, **kwargs: Any) -> Any:  # only ever inspected, never called
        raise AssertionError

    # inspect.signature reads __signature__ and get_type_hints follows __wrapped__; typeshed
    # declares neither on functions.
    stand_in.__signature__ = signature  # type: ignore[attr-defined]
    stand_in.__annotations__ = {
        key: value for key, value in func.__annotations__.items() if key != PROGRESS_PARAMETER
    }
    # get_type_hints follows __wrapped__ to find the globals that string annotations name.
    stand_in.__wrapped__ = func  # type: ignore[attr-defined]  # (see __signature__ above)
    stand_in.__doc__ = func.__doc__
    stand_in.__name__ = func.__name__
    stand_in.__qualname__ = func.__qualname__
    stand_in.__module__ = func.__module__
    return stand_in


def get_code_tool(name: str) -> CodeTool:
    """Return the code tool registered as `name`, or raise `UnknownToolError`."""
    try:
        return _registry[name]
    except KeyError:
        raise UnknownToolError(name) from None


def all_code_tools() -> list[CodeTool]:
    """Return every registered code tool, sorted by name."""
    return sorted(_registry.values(), key=lambda tool: tool.name)
