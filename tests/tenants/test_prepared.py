"""Prepared querysets (tenants/prepared.py) return what the ORM would, in one statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import models

from hosted_agents.models import Agent
from tenants.models import Tenant, Thread
from tenants.prepared import Placeholders, PreparedQuery

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _threads(tenant: Tenant, prefix: str, count: int) -> list[Thread]:
    return Thread.objects.for_tenant(tenant).bulk_create(
        Thread(
            tenant=tenant,
            public_id=f"{prefix}{n}",
            title=f"{prefix} {n}",
            status={"type": "active"},
            metadata={"n": n},
            end_user_id="u1" if n % 2 == 0 else "u2",
            created_at=T0 + timedelta(minutes=n),
        )
        for n in range(count)
    )


def _by_user(p: Placeholders, *, limit: int) -> models.QuerySet[Any]:
    rows = Thread.objects.for_tenant(p.tenant_id).filter(end_user_id=p.end_user_id)
    return rows.order_by("-created_at").values_list("public_id", "created_at", "metadata")[:limit]


def test_rows_match_the_querysets_with_converters_applied(acme: Tenant) -> None:
    _threads(acme, "thr_a", 6)
    built: list[int] = []

    def build(p: Placeholders, *, limit: int) -> models.QuerySet[Any]:
        built.append(limit)
        return _by_user(p, limit=limit)

    query: PreparedQuery[Thread] = PreparedQuery(build, tenant_id=int, end_user_id=str)
    expected = list(
        Thread.objects.for_tenant(acme)
        .filter(end_user_id="u1")
        .order_by("-created_at")
        .values_list("public_id", "created_at", "metadata")[:2]
    )
    first = query.rows(shape={"limit": 2}, tenant_id=acme.pk, end_user_id="u1")
    again = query.rows(shape={"limit": 2}, tenant_id=acme.pk, end_user_id="u2")
    assert first == expected
    assert [row[0] for row in first] == ["thr_a4", "thr_a2"]
    # JSON comes back decoded and timestamps aware, as from the ORM.
    assert first[0][2] == {"n": 4} and first[0][1].tzinfo is not None
    assert [row[0] for row in again] == ["thr_a5", "thr_a3"]
    # Built and compiled once per shape, not per run.
    assert built == [2]
    query.rows(shape={"limit": 3}, tenant_id=acme.pk, end_user_id="u1")
    assert built == [2, 3]


def test_objects_carry_related_rows_and_annotations(acme: Tenant, acme_agent: Agent) -> None:
    query: PreparedQuery[Any] = PreparedQuery(
        lambda p: (
            Agent.unscoped.filter(tenant__slug=p.tenant_slug, slug=p.slug)
            .select_related("tenant")
            .annotate(tenant_name=models.F("tenant__name"))
        ),
        tenant_slug=str,
        slug=str,
    )
    (agent,) = query.objects(tenant_slug=acme.slug, slug=acme_agent.slug)
    assert agent.pk == acme_agent.pk and not agent._state.adding
    assert agent.tenant == acme and agent.tenant.name == acme.name
    assert agent.tenant_name == acme.name
    assert query.objects(tenant_slug="nobody", slug=acme_agent.slug) == []


def test_one_statement_per_run(acme: Tenant, django_assert_num_queries: Any) -> None:
    _threads(acme, "thr_q", 3)
    query: PreparedQuery[Thread] = PreparedQuery(_by_user, tenant_id=int, end_user_id=str)
    with django_assert_num_queries(1):
        query.rows(shape={"limit": 5}, tenant_id=acme.pk, end_user_id="u1")
    with django_assert_num_queries(1):
        query.rows(shape={"limit": 5}, tenant_id=acme.pk, end_user_id="u2")


def test_the_tenant_is_a_value_like_any_other(acme: Tenant, globex: Tenant) -> None:
    _threads(acme, "thr_acme", 2)
    _threads(globex, "thr_globex", 2)
    query: PreparedQuery[Thread] = PreparedQuery(_by_user, tenant_id=int, end_user_id=str)
    acme_rows = query.rows(shape={"limit": 10}, tenant_id=acme.pk, end_user_id="u1")
    globex_rows = query.rows(shape={"limit": 10}, tenant_id=globex.pk, end_user_id="u1")
    assert [row[0] for row in acme_rows] == ["thr_acme0"]
    assert [row[0] for row in globex_rows] == ["thr_globex0"]


def test_a_placeholder_that_the_sql_rewrites_is_refused(acme: Tenant) -> None:
    query: PreparedQuery[Thread] = PreparedQuery(
        lambda p: Thread.objects.for_tenant(acme).filter(title__icontains=p.text).values_list("id"),
        text=str,
    )
    with pytest.raises(ValueError, match="do not reach the SQL unchanged"):
        query.rows(text="x")


def test_unknown_placeholders_and_kinds_are_refused(acme: Tenant) -> None:
    query: PreparedQuery[Thread] = PreparedQuery(
        lambda p: Thread.objects.for_tenant(acme).filter(title=p.titel).values_list("id"),
        title=str,
    )
    with pytest.raises(AttributeError, match="titel"):
        query.rows(title="x")
    with pytest.raises(TypeError, match="only int and str"):
        Placeholders({"when": datetime})
