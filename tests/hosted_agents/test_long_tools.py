"""The long tool call services in-process (no worker): enqueue on commit, the claim, the
guarded finish and the sweep. Messages really go to the configured broker, on a queue of
this test run that no worker serves."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from celery.signals import before_task_publish
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from hosted_agents.long_tools import (
    MAX_ATTEMPTS,
    PICKUP_TIMEOUT_SECONDS,
    Claim,
    LongToolError,
    Outcome,
    long_tool_run,
    tool_call_claim,
    tool_call_enqueue,
    tool_call_finish,
    tool_call_sweep,
)
from hosted_agents.models import ToolCall
from tenants.models import Tenant
from tests.support.celery_worker import isolated_broker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def close_orm_thread_connections() -> AsyncIterator[None]:
    """Close the connection the ORM's worker thread keeps (CONN_MAX_AGE), so that the test
    database can be dropped at the end of the session."""
    yield
    await database_sync_to_async(connections.close_all)()


Status = ToolCall.Status


@pytest.fixture(scope="module", autouse=True)
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with isolated_broker(tmp_path_factory.mktemp("celery")):
        yield


@dataclass(frozen=True)
class Published:
    tenant_id: int
    tool_call_id: int
    committed: bool  # the row was visible to another connection when the message left


def _visible_elsewhere(tenant_id: int, tool_call_id: int) -> bool:
    seen: list[bool] = []

    def look() -> None:
        try:
            seen.append(ToolCall.objects.for_tenant(tenant_id).filter(pk=tool_call_id).exists())
        finally:
            connections.close_all()

    thread = threading.Thread(target=look)
    thread.start()
    thread.join()
    return seen[0]


@pytest.fixture
def published() -> Iterator[list[Published]]:
    """Every long tool task message sent during the test."""
    sent: list[Published] = []

    def record(sender: str, body: Any, **kwargs: Any) -> None:
        if sender == settings.LONG_TOOL_TASK:
            tenant_id, tool_call_id = body[0]
            sent.append(Published(tenant_id, tool_call_id, _visible_elsewhere(*body[0])))

    before_task_publish.connect(record, weak=False)
    yield sent
    before_task_publish.disconnect(record)


def enqueue(tenant: Tenant, call_id: str = "call_1", time_limit: float = 30.0) -> ToolCall:
    return tool_call_enqueue(
        tenant_id=tenant.pk,
        thread_id="thr_1",
        run_id="run_1",
        call_id=call_id,
        tool_name="test_long_count_steps",
        arguments={"steps": 1, "delay": 0},
        time_limit_seconds=time_limit,
    )


def claim(call: ToolCall, hostname: str = "w1@host", tenant_id: int | None = None) -> Claim | None:
    return tool_call_claim(
        tenant_id=call.tenant_id if tenant_id is None else tenant_id,
        tool_call_id=call.pk,
        hostname=hostname,
        task_id="task-1",
    )


def reload(call: ToolCall) -> ToolCall:
    return ToolCall.objects.for_tenant(call.tenant_id).get(pk=call.pk)


def change(call: ToolCall, **fields: Any) -> None:
    ToolCall.objects.for_tenant(call.tenant_id).filter(pk=call.pk).update(**fields)


def test_record_is_committed_before_the_task_is_sent(
    acme: Tenant, published: list[Published]
) -> None:
    with transaction.atomic():
        call = enqueue(acme)
        assert published == []

    assert published == [Published(acme.pk, call.pk, committed=True)]
    assert (call.status, call.attempts, call.time_limit_seconds) == (Status.QUEUED, 0, 30.0)


def test_rolled_back_record_sends_nothing(acme: Tenant, published: list[Published]) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue(acme)
        raise RuntimeError("the run failed before committing")

    assert published == []
    assert not ToolCall.objects.for_tenant(acme).exists()


def test_time_limit_is_capped_by_the_platform_limit(acme: Tenant, settings: Any) -> None:
    settings.LONG_TOOL_TIMEOUT_SECONDS = 10
    assert enqueue(acme, time_limit=120).time_limit_seconds == 10


async def test_same_call_id_reuses_the_record_and_its_result(
    acme: Tenant, published: list[Published]
) -> None:
    first = await database_sync_to_async(enqueue)(acme)
    await database_sync_to_async(change)(first, status=Status.DONE, result={"counted": 1})

    async def ignore(text: str, fraction: float | None) -> None:
        raise AssertionError("no progress expected")

    result = await long_tool_run(
        tenant_id=acme.pk,
        thread_id="thr_1",
        run_id="run_1",
        call_id="call_1",
        tool_name="test_long_count_steps",
        arguments={"steps": 1, "delay": 0},
        time_limit_seconds=30,
        on_progress=ignore,
    )

    assert result == {"counted": 1}
    assert [p.tool_call_id for p in published] == [first.pk]


def test_call_id_reused_for_another_call_is_refused(acme: Tenant) -> None:
    enqueue(acme)

    with pytest.raises(LongToolError) as caught:
        tool_call_enqueue(
            tenant_id=acme.pk,
            thread_id="thr_1",
            run_id="run_1",
            call_id="call_1",
            tool_name="test_long_count_steps",
            arguments={"steps": 2, "delay": 0},
            time_limit_seconds=30,
        )

    assert caught.value.code == "call_id_reused"


def test_the_same_call_id_in_another_run_is_a_call_of_its_own(
    acme: Tenant, published: list[Published]
) -> None:
    first = enqueue(acme, "call_0")
    change(first, status=Status.DONE, result={"counted": 1})

    second = tool_call_enqueue(
        tenant_id=acme.pk,
        thread_id="thr_1",
        run_id="run_2",
        call_id="call_0",
        tool_name="test_long_count_steps",
        arguments={"steps": 2, "delay": 0},
        time_limit_seconds=30,
    )

    assert second.pk != first.pk
    assert (second.status, second.run_id, second.arguments["steps"]) == (Status.QUEUED, "run_2", 2)
    assert [p.tool_call_id for p in published] == [first.pk, second.pk]


def test_claim_is_refused_while_another_attempt_holds_the_call(acme: Tenant) -> None:
    call = enqueue(acme)

    first = claim(call, "w1@host")
    second = claim(call, "w2@host")

    assert first is not None and second is None
    call = reload(call)
    assert (call.status, call.attempts, call.claim_token) == (Status.RUNNING, 1, first.token)
    assert (call.worker_hostname, call.celery_task_id) == ("w1@host", "task-1")
    assert call.deadline == call.started_at + timedelta(seconds=35)


def test_claim_through_another_tenant_finds_nothing(acme: Tenant, globex: Tenant) -> None:
    call = enqueue(acme)

    assert claim(call, tenant_id=globex.pk) is None
    assert reload(call).status == Status.QUEUED


def test_attempt_left_behind_by_a_dead_pool_process_is_claimed_at_once(acme: Tenant) -> None:
    call = enqueue(acme)
    assert claim(call, "w1@host") is not None
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    change(call, worker_pid=int(gone.stdout))

    # Another worker cannot judge the process; the same worker can, and it is gone.
    assert claim(call, "w2@host") is None
    retaken = claim(call, "w1@host")

    assert retaken is not None
    assert (reload(call).attempts, reload(call).claim_token) == (2, retaken.token)


def test_every_attempt_of_a_call_gets_the_same_idempotency_key(acme: Tenant) -> None:
    call = enqueue(acme, "call_1")
    other = enqueue(acme, "call_2")
    first = claim(call, "w1@host")
    change(call, heartbeat_at=timezone.now() - timedelta(minutes=1))
    second = claim(call, "w2@host")
    elsewhere = claim(other)

    assert first is not None and second is not None and elsewhere is not None
    assert first.token != second.token
    assert first.idempotency_key == second.idempotency_key
    assert len(first.idempotency_key) == 40
    assert elsewhere.idempotency_key != first.idempotency_key
    # Nothing of the ids shows through.
    assert "call_1" not in first.idempotency_key and str(acme.pk) != first.idempotency_key


def test_superseded_attempt_cannot_record_a_result(
    acme: Tenant, published: list[Published]
) -> None:
    call = enqueue(acme)
    first = claim(call)
    assert first is not None
    assert tool_call_sweep().requeued == 0  # its heartbeat is fresh

    change(call, heartbeat_at=timezone.now() - timedelta(minutes=1))
    assert tool_call_sweep().requeued == 1
    second = claim(call, "w2@host")
    assert second is not None

    assert not tool_call_finish(first, Outcome(Status.DONE, result="first"))
    assert tool_call_finish(second, Outcome(Status.DONE, result="second"))
    assert not tool_call_finish(second, Outcome(Status.DONE, result="again"))
    call = reload(call)
    assert (call.status, call.result, call.attempts) == (Status.DONE, "second", 2)
    assert call.duration_seconds is not None and call.finished_at is not None
    assert [p.tool_call_id for p in published] == [call.pk, call.pk]


def test_sweep_ends_calls_out_of_attempts_or_past_their_deadline(acme: Tenant) -> None:
    worn, late = enqueue(acme, "call_worn"), enqueue(acme, "call_late", time_limit=2)
    assert claim(worn) is not None and claim(late) is not None
    stale = timezone.now() - timedelta(minutes=1)
    change(worn, attempts=MAX_ATTEMPTS, heartbeat_at=stale)
    change(late, heartbeat_at=stale, deadline=stale)

    report = tool_call_sweep()

    assert (report.failed, report.timed_out, report.requeued) == (1, 1, 0)
    worn, late = reload(worn), reload(late)
    assert (worn.status, worn.error_code) == (Status.FAILED, "interrupted")
    assert (late.status, late.error_message) == (
        Status.TIMED_OUT,
        "The tool 'test_long_count_steps' did not finish within 2 seconds.",
    )


def test_sweep_resends_a_queued_call_whose_message_may_be_lost(
    acme: Tenant, published: list[Published]
) -> None:
    lost, abandoned = enqueue(acme, "call_lost"), enqueue(acme, "call_abandoned")
    long_ago = timezone.now() - timedelta(hours=1)
    change(lost, sent_at=timezone.now() - timedelta(minutes=2))
    change(abandoned, sent_at=long_ago, queued_at=long_ago)
    published.clear()

    report = tool_call_sweep()

    assert (report.resent, report.failed) == (1, 1)
    assert [p.tool_call_id for p in published] == [lost.pk]
    assert reload(lost).status == Status.QUEUED
    assert (reload(abandoned).status, reload(abandoned).error_code) == (Status.FAILED, "no_worker")


def test_a_lost_message_is_resent_before_the_waiting_run_gives_up(
    acme: Tenant, published: list[Published]
) -> None:
    # Sent this long ago, a call is re-sent by this sweep at the latest: one sweep period
    # later, with 15 s left for a worker to take the copy, the run is still waiting for it.
    sent = PICKUP_TIMEOUT_SECONDS - settings.LONG_TOOL_SWEEP_SECONDS - 15
    call = enqueue(acme, "call_taken_by_a_dead_worker")
    change(call, sent_at=timezone.now() - timedelta(seconds=sent))
    published.clear()

    report = tool_call_sweep()

    assert report.resent == 1
    assert [p.tool_call_id for p in published] == [call.pk]


async def test_run_past_the_attempt_deadline_ends_with_a_time_out(acme: Tenant) -> None:
    call = await database_sync_to_async(enqueue)(acme, time_limit=1)
    await database_sync_to_async(claim)(call)
    # The worker is stuck beyond its hard limit (or gone): the waiting side decides.
    await database_sync_to_async(change)(call, deadline=timezone.now() - timedelta(minutes=1))

    async def ignore(text: str, fraction: float | None) -> None:
        return None

    with pytest.raises(LongToolError) as caught:
        await long_tool_run(
            tenant_id=acme.pk,
            thread_id="thr_1",
            run_id="run_1",
            call_id="call_1",
            tool_name="test_long_count_steps",
            arguments={"steps": 1, "delay": 0},
            time_limit_seconds=1,
            on_progress=ignore,
        )

    assert caught.value.code == "timed_out"
    stored = await database_sync_to_async(reload)(call)
    assert (stored.status, stored.claim_token) == (Status.TIMED_OUT, "")


def test_tool_call_records_are_kept_apart_per_tenant(acme: Tenant, globex: Tenant) -> None:
    mine, theirs = enqueue(acme), enqueue(globex)

    assert mine.pk != theirs.pk
    assert list(ToolCall.objects.for_tenant(acme).values_list("pk", flat=True)) == [mine.pk]
