"""Long tool calls against a real Celery worker process, on whichever broker is configured
(the embedded file broker, or Redis when REDIS_URL is set) and the test database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import suppress
from datetime import timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from celery import current_app
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connections
from django.utils import timezone

from hosted_agents.long_tools import LongToolError, long_tool_run, tool_call_send, tool_call_sweep
from hosted_agents.models import ToolCall
from tenants.models import Tenant
from tests.support.celery_worker import CeleryWorker, WorkerBroker, isolated_broker, purge_queue
from tests.support.long_test_tools import BROKEN, COUNT_STEPS, HOLD, STUCK, log_lines

pytestmark = pytest.mark.django_db(transaction=True)

Status = ToolCall.Status
# Generous: on a loaded machine a worker takes seconds to start a pool process.
TEST_TIMEOUT = 120.0
WAIT_SECONDS = 60.0
Progress = list[tuple[str, float | None]]
_queue_numbers = count(1)


@pytest.fixture(autouse=True)
async def close_orm_thread_connections() -> AsyncIterator[None]:
    """Close the connection the ORM's worker thread keeps (CONN_MAX_AGE), so that the test
    database can be dropped at the end of the session."""
    yield
    await database_sync_to_async(connections.close_all)()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerBroker]:
    with isolated_broker(tmp_path_factory.mktemp("celery")) as isolated:
        yield isolated


@pytest.fixture(scope="module")
def worker(
    broker: WorkerBroker, tmp_path_factory: pytest.TempPathFactory, django_db_setup: None
) -> Iterator[CeleryWorker]:
    """One worker shared by the tests that do not kill it (starting one takes seconds)."""
    shared = CeleryWorker.start(broker, tmp_path_factory.mktemp("worker"))
    yield shared
    shared.stop()


@pytest.fixture
def own_queue(broker: WorkerBroker, settings: Any) -> Iterator[str]:
    """Send this test's calls to a queue the shared worker does not serve."""
    queue = f"{broker.queue}_{next(_queue_numbers)}"
    settings.CELERY_LONG_TOOL_QUEUE = queue
    yield queue
    purge_queue(queue)


@pytest.fixture
def start_worker(
    broker: WorkerBroker, own_queue: str, tmp_path: Path, transactional_db: None
) -> Iterator[Callable[[], CeleryWorker]]:
    """Start workers on the test's own queue; all are stopped before the database is flushed."""
    workers: list[CeleryWorker] = []

    def start() -> CeleryWorker:
        workers.append(CeleryWorker.start(broker, tmp_path, queue=own_queue))
        return workers[-1]

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "tool"
    path.mkdir()
    return path


async def run_call(
    tenant: Tenant,
    call_id: str,
    tool_name: str,
    arguments: dict[str, Any],
    *,
    time_limit: float = 30.0,
    pickup_timeout: float = 60.0,
    progress: Progress | None = None,
) -> Any:
    async def on_progress(text: str, fraction: float | None) -> None:
        if progress is not None:
            progress.append((text, fraction))

    return await asyncio.wait_for(
        long_tool_run(
            tenant_id=tenant.pk,
            thread_id="thr_long",
            run_id="run_long",
            call_id=call_id,
            tool_name=tool_name,
            arguments=arguments,
            time_limit_seconds=time_limit,
            on_progress=on_progress,
            pickup_timeout_seconds=pickup_timeout,
            poll_seconds=0.1,
        ),
        TEST_TIMEOUT,
    )


@database_sync_to_async
def find(tenant: Tenant, call_id: str) -> ToolCall | None:
    return ToolCall.objects.for_tenant(tenant).filter(call_id=call_id).first()


async def row(tenant: Tenant, call_id: str) -> ToolCall:
    call = await find(tenant, call_id)
    assert call is not None
    return call


async def wait_for(tenant: Tenant, call_id: str, condition: Callable[[ToolCall], bool]) -> ToolCall:
    """Return the call once `condition` holds (within WAIT_SECONDS)."""
    current = None
    with suppress(TimeoutError):
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                current = await find(tenant, call_id)
                if current is not None and condition(current):
                    return current
                await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met in {WAIT_SECONDS:g} s: {current}")


