"""The audit log: who did what, when, from where, to what; filters, pages, export."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from django.urls import reverse

from tenants.actors import Actor
from tenants.models import AuditEvent, Tenant
from tenants.services.audit import audit_event_record


@pytest.fixture
def trail(acme: Tenant, acme_owner: AbstractBaseUser, globex: Tenant) -> None:
    alice = Actor.for_user(acme_owner, ip="198.51.100.7")
    for n in range(60):
        audit_event_record(tenant=acme, actor=alice, action="agent.update", target=acme,
                           after={"n": n})  # fmt: skip
    audit_event_record(tenant=acme, actor=Actor.system(), action="tenant.suspend", target=acme)
    audit_event_record(tenant=globex, actor=Actor.system(), action="globex.secret", target=globex)


@pytest.fixture
def owner_client(client: Client, acme_owner: AbstractBaseUser) -> Client:
    client.force_login(acme_owner)
    return client


def audit_url(name: str = "console:audit", **query: str) -> str:
    url = reverse(name, kwargs={"tenant": "acme"})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_log_shows_who_did_what_from_where_newest_first(owner_client: Client, trail: None) -> None:
    response = owner_client.get(audit_url())
    assert response.status_code == 200
    events = response.context["events"]
    assert len(events) == 50 and response.context["has_more"]
    assert events[0].action == "tenant.suspend" and events[1].after == {"n": 59}
    page = response.content.decode()
    assert "198.51.100.7" in page and "alice" in page and "globex.secret" not in page


def test_next_page_continues_from_the_cursor(owner_client: Client, trail: None) -> None:
    first = owner_client.get(audit_url()).context["events"]
    rest = owner_client.get(audit_url(after=str(first[-1].pk))).context
    agent_updates = [e.after["n"] for e in rest["events"] if e.action == "agent.update"]
    assert agent_updates == list(range(10, -1, -1))
    assert rest["has_more"] is False


@pytest.mark.parametrize(
    ("query", "count"),
    [({"actor": "alice", "action": "tenant.suspend"}, 0), ({"action": "agent.update"}, 50),
     ({"actor": "nobody"}, 0), ({"action": "tenant.suspend"}, 1),
     ({"since": "2000-01-01", "until": "2000-01-02"}, 0)],
)  # fmt: skip
def test_filters_narrow_the_log(
    owner_client: Client, trail: None, query: dict[str, str], count: int
) -> None:
    assert len(owner_client.get(audit_url(**query)).context["events"]) == count


def test_bad_filters_answer_400(owner_client: Client, trail: None) -> None:
    assert owner_client.get(audit_url(after="x")).status_code == 400
    assert owner_client.get(audit_url(since="tuesday")).status_code == 400


def test_export_streams_the_filtered_trail_and_is_audited(
    owner_client: Client, trail: None, acme: Tenant
) -> None:
    before = AuditEvent.objects.for_tenant(acme).count()
    response = owner_client.get(
        audit_url("console:audit_export", action="tenant.suspend", format="csv")
    )
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["action"] for row in rows] == ["tenant.suspend"]
    event = AuditEvent.objects.for_tenant(acme).get(action="audit.export")
    assert event.after == {"filters": {"action": "tenant.suspend"}, "format": "csv"}
    everything = owner_client.get(audit_url("console:audit_export"))
    lines = [json.loads(line) for line in b"".join(everything.streaming_content).splitlines()]
    assert len(lines) == before + 2 and lines[-1]["action"] == "audit.export"
    assert "globex.secret" not in {line["action"] for line in lines}


def test_another_tenants_member_gets_404(
    client: Client, globex_owner: AbstractBaseUser, acme: Tenant
) -> None:
    client.force_login(globex_owner)
    assert client.get(audit_url()).status_code == 404
    assert client.get(audit_url("console:audit_export")).status_code == 404


def test_audit_log_query_count_is_pinned(
    owner_client: Client, trail: None, django_assert_max_num_queries: Any
) -> None:
    # session, user, membership, the page; and the layout's tenant switcher
    with django_assert_max_num_queries(5):
        assert owner_client.get(audit_url(action="agent.update")).status_code == 200
