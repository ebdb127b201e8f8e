"""Every hosted_agents selector and service that takes a tenant answers Acme's request for
Globex's agents, versions, tools, usage and tool calls exactly as for ids that do not exist,
and changes nothing of Globex's; the ChatKit server is never built over another tenant's
agent or for an anonymous end user."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.apps import apps
from django.db import models

from hosted_agents import selectors
from hosted_agents.exceptions import ObjectNotFound
from hosted_agents.long_tools.worker import tool_call_claim, tool_call_execute
from hosted_agents.metering import usage_record
from hosted_agents.models import Agent, ToolCall
from hosted_agents.runtime import PlatformChatKitServer, RequestContext
from hosted_agents.services import (
    agent_create,
    agent_delete,
    agent_publish,
    agent_rollback,
    agent_update,
    client_tool_create,
    client_tool_delete,
    client_tool_update,
    http_tool_create,
    http_tool_delete,
    http_tool_update,
)
from tenants.models import Tenant

TODAY = date(2025, 6, 1)
MISSING = 987_654
TENANT_OWNED = [
    model
    for model in apps.get_models()
    if any(field.name == "tenant" for field in model._meta.get_fields())
]


def _fill(tenant: Tenant) -> dict[str, Any]:
    """Give the tenant a published agent with tools, usage and a tool call; return its ids."""
    http = http_tool_create(
        tenant=tenant,
        name="weather",
        description="Weather.",
        url_template="https://api.example.com/weather",
        headers={"X-Api-Key": f"{tenant.slug}-key-0123456789"},
    )
    client = client_tool_create(tenant=tenant, name="pick_date", description="Pick a date.")
    agent = agent_create(
        tenant=tenant,
        slug=f"{tenant.slug}-bot",
        name="Bot",
        http_tools=[http.pk],
        client_tools=[client.pk],
    )
    agent_publish(tenant=tenant, agent_id=agent.pk)
    usage_record(tenant_id=tenant.pk, agent_id=agent.pk, input_tokens=3, output_tokens=4, day=TODAY)
    call = ToolCall(
        tenant=tenant,
        thread_id="thr_1",
        run_id="run_1",
        call_id="call_1",
        tool_name="test_long_count_steps",
        arguments={"steps": 1, "delay": 0},
        time_limit_seconds=5,
        queued_at=agent.created_at,
    )
    call.save()
    return {
        "agent": agent,
        "slug": agent.slug,
        "http": http.pk,
        "client": client.pk,
        "call": call.pk,
    }


@pytest.fixture
def globex_ids(acme: Tenant, globex: Tenant) -> dict[str, Any]:
    _fill(acme)  # Acme has rows of its own, so "nothing found" is not "nothing there"
    return _fill(globex)


def _missing(acme: Tenant) -> dict[str, Any]:
    agent = Agent(pk=MISSING, tenant=acme, slug="nobody", name="Nobody")
    return {"agent": agent, "slug": "nobody", "http": MISSING, "client": MISSING, "call": MISSING}


Call = Callable[[Tenant, dict[str, Any]], Any]
CALLS: dict[str, Call] = {
    "agent_get": lambda t, ids: selectors.agent_get(tenant=t, slug=ids["slug"]),
    "agent_get_by_id": lambda t, ids: selectors.agent_get_by_id(tenant=t, agent_id=ids["agent"].pk),
    "agent_published_version": lambda t, ids: selectors.agent_published_version(
        tenant=t, agent_id=ids["agent"].pk
    ),
    "agent_update": lambda t, ids: agent_update(
        tenant=t, agent_id=ids["agent"].pk, changes={"instructions": "Leak."}
    ),
    "agent_delete": lambda t, ids: agent_delete(tenant=t, agent_id=ids["agent"].pk),
    "agent_publish": lambda t, ids: agent_publish(tenant=t, agent_id=ids["agent"].pk),
    "agent_rollback": lambda t, ids: agent_rollback(tenant=t, agent_id=ids["agent"].pk, number=1),
    "agent_version_list": lambda t, ids: selectors.agent_version_list(tenant=t, agent=ids["agent"]),
    "agent_version_get": lambda t, ids: selectors.agent_version_get(
        tenant=t, agent=ids["agent"], number=1
    ),
    "http_tool_get": lambda t, ids: selectors.http_tool_get(tenant=t, tool_id=ids["http"]),
    "http_tool_headers": lambda t, ids: selectors.http_tool_headers(tenant=t, tool_id=ids["http"]),
    "http_tool_update": lambda t, ids: http_tool_update(
        tenant=t, tool_id=ids["http"], changes={"description": "Leak."}
    ),
    "http_tool_delete": lambda t, ids: http_tool_delete(tenant=t, tool_id=ids["http"]),
    "client_tool_get": lambda t, ids: selectors.client_tool_get(tenant=t, tool_id=ids["client"]),
    "client_tool_update": lambda t, ids: client_tool_update(
        tenant=t, tool_id=ids["client"], changes={"description": "Leak."}
    ),
    "client_tool_delete": lambda t, ids: client_tool_delete(tenant=t, tool_id=ids["client"]),
    "usage_list": lambda t, ids: selectors.usage_list(
        tenant=t, since=TODAY, until=TODAY, agent=ids["agent"]
    ),
    "tool_call_claim": lambda t, ids: tool_call_claim(
        tenant_id=t.pk, tool_call_id=ids["call"], hostname="w@h", task_id="task-1"
    ),
    "tool_call_execute": lambda t, ids: tool_call_execute(
        tenant_id=t.pk, tool_call_id=ids["call"], hostname="w@h", task_id="task-1"
    ),
}


def _outcome(call: Call, tenant: Tenant, ids: dict[str, Any]) -> Any:
    """Return what the call answered, in a form that does not name the ids it was given."""
    try:
        result = call(tenant, ids)
    except ObjectNotFound as error:
        return ("not found", error.entity)
    if isinstance(result, models.QuerySet):
        return ("rows", list(result))
    return ("value", result)


def _snapshot(tenant: Tenant) -> dict[str, list[dict[str, Any]]]:
    rows = {}
    for model in TENANT_OWNED:
        rows[model._meta.label] = list(model.objects.for_tenant(tenant).order_by("pk").values())
    return rows


@pytest.mark.parametrize("name", sorted(CALLS))
def test_another_tenants_id_behaves_exactly_like_a_missing_one(
    name: str, acme: Tenant, globex: Tenant, globex_ids: dict[str, Any]
) -> None:
    before = _snapshot(globex)

    foreign = _outcome(CALLS[name], acme, globex_ids)
    missing = _outcome(CALLS[name], acme, _missing(acme))

    assert foreign == missing
    assert _snapshot(globex) == before


def test_the_same_calls_reach_the_tenants_own_rows(
    acme: Tenant, globex: Tenant, globex_ids: dict[str, Any]
) -> None:
    # The check above would pass for selectors that found nothing at all.
    for name in ("agent_get", "agent_version_get", "http_tool_headers", "usage_list"):
        outcome = _outcome(CALLS[name], globex, globex_ids)
        assert outcome[0] != "not found" and outcome[1], name
    assert tool_call_claim(
        tenant_id=globex.pk, tool_call_id=globex_ids["call"], hostname="w@h", task_id="t"
    )


def test_the_server_is_never_built_for_an_anonymous_end_user(acme: Tenant) -> None:
    agent = _fill(acme)["agent"]
    with pytest.raises(ValueError, match="end_user_id"):
        PlatformChatKitServer.for_request(RequestContext(tenant=acme, agent=agent, end_user_id=""))
    server = PlatformChatKitServer.for_request(
        RequestContext(tenant=acme, agent=agent, end_user_id="u1")
    )
    assert server.store.tenant == acme


def test_the_server_is_never_built_over_another_tenants_agent(
    acme: Tenant, globex: Tenant, globex_ids: dict[str, Any]
) -> None:
    context = RequestContext(tenant=acme, agent=globex_ids["agent"], end_user_id="u1")
    with pytest.raises(ObjectNotFound) as refused:
        PlatformChatKitServer.for_request(context)
    assert refused.value.entity == "agent"