async def test_progress_reaches_the_awaiting_side_in_order_and_the_result_is_recorded(
    acme: Tenant, worker: CeleryWorker
) -> None:
    progress: Progress = []

    result = await run_call(
        acme, "call_progress", COUNT_STEPS, {"steps": 3, "delay": 0.6}, progress=progress
    )

    assert result == {"counted": 3}
    assert progress == [("step 1 of 3", 1 / 3), ("step 2 of 3", 2 / 3), ("step 3 of 3", 1.0)]
    call = await row(acme, "call_progress")
    assert (call.status, call.attempts, call.result) == (Status.DONE, 1, {"counted": 3})
    assert call.worker_hostname == worker.nodename
    assert call.celery_task_id
    assert call.queued_at <= call.started_at <= call.finished_at
    assert call.duration_seconds is not None and call.duration_seconds >= 1.8


async def test_killed_pool_process_has_its_call_run_again_with_one_result(
    acme: Tenant, worker: CeleryWorker, folder: Path
) -> None:
    run = asyncio.create_task(run_call(acme, "call_child", HOLD, {"folder": str(folder)}))
    first = await wait_for(acme, "call_child", lambda c: c.progress_text == "holding")
    assert first.worker_pid is not None

    worker.kill_pool_child(first.worker_pid)
    # Celery puts the message back (reject on worker lost) and a new pool process claims it.
    second = await wait_for(acme, "call_child", lambda c: c.attempts == 2)
    (folder / "release").touch()

    assert await run == {"released": True}
    assert second.worker_pid != first.worker_pid
    assert second.claim_token != first.claim_token
    call = await row(acme, "call_child")
    assert (call.status, call.attempts, call.result) == (Status.DONE, 2, {"released": True})
    assert log_lines(folder) == ["start", "start", "finish"]
    # At least once: both attempts ran, and both got the key that lets a tool deduplicate.
    first_key, second_key = (folder / "keys").read_text().split()
    assert first_key == second_key


async def test_killed_worker_has_its_call_requeued_by_the_sweep_and_run_by_a_new_worker(
    acme: Tenant, start_worker: Callable[[], CeleryWorker], folder: Path
) -> None:
    worker = start_worker()
    run = asyncio.create_task(run_call(acme, "call_worker", HOLD, {"folder": str(folder)}))
    await wait_for(acme, "call_worker", lambda c: c.progress_text == "holding")

    worker.kill()
    # Its message is gone (file broker) or invisible for the visibility timeout (Redis):
    # only the sweep brings the call back, once the heartbeat is stale.
    sweep = database_sync_to_async(tool_call_sweep)
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        if (await sweep(stale_after=timedelta(seconds=1))).requeued:
            break
        await asyncio.sleep(0.2)
    assert (await row(acme, "call_worker")).status == Status.QUEUED
    start_worker()
    await wait_for(acme, "call_worker", lambda c: c.attempts == 2)
    (folder / "release").touch()

    assert await run == {"released": True}
    call = await row(acme, "call_worker")
    assert (call.status, call.attempts, call.result) == (Status.DONE, 2, {"released": True})
    assert log_lines(folder) == ["start", "start", "finish"]


async def test_repeat_delivery_of_a_finished_call_does_nothing(
    acme: Tenant, worker: CeleryWorker, folder: Path
) -> None:
    (folder / "release").touch()
    await run_call(acme, "call_once", HOLD, {"folder": str(folder)})
    before = await row(acme, "call_once")

    await database_sync_to_async(tool_call_send)(
        tenant_id=acme.pk, tool_call_id=before.pk, time_limit_seconds=30.0
    )
    # One pool process takes one message at a time, in order: once a later call is done,
    # the repeat has been handled.
    await run_call(acme, "call_after", COUNT_STEPS, {"steps": 1, "delay": 0})

    after = await row(acme, "call_once")
    fields = ("status", "attempts", "claim_token", "result", "finished_at", "celery_task_id")
    assert [getattr(after, f) for f in fields] == [getattr(before, f) for f in fields]
    assert log_lines(folder) == ["start", "finish"]
    assert f"tool call {acme.pk}/{before.pk} is not free to claim" in worker.log(tail=100_000)


async def test_time_limit_ends_a_stuck_tool_with_a_clear_error(
    acme: Tenant, worker: CeleryWorker
) -> None:

    with pytest.raises(LongToolError) as caught:
        await run_call(acme, "call_stuck", STUCK, {}, time_limit=1.5)

    assert caught.value.code == "timed_out"
    assert caught.value.message == f"The tool '{STUCK}' did not finish within 1.5 seconds."
    call = await row(acme, "call_stuck")
    assert (call.status, call.error_code) == (Status.TIMED_OUT, "timed_out")
    # Generous upper bound: a loaded machine delays the soft limit and the write after it.
    assert call.duration_seconds is not None and 1 < call.duration_seconds < 30


