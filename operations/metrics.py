"""The Prometheus series, and `/metrics`.

Each series is updated where the event happens, with a counter increment or an observation
and never a query. Production runs several processes: with `PROMETHEUS_MULTIPROC_DIR` set
(before the processes start, the same folder for every process of one host, emptied at
each deployment) prometheus_client writes each process's values there and `/metrics`
adds them up. The Celery queue depth is measured at scrape time, from the broker.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = [
    "ACTIVE_STREAMS",
    "DATABASE_ERRORS",
    "FIRST_EVENT_SECONDS",
    "REDIS_ERRORS",
    "REQUESTS",
    "STREAM_SECONDS",
    "TOKENS",
    "TOOL_CALL_FAILURES",
    "TOOL_CALL_SECONDS",
    "connect_database_errors",
    "metrics_view",
    "tokens_count",
    "tool_call_observe",
]

logger = logging.getLogger(__name__)

_STREAM_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
_FAST_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)

REQUESTS = Counter(
    "chatkit_http_requests_total", "HTTP requests answered.", ["route", "method", "status"]
)
STREAM_SECONDS = Histogram(
    "chatkit_stream_duration_seconds", "Server-Sent Event streams, first byte to last.",
    ["endpoint"], buckets=_STREAM_BUCKETS,
)  # fmt: skip
FIRST_EVENT_SECONDS = Histogram(
    "chatkit_stream_first_event_seconds", "From the request's arrival to its first event.",
    ["endpoint"], buckets=_FAST_BUCKETS,
)  # fmt: skip
ACTIVE_STREAMS = Gauge(
    "chatkit_active_streams", "Event streams being written now.", ["endpoint"],
    multiprocess_mode="livesum",
)  # fmt: skip
TOKENS = Counter(
    "chatkit_tokens_total", "Model tokens used by runs.", ["tenant", "model", "direction"]
)
TOOL_CALL_SECONDS = Histogram(
    "chatkit_tool_call_duration_seconds", "Tool calls, as long as the run waited for them.",
    ["tool", "kind"], buckets=(*_FAST_BUCKETS, 120, 300, 600),
)  # fmt: skip
TOOL_CALL_FAILURES = Counter(
    "chatkit_tool_call_failures_total", "Tool calls that failed or timed out.",
    ["tool", "kind", "reason"],
)  # fmt: skip
DATABASE_ERRORS = Counter(
    "chatkit_database_errors_total", "Database statements that raised.", ["vendor"]
)
REDIS_ERRORS = Counter("chatkit_redis_errors_total", "Redis calls that raised.", ["component"])


def tokens_count(tenant: str, model: str, input_tokens: int, output_tokens: int) -> None:
    if input_tokens:
        TOKENS.labels(tenant, model, "input").inc(input_tokens)
    if output_tokens:
        TOKENS.labels(tenant, model, "output").inc(output_tokens)


def tool_call_observe(tool: str, kind: str, started: float, failure: str | None) -> None:
    """Record a tool call that began at `started` (time.monotonic()); `failure` is its reason."""
    TOOL_CALL_SECONDS.labels(tool, kind).observe(time.monotonic() - started)
    if failure is not None:
        TOOL_CALL_FAILURES.labels(tool, kind, failure).inc()


# --- database errors ---------------------------------------------------------------


def _count_errors(
    vendor: str,
) -> Callable[[Callable[..., Any], str, Any, bool, dict[str, Any]], Any]:
    def wrapper(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        try:
            return execute(sql, params, many, context)
        except DatabaseError:
            DATABASE_ERRORS.labels(vendor).inc()
            raise

    return wrapper


def _on_connection_created(sender: Any, connection: Any, **_: Any) -> None:
    # One Python call around each statement; no statement of its own. The signal comes at
    # every (re)connection of the same wrapper object: install the counter once.
    if not getattr(connection, "_chatkit_counts_errors", False):
        connection.execute_wrappers.append(_count_errors(connection.vendor))
        connection._chatkit_counts_errors = True


def connect_database_errors() -> None:
    connection_created.connect(_on_connection_created, dispatch_uid="ckp_db_errors")


# --- Celery queue depth, measured at scrape ------------------------------------------


class QueueDepthCollector(Collector):
    """The number of messages waiting in each of the platform's Celery queues."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "chatkit_celery_queue_length", "Messages waiting in a Celery queue.", labels=["queue"]
        )
        for queue, depth in queue_depths().items():
            family.add_metric([queue], depth)
        yield family


def _queues() -> list[str]:
    return [
        settings.CELERY_TASK_DEFAULT_QUEUE,
        settings.CELERY_LONG_TOOL_QUEUE,
        settings.CELERY_PLATFORM_QUEUE,
    ]


def queue_depths() -> dict[str, float]:
    """Return each queue's length from the broker (Redis lists, file broker folders)."""
    from celery import current_app

    depths: dict[str, float] = {}
    try:
        with current_app.connection_for_read() as conn:
            channel = conn.default_channel
            for queue in _queues():
                # kombu's virtual transports (Redis, the file broker) answer from the
                # list length or the folder; passive: a queue nobody declared yet is 0.
                try:
                    depths[queue] = float(channel.queue_declare(queue, passive=True).message_count)
                except Exception:
                    depths[queue] = 0.0
    except Exception:
        logger.warning("The Celery broker did not answer the queue-depth scrape", exc_info=True)
    return depths


# --- /metrics ----------------------------------------------------------------------


def _client_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return secrets.compare_digest(header[7:].strip().encode(), token.encode())
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_NETWORKS)


def _scrape() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)  # type: ignore[no-untyped-call]
        text = generate_latest(processes)
    else:
        text = generate_latest(REGISTRY)
    broker = CollectorRegistry()
    broker.register(QueueDepthCollector())
    return text + generate_latest(broker)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics: the Prometheus text format, for allowed addresses or the token."""
    if not _client_allowed(request):
        error = {"code": "forbidden", "message": "Metrics are served to the allowed addresses "
                 "(METRICS_ALLOWED_IPS) or with the bearer token (METRICS_TOKEN)."}  # fmt: skip
        return JsonResponse({"error": error}, status=403)
    return HttpResponse(_scrape(), content_type=CONTENT_TYPE_LATEST)
