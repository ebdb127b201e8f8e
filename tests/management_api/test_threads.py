"""Threads over /api/v1/: filters and keyset pages, one thread with its items, export as
JSON lines and CSV, delete, and forgetting an end user."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chatkit_core.types import ThreadMetadata, UserMessageItem
from hosted_agents.selectors import agent_get
from tenants.models import Attachment, AuditEvent, Feedback, Tenant, Thread, ThreadItem
from tenants.selectors_threads import ThreadFilter, thread_search_page
from tenants.services import feedback_create
from tenants.store import DjangoStore
from tests.management_api.conftest import assert_error, seed

pytestmark = pytest.mark.live

BASE = datetime(2026, 11, 1, tzinfo=UTC)


def _thread(tenant: Tenant, thread_id: str, user: str, minutes: int, items: int = 0) -> None:
    store: DjangoStore[None] = DjangoStore(
        tenant, agent=agent_get(tenant=tenant, slug="support"), end_user_id=user
    )
    created = BASE + timedelta(minutes=minutes)
    async_to_sync(store.save_thread)(ThreadMetadata(id=thread_id, created_at=created), None)
    for n in range(items):
        item = UserMessageItem.model_validate(
            {
                "id": f"msg_{thread_id}_{n}",
                "thread_id": thread_id,
                "created_at": created,
                "content": [{"type": "input_text", "text": f"hello {n}"}],
                "inference_options": {},
            }
        )
        async_to_sync(store.add_thread_item)(thread_id, item, None)


@pytest.fixture
def threads(acme: Tenant) -> Tenant:
    seed(acme)  # thr_seed of user-1, with positive feedback, at BASE
    for n in range(5):
        _thread(acme, f"thr_{n}", "user-2" if n % 2 else "user-3", minutes=10 + n, items=2)
    return acme


def test_the_list_filters_and_pages_by_keyset(acme_api: httpx.Client, threads: Tenant) -> None:
    page = acme_api.get("/threads", params={"limit": 2}).json()
    assert [t["id"] for t in page["data"]] == ["thr_4", "thr_3"] and page["has_more"]
    rest = acme_api.get("/threads", params={"limit": 10, "after": page["last_id"]}).json()
    assert [t["id"] for t in rest["data"]] == ["thr_2", "thr_1", "thr_0", "thr_seed"]
    by_user = acme_api.get("/threads", params={"user": "user-2"}).json()
    assert [t["id"] for t in by_user["data"]] == ["thr_3", "thr_1"]
    rated = acme_api.get("/threads", params={"has_feedback": "true"}).json()
    assert [t["id"] for t in rated["data"]] == ["thr_seed"]
    unrated = acme_api.get("/threads", params={"has_feedback": "false", "agent": "support"})
    assert len(unrated.json()["data"]) == 5
    after = (BASE + timedelta(minutes=12)).isoformat()
    recent = acme_api.get("/threads", params={"created_after": after, "order": "asc"}).json()
    assert [t["id"] for t in recent["data"]] == ["thr_2", "thr_3", "thr_4"]


@pytest.mark.django_db(transaction=True)  # the fixture writes through the async store
def test_a_page_is_one_query(threads: Tenant) -> None:
    where = ThreadFilter(end_user_id="user-3", has_feedback=False)
    with CaptureQueriesContext(connection) as queries:
        rows, _ = thread_search_page(tenant=threads, where=where, after="thr_4", limit=2)
    assert [row["public_id"] for row in rows] == ["thr_2", "thr_0"]
    assert len(queries) == 1


def test_a_thread_comes_with_its_items(acme_api: httpx.Client, threads: Tenant) -> None:
    thread = acme_api.get("/threads/thr_1").json()
    assert thread["user"] == "user-2" and thread["agent"] == "support"
    assert [i["id"] for i in thread["items"]] == ["msg_thr_1_0", "msg_thr_1_1"]
    assert thread["items_truncated"] is False


def test_exports_stream_every_filtered_thread(acme_api: httpx.Client, threads: Tenant) -> None:
    jsonl = acme_api.get("/threads/export", params={"user": "user-3"})
    assert jsonl.headers["content-type"] == "application/x-ndjson"
    assert [json.loads(line)["id"] for line in jsonl.text.splitlines()] == [
        "thr_0", "thr_2", "thr_4"
    ]  # fmt: skip
    as_csv = acme_api.get("/threads/export", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == 6 and rows[0]["id"] == "thr_seed" and rows[0]["user"] == "user-1"


def test_forgetting_an_end_user_deletes_all_of_theirs_and_is_audited(
    acme_api: httpx.Client, threads: Tenant, globex: Tenant
) -> None:
    Attachment(tenant=threads, public_id="att_1", end_user_id="user-2", name="a.txt",
               mime_type="text/plain", data={}).save()  # fmt: skip
    feedback_create(tenant=threads, thread_id="thr_1", item_ids=[], kind="negative",
                    end_user_id="user-2")  # fmt: skip
    seed(globex, prefix="g-", user="user-2")
    response = acme_api.post("/end-users/forget", json={"user": "user-2"})
    assert response.status_code == 200, response.text
    counts = {"threads": 2, "items": 4, "attachments": 1, "feedback": 1}
    assert response.json() == {"object": "end_user.forgotten", "user": "user-2", **counts}
    assert not Thread.objects.for_tenant(threads).filter(end_user_id="user-2").exists()
    assert not ThreadItem.objects.for_tenant(threads).filter(thread__public_id="thr_1").exists()
    assert not Feedback.objects.for_tenant(threads).filter(end_user_id="user-2").exists()
    assert Thread.objects.for_tenant(threads).count() == 4
    assert Thread.objects.for_tenant(globex).filter(end_user_id="user-2").count() == 1
    event = AuditEvent.objects.for_tenant(threads).get(action="end_user.forget")
    assert event.before["end_user_id"] == "user-2" and event.actor_kind == "api_key"


def test_delete_and_another_tenants_thread(
    acme_api: httpx.Client, globex_api: httpx.Client, threads: Tenant
) -> None:
    assert_error(globex_api.get("/threads/thr_1"), 404)
    assert_error(globex_api.delete("/threads/thr_1"), 404)
    assert globex_api.get("/threads").json()["data"] == []
    assert globex_api.get("/threads/export").text == ""
    assert acme_api.delete("/threads/thr_1").json()["deleted"] is True
    assert_error(acme_api.get("/threads/thr_1"), 404)
