"""Tenant-scoped reads. A row of another tenant is reported exactly like a missing one."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.db.models import Q, QuerySet, Sum

from hosted_agents.exceptions import ObjectNotFound
from hosted_agents.models import (
    Agent,
    AgentVersion,
    ClientTool,
    HttpTool,
    RunSpan,
    UsageDaily,
)
from tenants.encryption import decrypt
from tenants.models import Tenant


def agent_list(*, tenant: Tenant) -> QuerySet[Agent]:
    return Agent.objects.for_tenant(tenant).order_by("name", "id")


def agent_get(*, tenant: Tenant, slug: str) -> Agent:
    agent = Agent.objects.for_tenant(tenant).filter(slug=slug).first()
    if agent is None:
        raise ObjectNotFound("agent", slug)
    return agent


def agent_get_by_workflow(*, tenant: Tenant, workflow: str) -> Agent:
    """Return the agent that `workflow` names: its workflow id, else its slug."""
    agents = Agent.objects.for_tenant(tenant).select_related("published_version")
    found = list(agents.filter(Q(workflow_id=workflow) | Q(slug=workflow))[:2])
    for agent in found:
        if agent.workflow_id == workflow:
            return agent
    if not found:
        raise ObjectNotFound("workflow", workflow)
    return found[0]


def agent_get_by_id(*, tenant: Tenant, agent_id: int) -> Agent:
    agent = Agent.objects.for_tenant(tenant).filter(pk=agent_id).first()
    if agent is None:
        raise ObjectNotFound("agent", agent_id)
    return agent


def agent_version_list(*, tenant: Tenant, agent: Agent) -> QuerySet[AgentVersion]:
    return AgentVersion.objects.for_tenant(tenant).filter(agent_id=agent.pk).order_by("-number")


def agent_version_get(*, tenant: Tenant, agent: Agent, number: int) -> AgentVersion:
    version = (
        AgentVersion.objects.for_tenant(tenant).filter(agent_id=agent.pk, number=number).first()
    )
    if version is None:
        raise ObjectNotFound("agent version", f"{agent.slug} v{number}")
    return version


def agent_published_version(*, tenant: Tenant, agent_id: int) -> tuple[Agent, AgentVersion | None]:
    """Return the agent and the version its endpoint serves (None if never published)."""
    agent = (
        Agent.objects.for_tenant(tenant)
        .filter(pk=agent_id)
        .select_related("tenant", "published_version")  # the run reads the tenant's state
        .first()
    )
    if agent is None:
        raise ObjectNotFound("agent", agent_id)
    version = agent.published_version
    # The version row is reached through a forward relation; make sure it is this tenant's.
    if version is not None and version.tenant_id != tenant.pk:
        version = None
    return agent, version


def http_tool_list(*, tenant: Tenant) -> QuerySet[HttpTool]:
    return HttpTool.objects.for_tenant(tenant).order_by("name")


def http_tool_get(*, tenant: Tenant | int, tool_id: int) -> HttpTool:
    tool = HttpTool.objects.for_tenant(tenant).filter(pk=tool_id).first()
    if tool is None:
        raise ObjectNotFound("HTTP tool", tool_id)
    return tool


def http_tool_headers(*, tenant: Tenant | int, tool_id: int) -> dict[str, str]:
    """Return the tool's decrypted headers, for the outgoing request only; never display."""
    tool = http_tool_get(tenant=tenant, tool_id=tool_id)
    if not tool.headers_encrypted:
        return {}
    headers: dict[str, str] = json.loads(decrypt(tool.headers_encrypted))
    return headers


def client_tool_list(*, tenant: Tenant) -> QuerySet[ClientTool]:
    return ClientTool.objects.for_tenant(tenant).order_by("name")


def client_tool_get(*, tenant: Tenant, tool_id: int) -> ClientTool:
    tool = ClientTool.objects.for_tenant(tenant).filter(pk=tool_id).first()
    if tool is None:
        raise ObjectNotFound("client tool", tool_id)
    return tool


def usage_list(
    *, tenant: Tenant, since: date, until: date, agent: Agent | None = None
) -> QuerySet[UsageDaily]:
    rows = UsageDaily.objects.for_tenant(tenant).filter(day__gte=since, day__lte=until)
    if agent is not None:
        rows = rows.filter(agent_id=agent.pk)
    return rows.order_by("day", "agent_id")


def usage_tokens_since(*, tenant: Tenant, since: date) -> int:
    """Return the input plus output tokens the tenant used from `since` (UTC day) on."""
    totals = (
        UsageDaily.objects.for_tenant(tenant)
        .filter(day__gte=since)
        .aggregate(input=Sum("input_tokens"), output=Sum("output_tokens"))
    )
    return int(totals["input"] or 0) + int(totals["output"] or 0)


# Spans of a thread's runs are read at most this many at a time (oldest first).
MAX_THREAD_SPANS = 2000

_SPAN_FIELDS = (
    "trace_id", "span_id", "parent_id", "item_id", "agent_version", "kind", "name",
    "started_at", "ended_at", "duration_ms", "model", "input_tokens", "output_tokens",
    "data", "error",
)  # fmt: skip


def run_tokens_of_items(
    *, tenant: Tenant | int, thread_pk: int, item_ids: list[str]
) -> dict[str, tuple[int, int]]:
    """Return {answer item id: (input tokens, output tokens)} from the runs' model spans.

    One statement, summed per answer by the database. Answers without a trace (tracing
    off for the session, or made before traces were kept) are absent.
    """
    rows = (
        RunSpan.objects.for_tenant(tenant)
        .filter(thread_id=thread_pk, item_id__in=item_ids, kind=RunSpan.Kind.MODEL)
        .values("item_id")
        .annotate(input_total=Sum("input_tokens"), output_total=Sum("output_tokens"))
        .order_by()
    )
    return {row["item_id"]: (row["input_total"] or 0, row["output_total"] or 0) for row in rows}


def run_traces_of_thread(*, tenant: Tenant | int, thread_pk: int) -> list[dict[str, Any]]:
    """Return a thread's run traces, oldest first: per run its answer item, totals, spans.

    One statement. The caller has found the thread in `tenant` (a selector or the store).
    """
    rows = (
        RunSpan.objects.for_tenant(tenant)
        .filter(thread_id=thread_pk)
        .order_by("started_at", "id")
        .values(*_SPAN_FIELDS)[:MAX_THREAD_SPANS]
    )
    traces: dict[str, dict[str, Any]] = {}
    for row in rows:
        trace = traces.setdefault(
            row["trace_id"],
            {
                "trace_id": row["trace_id"], "item_id": row["item_id"],
                "agent_version": row["agent_version"], "started_at": row["started_at"],
                "ended_at": row["ended_at"], "input_tokens": 0, "output_tokens": 0, "spans": [],
            },
        )  # fmt: skip
        trace["spans"].append({k: v for k, v in row.items() if k not in ("trace_id", "item_id")})
        if row["ended_at"] is not None and (
            trace["ended_at"] is None or row["ended_at"] > trace["ended_at"]
        ):
            trace["ended_at"] = row["ended_at"]
        trace["input_tokens"] += row["input_tokens"] or 0
        trace["output_tokens"] += row["output_tokens"] or 0
    return list(traces.values())
