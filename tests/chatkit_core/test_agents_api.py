"""`chatkit_core.agents` offers the official `chatkit.agents` names with the same signatures,
and AgentContext's helpers behave as protocol §7.1 says."""

import ast
import importlib.util
import inspect
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import chatkit_core.agents as ours
from chatkit_core.agents import AgentContext
from chatkit_core.store import MemoryStore
from chatkit_core.types import (
    CustomTask,
    DurationSummary,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    Workflow,
)

# Type variables that only type the official module's private helpers.
PRIVATE_TYPEVARS = {"T1", "T2"}


def official_public_names() -> set[str]:
    spec = importlib.util.find_spec("chatkit.agents")
    assert spec is not None and spec.origin is not None
    names: set[str] = set()
    for node in ast.parse(Path(spec.origin).read_text()).body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return {n for n in names if not n.startswith("_")} - PRIVATE_TYPEVARS


def official() -> Any:
    import chatkit.agents

    return chatkit.agents


def describe(function: Any) -> list[tuple[str, Any, Any]]:
    signature = inspect.signature(function)
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def test_all_is_sorted_and_exported() -> None:
    assert ours.__all__ == sorted(ours.__all__)
    assert [name for name in ours.__all__ if not hasattr(ours, name)] == []


def test_every_official_public_name_exists() -> None:
    assert sorted(n for n in official_public_names() if not hasattr(ours, n)) == []


@pytest.mark.parametrize(
    "name", ["stream_agent_response", "accumulate_text", "simple_to_agent_input"]
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_functions_have_the_official_signature(name: str) -> None:
    theirs, mine = describe(getattr(official(), name)), describe(getattr(ours, name))
    assert [(n, k) for n, k, _ in mine] == [(n, k) for n, k, _ in theirs]
    assert [d is inspect.Parameter.empty for *_, d in mine] == [
        d is inspect.Parameter.empty for *_, d in theirs
    ]


@pytest.mark.parametrize(
    "name",
    [
        "AgentContext",
        "ClientToolCall",
        "ResponseStreamConverter",
        "StreamingThoughtTracker",
        "ThreadItemConverter",
    ],
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_classes_have_the_official_methods_and_fields(name: str) -> None:
    theirs, mine = getattr(official(), name), getattr(ours, name)

    public = [m for m, v in vars(theirs).items() if callable(v) and not m.startswith("_")]
    for method in [*public, "__init__"]:
        if method == "__init__" and issubclass(theirs, BaseModel):
            continue
        assert describe(getattr(mine, method)) == describe(getattr(theirs, method)), method
    if issubclass(theirs, BaseModel):
        assert list(mine.model_fields) == list(theirs.model_fields)


def make_context() -> AgentContext[dict[str, Any]]:
    thread = ThreadMetadata(id="thr_1", created_at=datetime.now(UTC))
    return AgentContext(thread=thread, store=MemoryStore(), request_context={})


def queued(ctx: AgentContext[Any]) -> list[ThreadStreamEvent]:
    events = []
    while not ctx._events.empty():
        events.append(ctx._events.get_nowait())
    return events


def test_generate_id_uses_the_store_prefixes() -> None:
    ctx = make_context()

    assert ctx.generate_id("thread").startswith("thr_")
    assert ctx.generate_id("workflow").startswith("wf_")
    assert ctx.generate_id("tool_call").startswith("tc_")


async def test_custom_workflow_is_announced_with_its_first_task() -> None:
    ctx = make_context()

    await ctx.start_workflow(Workflow(type="custom", tasks=[]))
    assert queued(ctx) == []
    await ctx.add_workflow_task(CustomTask(title="one"))
    await ctx.add_workflow_task(CustomTask(title="two"))

    added, second = queued(ctx)
    assert isinstance(added, ThreadItemAddedEvent)
    assert [t.title for t in added.item.workflow.tasks] == ["one"]  # type: ignore[union-attr]
    assert isinstance(second, ThreadItemUpdatedEvent)
    assert second.update.model_dump() == {
        "type": "workflow.task.added",
        "task_index": 1,
        "task": {
            "type": "custom",
            "title": "two",
            "icon": None,
            "content": None,
            "status_indicator": "none",
        },
    }


async def test_reasoning_workflow_is_announced_at_once() -> None:
    ctx = make_context()

    await ctx.start_workflow(Workflow(type="reasoning", tasks=[]))
    await ctx.add_workflow_task(CustomTask(title="first"))

    kinds = [e.type for e in queued(ctx)]
    assert kinds == ["thread.item.added", "thread.item.updated"]


async def test_end_workflow_defaults_to_the_elapsed_seconds() -> None:
    ctx = make_context()
    await ctx.add_workflow_task(CustomTask(title="t"))
    assert ctx.workflow_item is not None
    ctx.workflow_item.created_at -= timedelta(seconds=3)

    await ctx.end_workflow()

    done = queued(ctx)[-1]
    assert isinstance(done, ThreadItemDoneEvent)
    assert done.item.workflow.summary == DurationSummary(duration=3)  # type: ignore[union-attr]
    assert done.item.workflow.expanded is False  # type: ignore[union-attr]
    assert ctx.workflow_item is None


async def test_end_workflow_without_a_workflow_does_nothing() -> None:
    ctx = make_context()

    await ctx.end_workflow()

    assert queued(ctx) == []


async def test_update_workflow_task_needs_an_open_workflow() -> None:
    ctx = make_context()

    with pytest.raises(ValueError):
        await ctx.update_workflow_task(CustomTask(title="x"), 0)


async def test_streamed_events_are_snapshots() -> None:
    ctx = make_context()
    await ctx.add_workflow_task(CustomTask(title="one"))
    await ctx.add_workflow_task(CustomTask(title="two"))

    added = queued(ctx)[0]

    assert isinstance(added, ThreadItemAddedEvent)
    assert len(added.item.workflow.tasks) == 1  # type: ignore[union-attr]


def test_contexts_do_not_share_their_event_queue() -> None:
    assert make_context()._events is not make_context()._events
