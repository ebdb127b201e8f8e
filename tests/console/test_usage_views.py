"""The usage page: tokens and runs per day and per agent, activity per end user, the quota."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from django.urls import reverse

from hosted_agents.metering import usage_record
from hosted_agents.models import Agent
from tenants.models import Tenant, Thread
from tenants.services.tenants import tenant_update

TODAY = datetime.now(UTC).date()


@pytest.fixture
def metered(acme: Tenant, acme_agent: Agent, globex: Tenant) -> None:
    for day, tokens in ((TODAY, 300), (TODAY.replace(day=1), 100)):
        usage_record(tenant_id=acme.pk, agent_id=acme_agent.pk, input_tokens=tokens,
                     output_tokens=tokens // 10, day=day)  # fmt: skip
    other = Agent(tenant=globex, slug="spy", name="Spy")
    other.save()
    usage_record(tenant_id=globex.pk, agent_id=other.pk, input_tokens=99_999, output_tokens=1)
    Thread(tenant=acme, public_id="thr_1", end_user_id="ada", created_at=datetime.now(UTC)).save()


def usage_url(**query: str) -> str:
    url = reverse("console:usage", kwargs={"tenant": "acme"})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@pytest.fixture
def viewer_client(client: Client, acme_viewer: AbstractBaseUser) -> Client:
    client.force_login(acme_viewer)
    return client


def test_usage_shows_this_months_days_agents_and_end_users(
    viewer_client: Client, metered: None
) -> None:
    response = viewer_client.get(usage_url())
    assert response.status_code == 200
    context = response.context
    assert context["totals"] == {"runs": 2, "input_tokens": 400, "output_tokens": 40}
    assert len(context["days"]) == TODAY.day
    assert [a["agent_slug"] for a in context["agents"]] == ["support"]
    assert context["end_users"][0]["end_user_id"] == "ada"
    page = response.content.decode()
    assert '<svg class="usage-chart"' in page
    assert f"{TODAY:%Y-%m-%d}: 300 in, 30 out, 1 runs" in page
    assert "99999" not in page.replace(",", "")  # globex's usage


def test_quota_is_shown_against_this_months_tokens(
    viewer_client: Client, metered: None, acme: Tenant
) -> None:
    tenant_update(tenant=acme, changes={"monthly_token_quota": 1000})
    page = viewer_client.get(usage_url()).content.decode()
    assert '<progress max="1000" value="440">' in page
    assert "560" in page


def test_a_chosen_range_is_summed(viewer_client: Client, metered: None) -> None:
    response = viewer_client.get(usage_url(since=f"{TODAY:%Y-%m-%d}", until=f"{TODAY:%Y-%m-%d}"))
    assert response.context["totals"]["input_tokens"] == 300


@pytest.mark.parametrize(
    "query",
    [
        {"since": "2026-12-10", "until": "2026-12-01"},
        {"since": "2020-01-01", "until": "2026-01-01"},
        {"since": "soon"},
    ],
)
def test_a_bad_range_answers_400(
    viewer_client: Client, metered: None, query: dict[str, str]
) -> None:
    assert viewer_client.get(usage_url(**query)).status_code == 400


def test_another_tenants_member_gets_404(
    client: Client, globex_owner: AbstractBaseUser, acme: Tenant
) -> None:
    client.force_login(globex_owner)
    assert client.get(usage_url()).status_code == 404


def test_usage_query_count_is_pinned(
    viewer_client: Client, metered: None, django_assert_max_num_queries: Any
) -> None:
    # session, user, membership, month total, per day, per agent, threads and items per
    # user; and the layout's tenant switcher
    with django_assert_max_num_queries(9):
        assert viewer_client.get(usage_url()).status_code == 200


def test_days_without_usage_are_zero(viewer_client: Client, metered: None) -> None:
    since = TODAY - timedelta(days=40)
    response = viewer_client.get(usage_url(since=f"{since:%Y-%m-%d}"))
    days = response.context["days"]
    assert len(days) == 41 and days[0]["day"] == since and days[0]["runs"] == 0
    assert isinstance(days[0]["day"], date)