async def test_failing_tools_are_recorded_with_clear_errors(
    acme: Tenant, worker: CeleryWorker
) -> None:
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("call_broken", BROKEN, {"reason": "disk on fire"}, "tool_error"),
        ("call_invalid", COUNT_STEPS, {"steps": "many", "delay": 0}, "invalid_arguments"),
        ("call_unknown", "test_long_no_such_tool", {}, "unknown_tool"),
    ]
    errors = {}
    for call_id, tool_name, arguments, _ in cases:
        with pytest.raises(LongToolError) as caught:
            await run_call(acme, call_id, tool_name, arguments)
        errors[call_id] = caught.value

    assert [errors[call_id].code for call_id, *_ in cases] == [code for *_, code in cases]
    assert (
        errors["call_broken"].message == f"The tool '{BROKEN}' failed: RuntimeError: disk on fire"
    )
    assert "steps" in errors["call_invalid"].message
    assert "not available" in errors["call_unknown"].message
    call = await row(acme, "call_broken")
    assert (call.status, call.error_code) == (Status.FAILED, "tool_error")


async def test_cancelled_wait_leaves_the_worker_to_record_the_result(
    acme: Tenant, worker: CeleryWorker, folder: Path
) -> None:
    run = asyncio.create_task(run_call(acme, "call_gone", HOLD, {"folder": str(folder)}))
    await wait_for(acme, "call_gone", lambda c: c.status == Status.RUNNING)

    run.cancel()
    with suppress(asyncio.CancelledError):
        await run
    (folder / "release").touch()

    call = await wait_for(acme, "call_gone", lambda c: c.status == Status.DONE)
    assert call.result == {"released": True}


async def test_without_a_worker_the_call_fails_clearly_after_the_pickup_timeout(
    acme: Tenant, own_queue: str
) -> None:
    with pytest.raises(LongToolError) as caught:
        await run_call(acme, "call_alone", COUNT_STEPS, {"steps": 1, "delay": 0}, pickup_timeout=1)

    assert caught.value.code == "no_worker"
    assert caught.value.message.startswith(
        f"No worker is available to run the tool '{COUNT_STEPS}'"
    )
    call = await row(acme, "call_alone")
    assert (call.status, call.error_code, call.attempts) == (Status.FAILED, "no_worker", 0)


def test_platform_tasks_have_a_queue_of_their_own() -> None:
    router = current_app.amqp.router
    assert router.route({}, settings.LONG_TOOL_SWEEP_TASK)["queue"].name == "platform"
    assert router.route({}, settings.LONG_TOOL_TASK)["queue"].name == "long_tools"
    # Every scheduled task is a platform task, on the platform queue.
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled == {
        settings.LONG_TOOL_SWEEP_TASK,
        settings.RETENTION_TASK,
        settings.STUCK_RUN_SWEEP_TASK,
        settings.TENANT_PURGE_TASK,
    }
    for task in scheduled:
        assert router.route({}, task)["queue"].name == "platform", task


async def test_sweep_runs_on_the_platform_worker_while_long_calls_fill_the_pool(
    acme: Tenant, worker: CeleryWorker, broker: WorkerBroker, folder: Path, tmp_path: Path
) -> None:
    # The long-tool worker's only pool process is busy with a call that holds on.
    run = asyncio.create_task(run_call(acme, "call_busy", HOLD, {"folder": str(folder)}))
    await wait_for(acme, "call_busy", lambda c: c.progress_text == "holding")
    # A call whose worker died a minute ago: only a sweep brings it back.
    now = timezone.now()
    await ToolCall.objects.for_tenant(acme).acreate(
        tenant=acme, thread_id="thr_long", run_id="run_long", call_id="call_stale",
        tool_name=COUNT_STEPS, arguments={"steps": 1, "delay": 0}, time_limit_seconds=30,
        status=Status.RUNNING, attempts=1, claim_token="gone", queued_at=now,
        heartbeat_at=now - timedelta(minutes=1), deadline=now + timedelta(minutes=5),
    )  # fmt: skip
    platform_queue = f"{broker.queue}_platform"
    platform = CeleryWorker.start(broker, tmp_path, queue=platform_queue)
    try:
        entry = settings.CELERY_BEAT_SCHEDULE["sweep-long-tool-calls"]
        # As beat sends it, to this run's platform queue.
        current_app.send_task(entry["task"], queue=platform_queue, **entry["options"])
        await wait_for(acme, "call_stale", lambda c: c.status == Status.QUEUED)
    finally:
        platform.stop()
        purge_queue(platform_queue)
        # The sweep re-sent the call to the long-tool queue the worker's settings name.
        purge_queue("long_tools")
        (folder / "release").touch()
    assert await run == {"released": True}
