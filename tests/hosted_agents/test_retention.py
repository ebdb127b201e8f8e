"""Retention: a tenant's policy deletes exactly its threads inactive for longer, in audited
batches; other tenants and newer threads are untouched. One test runs the beat task on a
real Celery worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from celery import current_app
from django.conf import settings
from django.utils import timezone

from hosted_agents.models import Agent
from hosted_agents.services.retention import retention_enforce, retention_policies
from tenants.models import Attachment, AuditEvent, Feedback, Tenant, Thread, ThreadItem
from tests.support.celery_worker import CeleryWorker, WorkerBroker, isolated_broker

NOW = timezone.now()
OLD = NOW - timedelta(days=2)
RECENT = NOW - timedelta(hours=6)


def _thread(tenant: Tenant, public_id: str, *, at: datetime, agent: Agent | None = None) -> Thread:
    """A thread with one item and one attachment, last active at `at`."""
    thread = Thread.objects.for_tenant(tenant).create(
        tenant=tenant, public_id=public_id, agent=agent, created_at=at
    )
    ThreadItem.objects.for_tenant(tenant).create(
        tenant=tenant, thread=thread, public_id=f"msg_{public_id}", type="user_message",
        created_at=at, data={"id": f"msg_{public_id}"},
    )  # fmt: skip
    Attachment.objects.for_tenant(tenant).create(
        tenant=tenant, thread=thread, public_id=f"atc_{public_id}", name="a.txt",
        mime_type="text/plain", data={},
    )  # fmt: skip
    Feedback.objects.for_tenant(tenant).create(tenant=tenant, thread=thread, kind="positive")
    # auto_now stamps updated_at on save; update() leaves it as told.
    Thread.objects.for_tenant(tenant).filter(pk=thread.pk).update(updated_at=at)
    return thread


def _public_ids(tenant: Tenant) -> set[str]:
    return set(Thread.objects.for_tenant(tenant).values_list("public_id", flat=True))


@pytest.fixture
def threads(acme: Tenant, globex: Tenant) -> None:
    acme.retention_days = 1
    acme.save(update_fields=["retention_days"])
    for index in range(3):
        _thread(acme, f"thr_old{index}", at=OLD)
    _thread(acme, "thr_recent", at=RECENT)
    # Old, but a new item came in a few hours ago: still active.
    revived = _thread(acme, "thr_revived", at=OLD)
    ThreadItem.objects.for_tenant(acme).create(
        tenant=acme, thread=revived, public_id="msg_new", type="user_message",
        created_at=RECENT, data={},
    )  # fmt: skip
    Thread.objects.for_tenant(acme).filter(pk=revived.pk).update(updated_at=OLD)
    # globex keeps everything: no policy.
    _thread(globex, "thr_old0", at=OLD - timedelta(days=400))


def test_a_one_day_policy_deletes_exactly_the_old_threads(
    acme: Tenant, globex: Tenant, threads: None
) -> None:
    report = retention_enforce(now=NOW, batch_size=2)

    assert report.threads_deleted == 3
    assert report.batches == 2  # 2 + 1
    assert _public_ids(acme) == {"thr_recent", "thr_revived"}
    assert _public_ids(globex) == {"thr_old0"}
    # Items, attachments and feedback went with their threads.
    assert not ThreadItem.objects.for_tenant(acme).filter(public_id__startswith="msg_thr_old")
    assert set(Attachment.objects.for_tenant(acme).values_list("public_id", flat=True)) == {
        "atc_thr_recent", "atc_thr_revived",
    }  # fmt: skip
    assert Feedback.objects.for_tenant(acme).count() == 2
    assert ThreadItem.objects.for_tenant(globex).count() == 1
    batches = AuditEvent.objects.for_tenant(acme).filter(action="thread.retention_delete")
    listed = [sorted(event.after["threads"]) for event in batches.order_by("pk")]
    assert listed == [["thr_old0", "thr_old1"], ["thr_old2"]]
    assert {event.actor_label for event in batches} == {"system:retention"}
    assert not AuditEvent.objects.for_tenant(globex).filter(action="thread.retention_delete")


def test_a_second_run_finds_nothing(acme: Tenant, threads: None) -> None:
    retention_enforce(now=NOW)
    assert retention_enforce(now=NOW).threads_deleted == 0
    assert _public_ids(acme) == {"thr_recent", "thr_revived"}


def test_the_shorter_of_agent_and_tenant_policy_applies(
    acme: Tenant, acme_agent: Agent, globex: Tenant
) -> None:
    strict = Agent.objects.for_tenant(acme).create(
        tenant=acme, slug="strict", name="Strict", retention_days=1
    )
    lenient = Agent.objects.for_tenant(acme).create(
        tenant=acme, slug="lenient", name="Lenient", retention_days=90
    )
    acme.retention_days = 10
    acme.save(update_fields=["retention_days"])
    eleven_days = NOW - timedelta(days=11)
    _thread(acme, "thr_strict", at=OLD, agent=strict)
    _thread(acme, "thr_lenient_2d", at=OLD, agent=lenient)
    _thread(acme, "thr_lenient_11d", at=eleven_days, agent=lenient)
    _thread(acme, "thr_default_2d", at=OLD, agent=acme_agent)
    _thread(acme, "thr_orphan_11d", at=eleven_days)

    assert [days for days, _ in retention_policies(tenant=acme)] == [1, 10]
    retention_enforce(now=NOW)

    assert _public_ids(acme) == {"thr_lenient_2d", "thr_default_2d"}


def test_an_agent_policy_alone_leaves_the_tenant_s_other_threads(
    acme: Tenant, acme_agent: Agent
) -> None:
    acme_agent.retention_days = 1
    acme_agent.save(update_fields=["retention_days"])
    _thread(acme, "thr_agent", at=OLD, agent=acme_agent)
    _thread(acme, "thr_orphan", at=OLD - timedelta(days=1000))

    retention_enforce(now=NOW)

    assert _public_ids(acme) == {"thr_orphan"}


@pytest.fixture
def platform_worker(
    tmp_path: Path, transactional_db: None
) -> Iterator[tuple[WorkerBroker, CeleryWorker]]:
    with isolated_broker(tmp_path) as broker:
        worker = CeleryWorker.start(broker, tmp_path)
        try:
            yield broker, worker
        finally:
            worker.stop()


@pytest.mark.django_db(transaction=True)
def test_the_beat_task_enforces_retention_on_a_real_worker(
    acme: Tenant, globex: Tenant, threads: None, platform_worker: tuple[WorkerBroker, CeleryWorker]
) -> None:
    broker, worker = platform_worker
    current_app.send_task(settings.RETENTION_TASK, queue=broker.queue)

    deadline = time.monotonic() + 120
    while _public_ids(acme) != {"thr_recent", "thr_revived"}:
        assert time.monotonic() < deadline, worker.log()
        time.sleep(0.2)
    assert _public_ids(globex) == {"thr_old0"}
    assert AuditEvent.objects.for_tenant(acme).filter(action="thread.retention_delete").exists()
