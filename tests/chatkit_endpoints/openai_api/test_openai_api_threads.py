"""client.beta.chatkit.threads.list / retrieve / delete / list_items, on a live server."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import openai
import pytest
from django.test import Client
from openai import OpenAI

from chatkit_core.types import (
    Annotation,
    AssistantMessageContent,
    AssistantMessageItem,
    ClientToolCallItem,
    CustomTask,
    EndOfTurnItem,
    FileAttachment,
    FileSource,
    HiddenContextItem,
    InferenceOptions,
    TaskItem,
    ThoughtTask,
    ThreadItem,
    ToolChoice,
    URLSource,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
)
from chatkit_core.widgets import Card, Text
from tenants.models import Attachment, AuditEvent, Tenant, Thread
from tenants.models import ThreadItem as ThreadItemRow
from tenants.services import IssuedApiKey
from tests.chatkit_endpoints.openai_api.conftest import BASE, MakeThread

pytestmark = pytest.mark.live


def _at(seconds: int) -> Any:
    return BASE + timedelta(seconds=seconds)


def _every_kind_of_item(thread_id: str) -> list[ThreadItem]:
    base = {"thread_id": thread_id}
    return [
        UserMessageItem(
            id="msg_user",
            created_at=_at(1),
            content=[
                UserMessageTextContent(text="Where is "),
                UserMessageTagContent(id="t1", text="Order 42"),
            ],
            attachments=[FileAttachment(id="atc_1", name="invoice.pdf", mime_type="a/pdf")],
            quoted_text="the parcel",
            inference_options=InferenceOptions(model="gpt-4.1", tool_choice=ToolChoice(id="s")),
            **base,
        ),
        HiddenContextItem(id="hid_1", created_at=_at(2), content="private", **base),
        TaskItem(
            id="tsk_1", created_at=_at(3), task=ThoughtTask(title="Thinking", content="Hmm"), **base
        ),
        WorkflowItem(
            id="wf_item",
            created_at=_at(4),
            workflow=Workflow(
                type="custom",
                tasks=[CustomTask(title="Look up", content="order 42"), ThoughtTask(content="ok")],
            ),
            **base,
        ),
        ClientToolCallItem(
            id="ctc_1",
            created_at=_at(5),
            call_id="call_1",
            name="get_location",
            arguments={"precise": True},
            status="completed",
            output={"city": "Paris"},
            **base,
        ),
        WidgetItem(
            id="wdg_1", created_at=_at(6), widget=Card(children=[Text(value="Shipped")]), **base
        ),
        AssistantMessageItem(
            id="msg_assistant",
            created_at=_at(7),
            content=[
                AssistantMessageContent(
                    text="It ships today.",
                    annotations=[
                        Annotation(source=URLSource(title="Tracking", url="https://example.com/t")),
                        Annotation(source=FileSource(title="Invoice", filename="invoice.pdf")),
                    ],
                )
            ],
            **base,
        ),
        EndOfTurnItem(id="eot_1", created_at=_at(8), **base),
    ]  # fmt: skip


@pytest.fixture
def threads(make_thread: MakeThread) -> list[Thread]:
    """Five threads of user-1 and two of user-2, one minute apart, oldest first."""
    made = [make_thread(f"thr_{n}", minutes=n, title=f"Thread {n}") for n in range(5)]
    made += [make_thread(f"thr_other_{n}", user="user-2", minutes=10 + n) for n in range(2)]
    return made


def test_threads_list_pages_through_every_thread_newest_first(
    acme_client: OpenAI, threads: list[Thread]
) -> None:
    first = acme_client.beta.chatkit.threads.list(limit=3)
    assert [t.id for t in first.data] == ["thr_other_1", "thr_other_0", "thr_4"]
    assert first.has_more is True
    assert first.last_id == "thr_4"
    assert first.model_dump()["first_id"] == "thr_other_1"

    every = [t.id for t in acme_client.beta.chatkit.threads.list(limit=2)]
    assert every == ["thr_other_1", "thr_other_0", "thr_4", "thr_3", "thr_2", "thr_1", "thr_0"]


def test_threads_list_narrows_to_one_user_and_orders_oldest_first(
    acme_client: OpenAI, threads: list[Thread]
) -> None:
    page = acme_client.beta.chatkit.threads.list(user="user-1", order="asc", limit=2)
    pages = [[t.id for t in each.data] for each in page.iter_pages()]
    assert pages == [["thr_0", "thr_1"], ["thr_2", "thr_3"], ["thr_4"]]
    assert page.get_next_page().data[0].id == "thr_2"
    nobody = acme_client.beta.chatkit.threads.list(user="nobody")
    assert nobody.data == [] and nobody.has_more is False


def test_before_reads_the_page_that_ends_next_to_the_cursor(
    acme_client: OpenAI, threads: list[Thread]
) -> None:
    page = acme_client.beta.chatkit.threads.list(user="user-1", before="thr_1", limit=2)
    assert [t.id for t in page.data] == ["thr_3", "thr_2"]
    assert page.has_more is True
    window = acme_client.beta.chatkit.threads.list(user="user-1", after="thr_4", before="thr_1")
    assert [t.id for t in window.data] == ["thr_3", "thr_2"]
    assert window.has_more is False


def test_a_thread_reads_in_openais_shape(acme_client: OpenAI, make_thread: MakeThread) -> None:
    make_thread("thr_locked", title=None, status={"type": "locked", "reason": "Read only"})
    thread = acme_client.beta.chatkit.threads.retrieve("thr_locked")
    assert thread.model_dump() == {
        "id": "thr_locked",
        "object": "chatkit.thread",
        "created_at": int(BASE.timestamp()),
        "title": None,
        "user": "user-1",
        "status": {"type": "locked", "reason": "Read only"},
    }
    listed = acme_client.beta.chatkit.threads.list().data[0]
    assert listed.status.type == "locked"


def test_items_list_gives_every_kind_of_item_in_openais_shape(
    acme_client: OpenAI, make_thread: MakeThread
) -> None:
    make_thread("thr_items", items=_every_kind_of_item("thr_items"))
    items = acme_client.beta.chatkit.threads.list_items("thr_items", order="asc", limit=100)
    by_id = {item.id: item.model_dump() for item in items.data}

    assert list(by_id) == ["msg_user", "tsk_1", "wf_item", "ctc_1", "wdg_1", "msg_assistant"]
    assert {item["object"] for item in by_id.values()} == {"chatkit.thread_item"}
    assert {item["thread_id"] for item in by_id.values()} == {"thr_items"}
    user = by_id["msg_user"]
    assert user["type"] == "chatkit.user_message"
    assert user["created_at"] == int(_at(1).timestamp())
    assert user["content"] == [
        {"type": "input_text", "text": "Where is "},
        {"type": "input_text", "text": "@Order 42"},
        {"type": "quoted_text", "text": "the parcel"},
    ]
    assert user["attachments"] == [
        {
            "id": "atc_1",
            "name": "invoice.pdf",
            "mime_type": "a/pdf",
            "type": "file",
            "preview_url": None,
        }
    ]
    assert user["inference_options"] == {"model": "gpt-4.1", "tool_choice": {"id": "s"}}
    assert by_id["tsk_1"] | {"created_at": 0} == {
        "id": "tsk_1",
        "object": "chatkit.thread_item",
        "thread_id": "thr_items",
        "created_at": 0,
        "type": "chatkit.task",
        "task_type": "thought",
        "heading": "Thinking",
        "summary": "Hmm",
    }
    assert by_id["wf_item"]["type"] == "chatkit.task_group"
    assert by_id["wf_item"]["tasks"] == [
        {"type": "custom", "heading": "Look up", "summary": "order 42"},
        {"type": "thought", "heading": None, "summary": "ok"},
    ]
    call = by_id["ctc_1"]
    assert call["type"] == "chatkit.client_tool_call"
    assert (call["call_id"], call["name"], call["status"]) == (
        "call_1",
        "get_location",
        "completed",
    )
    assert json.loads(call["arguments"]) == {"precise": True}
    assert json.loads(call["output"]) == {"city": "Paris"}
    widget = by_id["wdg_1"]
    assert widget["type"] == "chatkit.widget"
    assert json.loads(widget["widget"])["children"][0]["value"] == "Shipped"
    assistant = by_id["msg_assistant"]
    assert assistant["type"] == "chatkit.assistant_message"
    assert assistant["content"] == [
        {
            "type": "output_text",
            "text": "It ships today.",
            "annotations": [
                {"type": "url", "source": {"type": "url", "url": "https://example.com/t"}},
                {"type": "file", "source": {"type": "file", "filename": "invoice.pdf"}},
            ],
        }
    ]


def test_items_list_pages_newest_first_by_default(
    acme_client: OpenAI, make_thread: MakeThread
) -> None:
    make_thread("thr_items", items=_every_kind_of_item("thr_items"))
    first = acme_client.beta.chatkit.threads.list_items("thr_items", limit=4)
    assert [i.id for i in first.data] == ["msg_assistant", "wdg_1", "ctc_1", "wf_item"]
    assert first.has_more is True
    rest = [i.id for i in acme_client.beta.chatkit.threads.list_items("thr_items", limit=4)]
    assert rest == ["msg_assistant", "wdg_1", "ctc_1", "wf_item", "tsk_1", "msg_user"]


def test_a_pending_client_tool_call_reads_in_progress(
    acme_client: OpenAI, make_thread: MakeThread
) -> None:
    call = ClientToolCallItem(
        id="ctc_2", thread_id="thr_call", created_at=BASE, call_id="c", name="n", arguments={}
    )
    make_thread("thr_call", items=[call])
    [item] = acme_client.beta.chatkit.threads.list_items("thr_call").data
    assert (item.status, item.output) == ("in_progress", None)  # type: ignore[union-attr]


def test_delete_takes_the_items_and_attachments_with_the_thread(
    acme: Tenant, acme_client: OpenAI, make_thread: MakeThread
) -> None:
    thread = make_thread("thr_gone", items=_every_kind_of_item("thr_gone"))
    Attachment(
        tenant=acme, public_id="atc_1", thread=thread, name="invoice.pdf", mime_type="a", data={}
    ).save()
    make_thread("thr_kept", items=_every_kind_of_item("thr_kept"))

    deleted = acme_client.beta.chatkit.threads.delete("thr_gone")

    assert deleted.model_dump() == {
        "id": "thr_gone",
        "object": "chatkit.thread.deleted",
        "deleted": True,
    }
    assert list(Thread.objects.for_tenant(acme).values_list("public_id", flat=True)) == ["thr_kept"]
    assert ThreadItemRow.objects.for_tenant(acme).filter(thread__public_id="thr_gone").count() == 0
    assert ThreadItemRow.objects.for_tenant(acme).count() == 8
    assert not Attachment.objects.for_tenant(acme).exists()
    assert AuditEvent.objects.for_tenant(acme).filter(action="thread.delete").count() == 1
    with pytest.raises(openai.NotFoundError):
        acme_client.beta.chatkit.threads.retrieve("thr_gone")
    with pytest.raises(openai.NotFoundError):
        acme_client.beta.chatkit.threads.delete("thr_gone")


def test_another_tenants_threads_answer_exactly_like_missing_ones(
    acme: Tenant, globex_client: OpenAI, make_thread: MakeThread
) -> None:
    make_thread("thr_acme", items=_every_kind_of_item("thr_acme"))

    assert list(globex_client.beta.chatkit.threads.list()) == []
    assert list(globex_client.beta.chatkit.threads.list(user="user-1")) == []
    calls = [
        globex_client.beta.chatkit.threads.retrieve,
        globex_client.beta.chatkit.threads.delete,
        globex_client.beta.chatkit.threads.list_items,
    ]
    for call in calls:
        answers = []
        for thread_id in ("thr_acme", "thr_missing"):
            with pytest.raises(openai.NotFoundError) as caught:
                call(thread_id)
            answers.append(json.dumps(caught.value.body).replace(thread_id, "X"))
        assert answers[0] == answers[1]
    assert Thread.objects.for_tenant(acme).filter(public_id="thr_acme").exists()
    assert ThreadItemRow.objects.for_tenant(acme).count() == 8


def test_a_cursor_of_another_tenant_ends_the_list(
    acme_client: OpenAI, globex: Tenant, make_thread: MakeThread, threads: list[Thread]
) -> None:
    make_thread("thr_globex", tenant=globex)
    page = acme_client.beta.chatkit.threads.list(after="thr_globex")
    assert page.data == [] and page.has_more is False


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("order=sideways", "order"),
        ("limit=x", "limit"),
    ],
)
def test_bad_paging_is_refused(
    acme_client: OpenAI, threads: list[Thread], query: str, param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        acme_client.get(f"/chatkit/threads?{query}", cast_to=object)
    assert caught.value.param == param  # type: ignore[attr-defined]


# Transactional: the store's writes go through database_sync_to_async, which closes the
# connection of a transaction-wrapped test.
@pytest.mark.django_db(transaction=True)
def test_a_page_costs_the_key_and_one_query(
    client: Client,
    acme_key: IssuedApiKey,
    threads: list[Thread],
    make_thread: MakeThread,
    django_assert_num_queries: Any,
) -> None:
    # In process, so that the queries are counted; the key's last use is written at most
    # once a minute, by the first request.
    make_thread("thr_items", minutes=30, items=_every_kind_of_item("thr_items"))
    headers = {"authorization": f"Bearer {acme_key.raw}", "openai-beta": "chatkit_beta=v1"}
    assert client.get("/v1/chatkit/threads", headers=headers).status_code == 200
    with django_assert_num_queries(2):  # the key, the page
        response = client.get("/v1/chatkit/threads?limit=3", headers=headers)
    assert len(response.json()["data"]) == 3
    with django_assert_num_queries(3):  # the key, the thread, the page
        response = client.get("/v1/chatkit/threads/thr_items/items", headers=headers)
    assert len(response.json()["data"]) == 6
