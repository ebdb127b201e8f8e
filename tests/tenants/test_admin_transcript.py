"""A thread's admin page shows its conversation, read-only and escaped, and only its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tenants.admin_transcript import widget_text
from tenants.models import Tenant, Thread, ThreadItem

START = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _row(*cells: str) -> dict[str, Any]:
    return {"type": "Row", "children": [{"type": "Text", "value": cell} for cell in cells]}


TABLE = {
    "type": "Card",
    "children": [
        {"type": "Title", "value": "Orders"},
        _row("id", "total"),
        {"type": "Divider"},
        _row("7", "42"),
        {"type": "Button", "label": "Refresh"},
    ],
}


@pytest.fixture
def operator(db: None) -> Client:
    user = get_user_model()._default_manager.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def _thread(tenant: Tenant, public_id: str, items: list[dict[str, Any]]) -> Thread:
    thread = Thread.objects.for_tenant(tenant).create(
        tenant=tenant, public_id=public_id, created_at=START
    )
    for number, data in enumerate(items):
        ThreadItem.objects.for_tenant(tenant).create(
            tenant=tenant,
            thread=thread,
            public_id=f"msg_{number}",
            type=data["type"],
            created_at=START + timedelta(seconds=number),
            data={"id": f"msg_{number}", "thread_id": public_id, **data},
        )
    return thread


def test_thread_page_shows_the_transcript_read_only(
    operator: Client, acme: Tenant, globex: Tenant
) -> None:
    thread = _thread(
        acme,
        "thr_acme",
        [
            {"type": "user_message", "content": [{"type": "input_text", "text": "<b>hi</b>"}]},
            {"type": "client_tool_call", "status": "completed", "call_id": "c1",
             "name": "switch_theme", "arguments": {"theme": "dark"}, "output": {"ok": True}},
            {"type": "widget", "widget": TABLE},
            {"type": "assistant_message",
             "content": [{"type": "output_text", "text": "Here are your orders."}]},
        ],
    )  # fmt: skip
    _thread(globex, "thr_globex", [{"type": "user_message", "content": [
        {"type": "input_text", "text": "globex secret question"}]}])  # fmt: skip

    page = operator.get(reverse("admin:tenants_thread_change", args=[thread.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Transcript" in html
    assert "&lt;b&gt;hi&lt;/b&gt;" in html and "<b>hi</b>" not in html
    assert "switch_theme({&quot;theme&quot;: &quot;dark&quot;}) [completed]" in html
    assert "Orders\nid | total\n---\n7 | 42\n[Refresh]" in html
    assert "Here are your orders." in html
    # The order is the conversation's.
    assert html.index("&lt;b&gt;hi") < html.index("switch_theme") < html.index("Here are your")
    assert "globex secret question" not in html
    assert 'name="_save"' not in html


def test_an_empty_thread_says_so(operator: Client, acme: Tenant) -> None:
    thread = _thread(acme, "thr_empty", [])
    page = operator.get(reverse("admin:tenants_thread_change", args=[thread.pk]))
    assert page.status_code == 200
    assert "No items yet." in page.content.decode()


def test_widget_text_reads_nested_lists_and_skips_decoration() -> None:
    widget = {
        "type": "ListView",
        "children": [
            {"type": "ListViewItem", "children": [{"type": "Text", "value": "first"}]},
            {"type": "ListViewItem", "children": [{"type": "Icon", "name": "star"}]},
            {"type": "ListViewItem", "children": [{"type": "Badge", "label": "new"}]},
        ],
    }
    assert widget_text(widget) == "first\nnew"
