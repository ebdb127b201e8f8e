"""A thread's run traces over /api/v1/threads/{id}/traces, and another tenant's (404)."""

from __future__ import annotations

import httpx
import pytest
from asgiref.sync import async_to_sync

from tenants.models import Tenant
from tests.hosted_agents.test_runtime import chat_for, publish, thread_id_of
from tests.management_api.conftest import assert_error

pytestmark = pytest.mark.live


def test_a_threads_traces_name_each_answer_with_its_spans(
    acme: Tenant, acme_api: httpx.Client, globex_api: httpx.Client
) -> None:
    agent = publish(acme)  # the demo model
    events = async_to_sync(chat_for(agent).create)("Hello")
    thread_id = thread_id_of(events)
    [answer] = [
        e["item"]["id"] for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
    ]  # fmt: skip

    response = acme_api.get(f"/threads/{thread_id}/traces")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["object"], body["thread_id"]) == ("list", thread_id)
    [trace] = body["data"]
    assert (trace["object"], trace["item_id"], trace["agent_version"]) == (
        "run.trace",
        answer,
        1,
    )
    assert "agent" in [span["kind"] for span in trace["spans"]]
    assert_error(globex_api.get(f"/threads/{thread_id}/traces"), 404)
    assert_error(acme_api.get("/threads/thr_missing/traces"), 404)
