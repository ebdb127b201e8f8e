"""The stuck-run sweep: a turn whose run died gets an assistant message saying so, once;
answered, recent, still-running and tool-waiting turns are left alone."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from pydantic import TypeAdapter

from chatkit_core.types import AssistantMessageItem
from chatkit_core.types import ThreadItem as ProtocolItem
from chatkit_endpoints.runs import RunKey, run_claim, run_release
from chatkit_endpoints.state import shared_state
from chatkit_endpoints.tasks import runs_registered, sweep_stuck_runs
from hosted_agents.models import Agent, ToolCall
from hosted_agents.stuck_runs import INTERRUPTED_TEXT, run_sweep_stuck
from tenants.models import AuditEvent, Tenant, Thread, ThreadItem

NOW = timezone.now()
LONG_AGO = NOW - timedelta(seconds=settings.STUCK_RUN_AFTER_SECONDS + 60)


def _nobody_running(keys: list[tuple[int, int | None, str, str]]) -> list[bool]:
    return [False] * len(keys)


def _thread(
    tenant: Tenant, public_id: str, *types_at: tuple[str, datetime], agent: Agent | None = None
) -> Thread:
    thread = Thread.objects.for_tenant(tenant).create(
        tenant=tenant, public_id=public_id, agent=agent, end_user_id="u1", created_at=LONG_AGO
    )
    for index, (kind, at) in enumerate(types_at):
        ThreadItem.objects.for_tenant(tenant).create(
            tenant=tenant, thread=thread, public_id=f"itm_{public_id}_{index}", type=kind,
            created_at=at, data={"id": f"itm_{public_id}_{index}"},
        )  # fmt: skip
    return thread


def _types(tenant: Tenant, public_id: str) -> list[str]:
    items = ThreadItem.objects.for_tenant(tenant).filter(thread__public_id=public_id)
    return list(items.order_by("pk").values_list("type", flat=True))


def test_a_turn_whose_run_died_gets_an_end_once(acme: Tenant, globex: Tenant) -> None:
    _thread(acme, "thr_dead", ("user_message", LONG_AGO))
    _thread(globex, "thr_dead", ("user_message", LONG_AGO))

    assert run_sweep_stuck(is_running=_nobody_running, now=NOW).ended == 2
    assert run_sweep_stuck(is_running=_nobody_running, now=NOW).ended == 0

    assert _types(acme, "thr_dead") == ["user_message", "assistant_message"]
    note = ThreadItem.objects.for_tenant(acme).get(type="assistant_message")
    item = TypeAdapter(ProtocolItem).validate_python(note.data)
    assert isinstance(item, AssistantMessageItem)
    assert (item.thread_id, item.text) == ("thr_dead", INTERRUPTED_TEXT)
    event = AuditEvent.objects.for_tenant(acme).get(action="thread.run_interrupted")
    assert event.after == {"thread": "thr_dead", "item": note.public_id}
    assert _types(globex, "thr_dead") == ["user_message", "assistant_message"]


def test_answered_recent_running_and_tool_waiting_turns_are_left_alone(acme: Tenant) -> None:
    _thread(acme, "thr_answered", ("user_message", LONG_AGO), ("assistant_message", LONG_AGO))
    _thread(acme, "thr_recent", ("user_message", NOW - timedelta(seconds=30)))
    _thread(acme, "thr_running", ("user_message", LONG_AGO))
    _thread(acme, "thr_tool", ("user_message", LONG_AGO))
    ToolCall.objects.for_tenant(acme).create(
        tenant=acme, thread_id="thr_tool", run_id="r", call_id="c", tool_name="slow",
        time_limit_seconds=3600, queued_at=LONG_AGO, status=ToolCall.Status.RUNNING,
    )  # fmt: skip
    asked: list[tuple[int, int | None, str, str]] = []

    def running(keys: list[tuple[int, int | None, str, str]]) -> list[bool]:
        asked.extend(keys)
        return [key[3] == "thr_running" for key in keys]

    assert run_sweep_stuck(is_running=running, now=NOW).ended == 0
    assert asked == [(acme.pk, None, "u1", "thr_running")]
    for public_id in ("thr_recent", "thr_running", "thr_tool"):
        assert _types(acme, public_id) == ["user_message"]
    assert _types(acme, "thr_answered") == ["user_message", "assistant_message"]
    assert not AuditEvent.objects.for_tenant(acme).filter(action="thread.run_interrupted")


@pytest.mark.django_db(transaction=True)
def test_the_task_asks_the_run_registry(acme: Tenant, acme_agent: Agent) -> None:
    _thread(acme, "thr_registered", ("user_message", LONG_AGO), agent=acme_agent)
    key = RunKey(acme.pk, acme_agent.pk, "u1", "thr_registered")

    async def claim() -> None:
        try:
            await run_claim(key)
        finally:
            await shared_state().aclose()

    asyncio.run(claim())
    try:
        registered = runs_registered([(acme.pk, acme_agent.pk, "u1", "thr_registered")])
        # Without Redis the registry lives in each web process, out of the worker's sight.
        assert registered == [bool(settings.REDIS_URL)]
        sweep_stuck_runs()
        expected = ["user_message"] if settings.REDIS_URL else ["user_message", "assistant_message"]
        assert _types(acme, "thr_registered") == expected
    finally:

        async def release() -> None:
            try:
                await run_release(key)
            finally:
                await shared_state().aclose()

        asyncio.run(release())


def test_the_sweeps_are_scheduled_on_the_platform_queue() -> None:
    for task in (
        settings.STUCK_RUN_SWEEP_TASK,
        settings.RETENTION_TASK,
        settings.TENANT_PURGE_TASK,
    ):
        assert settings.CELERY_TASK_ROUTES[task] == {"queue": settings.CELERY_PLATFORM_QUEUE}
        assert any(entry["task"] == task for entry in settings.CELERY_BEAT_SCHEDULE.values())
