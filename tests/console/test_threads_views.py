"""The thread browser: filters, search, pages, the transcript, export, deletion, audit."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from django.urls import reverse

from console.views.threads import ITEMS_PAGE_SIZE
from hosted_agents.models import Agent, ToolCall
from tenants import selectors_threads
from tenants.models import AuditEvent, Feedback, Tenant, Thread, ThreadItem

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def make_thread(
    tenant: Tenant,
    public_id: str,
    *,
    title: str | None = None,
    agent: Agent | None = None,
    user: str = "end-1",
    at: datetime = T0,
    items: list[tuple[str, dict[str, Any]]] = (),  # type: ignore[assignment]
    version: int | None = None,
) -> Thread:
    thread = Thread(
        tenant=tenant, public_id=public_id, title=title, agent=agent,
        agent_slug=agent.slug if agent else "", end_user_id=user, created_at=at,
    )  # fmt: skip
    thread.save()
    for n, (kind, data) in enumerate(items):
        answered = kind != "user_message" and version is not None
        ThreadItem(
            tenant=tenant, thread=thread, public_id=f"{public_id}_i{n}", type=kind,
            created_at=at + timedelta(seconds=n), data={"id": f"{public_id}_i{n}", **data},
            agent_version=version if answered else None, model="gpt-test" if answered else None,
        ).save()  # fmt: skip
    return thread


def user_says(text: str) -> tuple[str, dict[str, Any]]:
    return "user_message", {
        "type": "user_message",
        "content": [{"type": "input_text", "text": text}],
    }


def assistant_says(text: str) -> tuple[str, dict[str, Any]]:
    return "assistant_message", {
        "type": "assistant_message", "content": [{"type": "output_text", "text": text}]
    }  # fmt: skip


WIDGET = ("widget", {"type": "widget", "widget": {"type": "Card", "children": [
    {"type": "Title", "value": "Your order"},
    {"type": "Row", "children": [
        {"type": "Text", "value": "Status"}, {"type": "Badge", "label": "shipped"},
    ]},
    {"type": "Button", "label": "Track it"},
]}})  # fmt: skip


@pytest.fixture
def sales(acme: Tenant) -> Agent:
    agent = Agent(tenant=acme, slug="sales", name="Sales")
    agent.save()
    return agent


@pytest.fixture
def seeded(acme: Tenant, acme_agent: Agent, sales: Agent, globex: Tenant) -> dict[str, Thread]:
    billing = make_thread(
        acme, "thr_billing", title="Billing question", agent=acme_agent, user="ada",
        items=[user_says("How do I pay my invoice?"), assistant_says("Use the billing page."),
               WIDGET], version=2,
    )  # fmt: skip
    Feedback(tenant=acme, thread=billing, item_ids=["thr_billing_i1"], kind="positive").save()
    shipping = make_thread(
        acme, "thr_shipping", title="Shipping", agent=sales, user="bob", at=T0 + timedelta(days=3),
        items=[user_says("Where is my parcel?"), assistant_says("Let me look it up.")], version=1,
    )  # fmt: skip
    ToolCall(
        tenant=acme, thread_id="thr_shipping", call_id="call_1", tool_name="track_parcel",
        arguments={"parcel": "P-42"}, time_limit_seconds=30, status=ToolCall.Status.FAILED,
        error_code="tool_error", error_message="carrier unreachable", queued_at=T0,
        duration_seconds=1.5,
    ).save()  # fmt: skip
    secret = make_thread(
        globex, "thr_globex", title="Globex invoice", items=[user_says("invoice for globex")]
    )
    return {"billing": billing, "shipping": shipping, "globex": secret}


@pytest.fixture
def owner_client(client: Client, acme_owner: AbstractBaseUser) -> Client:
    client.force_login(acme_owner)
    return client


def list_url(**query: str) -> str:
    url = reverse("console:threads", kwargs={"tenant": "acme"})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def listed(client: Client, **query: str) -> list[str]:
    response = client.get(list_url(**query))
    assert response.status_code == 200
    return [row["public_id"] for row in response.context["threads"]]


def test_list_shows_the_tenants_threads_newest_first(owner_client: Client, seeded: Any) -> None:
    assert listed(owner_client) == ["thr_shipping", "thr_billing"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"agent": "support"}, ["thr_billing"]),
        ({"agent": "sales", "version": "1"}, ["thr_shipping"]),
        ({"agent": "support", "version": "1"}, []),
        ({"user": "bob"}, ["thr_shipping"]),
        ({"since": "2026-11-04"}, ["thr_shipping"]),
        ({"until": "2026-11-02"}, ["thr_billing"]),
        ({"feedback": "yes"}, ["thr_billing"]),
        ({"feedback": "no"}, ["thr_shipping"]),
        ({"failed": "yes"}, ["thr_shipping"]),
        ({"failed": "no"}, ["thr_billing"]),
    ],
)
def test_each_filter_narrows_the_list(
    owner_client: Client, seeded: Any, query: dict[str, str], expected: list[str]
) -> None:
    assert listed(owner_client, **query) == expected


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("invoice", ["thr_billing"]),  # a user message; globex's thread has the word too
        ("billing", ["thr_billing"]),  # title and answer
        ("parcel", ["thr_shipping"]),
        ("Shipping", ["thr_shipping"]),  # the title only
        ("shipped", ["thr_billing"]),  # inside the widget
        ("nothing-like-this", []),
    ],
)
@pytest.mark.parametrize("listed_ids", [5000, 0], ids=["ids-listed", "threads-walked"])
def test_text_search_finds_words_in_titles_and_items(
    owner_client: Client,
    seeded: Any,
    words: str,
    expected: list[str],
    listed_ids: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Both plans of the search (see tenants.selectors_threads._text_match): with 0 ids
    # listed, every search takes the common-word plan.
    monkeypatch.setattr(selectors_threads, "SEARCH_IDS_LISTED", listed_ids)
    assert listed(owner_client, q=words) == expected


def test_bad_filters_answer_400_with_the_errors(owner_client: Client, seeded: Any) -> None:
    response = owner_client.get(list_url(version="abc", since="yesterday", agent="nope"))
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"version", "since", "agent"}
    assert b"Some filters could not be read" in response.content


def test_version_needs_an_agent(owner_client: Client, seeded: Any) -> None:
    response = owner_client.get(list_url(version="1"))
    assert response.status_code == 400


def test_pages_follow_the_keyset_cursor(owner_client: Client, acme: Tenant) -> None:
    for n in range(30):
        make_thread(acme, f"thr_{n:02d}", at=T0 + timedelta(minutes=n))
    first = owner_client.get(list_url())
    ids = [row["public_id"] for row in first.context["threads"]]
    assert ids == [f"thr_{n:02d}" for n in range(29, 4, -1)]
    assert first.context["has_more"] is True
    assert b"after=thr_05" in first.content
    second = listed(owner_client, after="thr_05")
    assert second == [f"thr_{n:02d}" for n in range(4, -1, -1)]
    assert listed(owner_client, after="thr_unknown") == []


def test_htmx_request_gets_only_the_results(owner_client: Client, seeded: Any) -> None:
    response = owner_client.get(list_url(q="parcel"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"<html" not in response.content
    assert b"thr_shipping" in response.content and b"thr_billing" not in response.content


def detail_url(thread: str, tenant: str = "acme", name: str = "console:thread") -> str:
    return reverse(name, kwargs={"tenant": tenant, "thread": thread})


def test_thread_view_shows_a_readable_transcript(owner_client: Client, seeded: Any) -> None:
    response = owner_client.get(detail_url("thr_billing"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "How do I pay my invoice?" in page
    assert "Use the billing page." in page
    assert "v2 · gpt-test" in page
    assert '<span class="w w-title">Your order</span>' in page
    assert '<span class="w w-button">Track it</span>' in page
    assert "positive feedback" in page
    assert 'data-live-url="/t/acme/live/threads/thr_billing"' in page


def test_thread_view_shows_each_answers_tokens_from_its_run_trace(
    owner_client: Client, seeded: Any, acme: Tenant
) -> None:
    from hosted_agents.models import RunSpan

    billing = seeded["billing"]
    for n, (tokens_in, tokens_out) in enumerate([(100, 20), (12, 5)]):
        RunSpan(
            tenant=acme, thread=billing, trace_id="trace_a", span_id=f"span_{n}", kind="model",
            item_id="thr_billing_i1", started_at=T0, input_tokens=tokens_in,
            output_tokens=tokens_out,
        ).save()  # fmt: skip
    # A tool span of the same run carries no tokens and changes nothing.
    RunSpan(
        tenant=acme, thread=billing, trace_id="trace_a", span_id="span_t", kind="tool",
        item_id="thr_billing_i1", started_at=T0,
    ).save()  # fmt: skip
    page = owner_client.get(detail_url("thr_billing")).content.decode()
    assert "112 in · 25 out" in page
    # The other thread's answer has no trace: no token badge there.
    assert "tokens of the run" not in owner_client.get(detail_url("thr_shipping")).content.decode()


def test_thread_view_shows_tool_calls_with_status_and_duration(
    owner_client: Client, seeded: Any
) -> None:
    page = owner_client.get(detail_url("thr_shipping")).content.decode()
    assert "track_parcel" in page
    assert "&quot;parcel&quot;: &quot;P-42&quot;" in page
    assert "tool_error: carrier unreachable" in page
    assert "1.50 s" in page and "status-failed" in page


def test_every_transcript_view_is_audited(
    owner_client: Client, seeded: Any, acme: Tenant, acme_owner: AbstractBaseUser
) -> None:
    owner_client.get(detail_url("thr_billing"), REMOTE_ADDR="203.0.113.9")
    event = AuditEvent.objects.for_tenant(acme).get(action="thread.view")
    assert event.actor == acme_owner
    assert event.target_id == str(seeded["billing"].pk)
    assert event.after["id"] == "thr_billing"
    assert event.ip == "203.0.113.9"


def test_another_tenants_thread_is_missing(owner_client: Client, seeded: Any) -> None:
    for name in ("console:thread", "console:thread_export", "console:thread_delete"):
        assert owner_client.get(detail_url("thr_globex", name=name)).status_code == 404
        assert owner_client.get(detail_url("thr_nope", name=name)).status_code == 404


def test_a_long_thread_is_read_page_by_page(owner_client: Client, acme: Tenant) -> None:
    size = ITEMS_PAGE_SIZE
    make_thread(acme, "thr_long", items=[user_says(f"message {n}") for n in range(size + 5)])
    first = owner_client.get(detail_url("thr_long"))
    assert len(first.context["entries"]) == size and first.context["has_more"]
    assert b'data-live="off"' in first.content
    second = owner_client.get(detail_url("thr_long") + f"?after=thr_long_i{size - 1}")
    later = [f"message {n}" for n in range(size, size + 5)]
    assert [e.text for e in second.context["entries"]] == later
    assert b'data-live="on"' in second.content


def test_thread_export_as_csv_has_every_item(
    owner_client: Client, seeded: Any, acme: Tenant
) -> None:
    response = owner_client.get(
        detail_url("thr_billing", name="console:thread_export") + "?format=csv"
    )
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="thread-thr_billing.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["type"] for row in rows] == ["user_message", "assistant_message", "widget"]
    assert rows[0]["text"] == "How do I pay my invoice?"
    assert rows[1]["agent_version"] == "2" and rows[1]["model"] == "gpt-test"
    event = AuditEvent.objects.for_tenant(acme).get(action="thread.export")
    assert event.after == {"id": "thr_billing", "format": "csv"}


def test_thread_export_as_json_lines(owner_client: Client, seeded: Any) -> None:
    response = owner_client.get(detail_url("thr_billing", name="console:thread_export"))
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert [line["id"] for line in lines] == ["thr_billing_i0", "thr_billing_i1", "thr_billing_i2"]
    assert lines[2]["data"]["widget"]["type"] == "Card"


def test_filtered_export_has_only_the_filtered_threads(
    owner_client: Client, seeded: Any, acme: Tenant
) -> None:
    url = reverse("console:threads_export", kwargs={"tenant": "acme"})
    response = owner_client.get(url + "?q=invoice&format=jsonl")
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert [line["public_id"] for line in lines] == ["thr_billing"]
    event = AuditEvent.objects.for_tenant(acme).get(action="threads.export")
    assert event.after == {"filters": {"q": "invoice"}, "format": "jsonl"}
    assert owner_client.get(url + "?format=xml").status_code == 400


def test_viewer_reads_but_cannot_delete(
    client: Client, acme_viewer: AbstractBaseUser, seeded: Any, acme: Tenant
) -> None:
    client.force_login(acme_viewer)
    page = client.get(detail_url("thr_billing"))
    assert page.status_code == 200 and b"Delete" not in page.content
    assert client.post(detail_url("thr_billing", name="console:thread_delete")).status_code == 403
    assert Thread.objects.for_tenant(acme).filter(public_id="thr_billing").exists()


def test_admin_deletes_after_confirming(
    client: Client, acme_admin: AbstractBaseUser, seeded: Any, acme: Tenant
) -> None:
    client.force_login(acme_admin)
    url = detail_url("thr_billing", name="console:thread_delete")
    confirm = client.get(url)
    assert confirm.status_code == 200 and b"Delete this thread?" in confirm.content
    assert Thread.objects.for_tenant(acme).filter(public_id="thr_billing").exists()
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == list_url()
    assert not Thread.objects.for_tenant(acme).filter(public_id="thr_billing").exists()
    assert (
        not ThreadItem.objects.for_tenant(acme).filter(public_id__startswith="thr_billing").exists()
    )
    event = AuditEvent.objects.for_tenant(acme).get(action="thread.delete")
    assert event.actor == acme_admin and event.before["id"] == "thr_billing"


def test_list_and_view_need_sign_in(client: Client, seeded: Any) -> None:
    response = client.get(list_url())
    assert response.status_code == 302 and "next=" in response["Location"]


def test_thread_list_query_count_is_pinned(
    owner_client: Client, seeded: Any, django_assert_max_num_queries: Any
) -> None:
    # session, user, membership, agents, the search's thread ids, the page; and the
    # layout's tenant switcher (the console's base template: one query on every page)
    with django_assert_max_num_queries(7):
        assert (
            owner_client.get(list_url(q="invoice", agent="support", feedback="yes")).status_code
            == 200
        )


def test_thread_view_query_count_is_pinned(
    owner_client: Client, seeded: Any, django_assert_max_num_queries: Any
) -> None:
    # session, user, membership, thread, items, tool calls, feedback, the answers' tokens
    # (summed from their run traces), audit insert; and the layout's tenant switcher
    with django_assert_max_num_queries(10):
        assert owner_client.get(detail_url("thr_shipping")).status_code == 200
