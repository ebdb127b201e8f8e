"""Run traces kept in the platform: openai-agents spans, buffered per run, stored per tenant.

`tracing_configure` (called once, by the app's `ready()`) installs `TRACES` as the SDK's
trace processor. The OpenAI exporter (traces to OpenAI's dashboard) is added beside it
only when the operator sets OPENAI_AGENTS_TRACING; by default nothing leaves the platform.

During a run, `TRACES.collect(trace_id)` buffers the run's finished spans in memory (the
processor is called on the event loop, synchronously, so it does no I/O); the runtime takes
them with `TRACES.release(trace_id)` when the run ends and writes them in the turn's second
hop: one multi-row INSERT (`run_spans_insert_sql`), which on PostgreSQL rides in the statement
that records the run's usage (`metering.usage_record`), and elsewhere runs on its own. Spans
of traces nobody collects (a run outside the runtime) are ignored. A client session minted
with `tracing.enabled` false runs untraced: nothing is kept, nothing exported.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from agents import set_tracing_disabled
from agents.tracing import (
    AgentSpanData,
    FunctionSpanData,
    GenerationSpanData,
    GuardrailSpanData,
    HandoffSpanData,
    MCPListToolsSpanData,
    ResponseSpanData,
    Span,
    Trace,
    TracingProcessor,
    set_trace_processors,
    set_trace_provider,
)
from agents.tracing.processors import default_processor
from agents.tracing.provider import DefaultTraceProvider
from django.db.models import Subquery

from hosted_agents.models import RunSpan
from tenants.models import Tenant, Thread
from tenants.scoping import ScopedQuerySet

__all__ = [
    "MAX_SPANS",
    "TRACES",
    "PlatformTraceProcessor",
    "SpanRecord",
    "Statement",
    "run_spans_insert_sql",
    "tracing_configure",
]

# A run making more spans than this keeps its first ones (a runaway loop is still seen).
MAX_SPANS = 200
# Tool arguments and results are kept up to this many characters each.
MAX_TEXT = 8000
# The SDK's bookkeeping spans, which repeat what the agent and model spans say.
_SKIPPED_CUSTOM = frozenset({"turn", "task"})


@dataclass(slots=True)
class SpanRecord:
    """A finished span, as the platform stores it (see `RunSpan`)."""

    span_id: str
    parent_id: str
    kind: str
    name: str
    started_at: datetime
    ended_at: datetime | None
    model: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None

    @property
    def duration_ms(self) -> float | None:
        if self.ended_at is None:
            return None
        return round((self.ended_at - self.started_at).total_seconds() * 1000, 3)


@dataclass(slots=True)
class _Run:
    spans: list[SpanRecord] = field(default_factory=list)
    # Spans not kept, by id: their parent, so that their children hang from it instead.
    skipped: dict[str, str] = field(default_factory=dict)

    def kept_parent(self, parent_id: str) -> str:
        seen = 0
        while parent_id in self.skipped and seen < MAX_SPANS:
            parent_id, seen = self.skipped[parent_id], seen + 1
        return parent_id


class PlatformTraceProcessor(TracingProcessor):
    """Buffer the spans of the runs being collected, in memory, by trace id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, _Run] = {}

    def collect(self, trace_id: str) -> None:
        with self._lock:
            self._runs[trace_id] = _Run()

    def release(self, trace_id: str) -> list[SpanRecord]:
        """Stop collecting `trace_id`; return its spans in the order they started."""
        with self._lock:
            run = self._runs.pop(trace_id, None)
        if run is None:
            return []
        for span in run.spans:
            span.parent_id = run.kept_parent(span.parent_id)
        return sorted(run.spans, key=lambda span: span.started_at)

    def on_trace_start(self, trace: Trace) -> None:
        pass

    def on_trace_end(self, trace: Trace) -> None:
        pass

    def on_span_start(self, span: Span[Any]) -> None:
        pass

    def on_span_end(self, span: Span[Any]) -> None:
        with self._lock:
            run = self._runs.get(span.trace_id)
            if run is None or len(run.spans) >= MAX_SPANS:
                return
        record = span_record(span)
        with self._lock:
            if record is None:
                run.skipped[span.span_id] = span.parent_id or ""
            else:
                run.spans.append(record)

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


TRACES = PlatformTraceProcessor()


def tracing_configure(*, export_to_openai: bool) -> None:
    """Make openai-agents trace every run into `TRACES`, and to OpenAI only if asked.

    A fresh provider: the SDK's default one would build its OpenAI exporter on first use.
    """
    set_trace_provider(DefaultTraceProvider())
    processors: list[TracingProcessor] = [TRACES]
    if export_to_openai:
        processors.append(default_processor())
    set_trace_processors(processors)
    set_tracing_disabled(False)


