"""Liveness and readiness probes.

`/healthz` answers as long as the process serves requests. `/readyz` checks every
part a chat turn needs (database, channel layer, Celery broker) and names the
ones that fail, with 503, so an orchestrator keeps traffic away until they are back.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, JsonResponse

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 3.0


async def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()


async def _check_channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    # The default prefix, as the runs' channels (chatkit_endpoints/runs.py): another prefix
    # would wait behind their receive lock and time the probe out while answers run.
    channel = await layer.new_channel()
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "readyz.ping", "token": token})
    message = await layer.receive(channel)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned another message")


def _check_broker() -> None:
    from chatkit_platform.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_SECONDS)


async def _run_check(name: str, check: Callable[[], Awaitable[None]]) -> tuple[str, str]:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except Exception as error:  # Any failure means "not ready".
        logger.warning("readiness check %s failed: %s", name, error)
        return name, f"failed: {type(error).__name__}"
    return name, "ok"


async def readyz(request: HttpRequest) -> JsonResponse:
    results = await asyncio.gather(
        _run_check("database", sync_to_async(_check_database, thread_sensitive=False)),
        _run_check("channel_layer", _check_channel_layer),
        _run_check("broker", sync_to_async(_check_broker, thread_sensitive=False)),
    )
    checks = dict(results)
    failing = sorted(name for name, state in checks.items() if state != "ok")
    body: dict[str, object] = {"status": "ok" if not failing else "unavailable", "checks": checks}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=503 if failing else 200)
