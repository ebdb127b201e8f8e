"""Log lines: JSON or text, carrying the ids of their context, in tasks too (real worker)."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import current_app
from django.conf import settings
from django.utils import timezone

from operations.context import FIELDS, log_context, log_context_bind, log_context_reset
from operations.logs import logging_config
from tenants.models import Tenant, Thread
from tests.support.celery_worker import CeleryWorker, isolated_broker


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose lines go through the platform's configuration into a buffer, in a
    context with no ids (an in-process run of an earlier test may have left one here)."""
    buffer = io.StringIO()
    cleared = log_context_bind(**dict.fromkeys(FIELDS, ""))

    def configure(log_format: str) -> logging.Logger:
        config = logging_config(log_format=log_format, level="info", loggers={})
        config["handlers"]["console"]["stream"] = buffer
        config["root"] = {"handlers": [], "level": "WARNING"}
        config["loggers"] = {
            "probe": {"handlers": ["console"], "level": "INFO", "propagate": False}
        }
        logging.config.dictConfig(config)
        return logging.getLogger("probe")

    yield configure, buffer  # type: ignore[misc]
    logging.config.dictConfig(settings.LOGGING)
    log_context_reset(cleared)


def test_a_json_line_carries_the_ids_of_its_context(captured: Any) -> None:
    configure, buffer = captured
    logger = configure("json")
    tokens = log_context_bind(request_id="req-1", tenant="acme", agent="support", run_id="r" * 32)
    try:
        logger.info("answered %s", "hello")
    finally:
        log_context_reset(tokens)
    logger.warning("no context")

    first, second = (json.loads(line) for line in buffer.getvalue().splitlines())
    assert first["message"] == "answered hello"
    assert (first["level"], first["logger"]) == ("INFO", "probe")
    assert (first["request_id"], first["tenant"], first["agent"]) == ("req-1", "acme", "support")
    assert first["run_id"] == "r" * 32
    assert "time" in first and "log_context" not in first
    assert "request_id" not in second and second["level"] == "WARNING"
    assert log_context() == {}


def test_a_text_line_names_the_ids_it_knows(captured: Any) -> None:
    configure, buffer = captured
    logger = configure("text")
    tokens = log_context_bind(request_id="req-2", tenant="acme")
    try:
        logger.info("hello")
    finally:
        log_context_reset(tokens)
    logger.info("bare")
    lines = buffer.getvalue().splitlines()
    assert lines[0].endswith("INFO probe [request_id=req-2 tenant=acme]: hello")
    assert lines[1].endswith("INFO probe: bare")


def test_the_log_format_defaults_to_json_in_production_only() -> None:
    assert settings.LOG_FORMAT == "text"  # the tests run the development defaults


@pytest.mark.django_db(transaction=True)
def test_a_task_logs_with_the_ids_of_the_request_that_queued_it(
    acme: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme.retention_days = 1
    acme.save(update_fields=["retention_days"])
    old = timezone.now() - timedelta(days=3)
    Thread.objects.for_tenant(acme).create(tenant=acme, public_id="thr_old", created_at=old)
    Thread.objects.for_tenant(acme).filter(public_id="thr_old").update(updated_at=old)
    monkeypatch.setenv("LOG_FORMAT", "json")
    with isolated_broker(tmp_path) as broker:
        worker = CeleryWorker.start(broker, tmp_path)
        try:
            tokens = log_context_bind(request_id="req-celery-1", tenant="acme")
            try:
                current_app.send_task(settings.RETENTION_TASK, queue=broker.queue)
            finally:
                log_context_reset(tokens)
            line = _wait_for_line(worker, "retention deleted")
        finally:
            worker.stop()
    assert line["request_id"] == "req-celery-1" and line["tenant"] == "acme"
    assert line["logger"] == "hosted_agents.services.retention"


def _wait_for_line(worker: CeleryWorker, text: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for raw in worker.log(tail=200_000).splitlines():
            if raw.startswith("{") and text in raw:
                line: dict[str, Any] = json.loads(raw)
                return line
        time.sleep(0.2)
    raise AssertionError(f"no line with {text!r}:\n{worker.log()}")