def _clip(value: Any) -> Any:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _usage(span_data: ResponseSpanData | GenerationSpanData) -> tuple[int | None, int | None]:
    usage = span_data.usage
    if usage is None and isinstance(span_data, ResponseSpanData) and span_data.response:
        found = span_data.response.usage
        usage = None if found is None else found.model_dump()
    if not usage:
        return None, None
    # Responses name them input/output tokens; Chat Completions prompt/completion tokens.
    given = usage.get("input_tokens", usage.get("prompt_tokens"))
    made = usage.get("output_tokens", usage.get("completion_tokens"))
    return given, made


def _described(span_data: Any) -> tuple[str, str, dict[str, Any]] | None:
    """Return (kind, name, data) of a span's data, or None for spans not kept."""
    if isinstance(span_data, FunctionSpanData):
        data = {"arguments": _clip(span_data.input), "result": _clip(span_data.output)}
        if span_data.mcp_data:
            data["mcp"] = span_data.mcp_data
        return RunSpan.Kind.TOOL, span_data.name, data
    if isinstance(span_data, AgentSpanData):
        return RunSpan.Kind.AGENT, span_data.name, {"tools": span_data.tools or []}
    if isinstance(span_data, HandoffSpanData):
        data = {"from_agent": span_data.from_agent, "to_agent": span_data.to_agent}
        return RunSpan.Kind.HANDOFF, span_data.to_agent or "", data
    if isinstance(span_data, GuardrailSpanData):
        return RunSpan.Kind.GUARDRAIL, span_data.name, {"triggered": span_data.triggered}
    if isinstance(span_data, MCPListToolsSpanData):
        data = {"server": span_data.server, "tools": span_data.result or []}
        return RunSpan.Kind.MCP_TOOLS, span_data.server or "", data
    if isinstance(span_data, ResponseSpanData | GenerationSpanData):
        return RunSpan.Kind.MODEL, "", {}
    exported = span_data.export()
    inner = exported.get("data") or {}
    if inner.get("sdk_span_type") in _SKIPPED_CUSTOM:
        return None
    return RunSpan.Kind.OTHER, str(exported.get("name") or exported.get("type")), {}


def span_record(span: Span[Any]) -> SpanRecord | None:
    """Return what the platform keeps of a finished span, or None if it keeps nothing."""
    described = _described(span.span_data)
    if described is None or span.started_at is None:
        return None
    kind, name, data = described
    record = SpanRecord(
        span_id=span.span_id,
        parent_id=span.parent_id or "",
        kind=kind,
        name=name[:200],
        started_at=datetime.fromisoformat(span.started_at),
        ended_at=datetime.fromisoformat(span.ended_at) if span.ended_at else None,
        data=data,
        error=dict(span.error) if span.error else None,
    )
    span_data = span.span_data
    if isinstance(span_data, ResponseSpanData | GenerationSpanData):
        record.input_tokens, record.output_tokens = _usage(span_data)
        response = getattr(span_data, "response", None)
        model = getattr(span_data, "model", None) or getattr(response, "model", None)
        record.model = record.name = str(model or "")[:200]
    return record


# A compiled statement: SQL with %s placeholders, and its parameters.
Statement = tuple[str, tuple[Any, ...]]


def run_spans_insert_sql(
    *,
    tenant: Tenant,
    thread_id: str,
    thread_pk: int | None,
    trace_id: str,
    item_id: str,
    agent_version: int,
    spans: list[SpanRecord],
) -> Statement | None:
    """Return the one multi-row INSERT of a run's spans, as the ORM compiles it; None if none.

    The ORM's insert compiler (what Model.save() runs) prepares every value: JSON, datetimes,
    and a thread not known by its primary key, looked up inside the INSERT, in the tenant.
    The SQL is then run alone, or carried by the statement that records the run's usage
    (`metering.usage_record`, on PostgreSQL). Not bulk_create: it would wrap the INSERT in a
    transaction of its own (two more round trips on the chat path).
    """
    if not spans:
        return None
    thread_ref: Any = thread_pk
    if thread_ref is None:
        threads = Thread.objects.for_tenant(tenant).filter(public_id=thread_id)
        thread_ref = Subquery(threads.values("pk")[:1])
    rows = [
        RunSpan(
            tenant=tenant,
            thread_id=thread_ref,
            trace_id=trace_id,
            span_id=span.span_id,
            parent_id=span.parent_id,
            item_id=item_id,
            agent_version=agent_version,
            kind=span.kind,
            name=span.name,
            started_at=span.started_at,
            ended_at=span.ended_at,
            duration_ms=span.duration_ms,
            model=span.model,
            input_tokens=span.input_tokens,
            output_tokens=span.output_tokens,
            data=span.data,
            error=span.error,
        )
        for span in spans
    ]
    fields = [f for f in RunSpan._meta.concrete_fields if not f.primary_key]
    scoped = cast("ScopedQuerySet[RunSpan]", RunSpan.objects.for_tenant(tenant))
    return scoped.insert_sql(rows, fields)
