"""OpenTelemetry tracing, off unless `OTEL_ENABLED` is on (the `otel` extra installs it).

Settings refuse to start with it on when the packages are missing. When on, spans go to
the OTLP/HTTP endpoint of the standard `OTEL_EXPORTER_OTLP_*` variables: one per HTTP
request and WebSocket (the ASGI instrumentation) and one per Celery task.
"""

from __future__ import annotations

import importlib.util
from typing import Any

__all__ = ["REQUIRED_MODULES", "missing_modules", "tracing_configure", "tracing_wrap_asgi"]

REQUIRED_MODULES = (
    "opentelemetry.sdk",
    "opentelemetry.exporter.otlp.proto.http",
    "opentelemetry.instrumentation.asgi",
    "opentelemetry.instrumentation.celery",
)


def missing_modules() -> list[str]:
    """Return the modules tracing needs that are not installed."""
    missing = []
    for name in REQUIRED_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(name)
    return missing


def tracing_configure(service_name: str) -> None:  # pragma: no cover - needs the extra
    """Install the global tracer provider with a batching OTLP exporter, and trace tasks."""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    CeleryInstrumentor().instrument()


def tracing_wrap_asgi(app: Any) -> Any:  # pragma: no cover - needs the extra
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(app)
