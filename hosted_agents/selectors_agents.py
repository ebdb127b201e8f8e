"""Agents with their status, for the console's list and agent pages.

An agent's status is three facts: the version its endpoint serves, whether the draft
differs from it (what a publish now would freeze, tools resolved, compared with the
served version's config), and the last day it ran (from the daily usage rows, which are
few per agent and indexed by tenant and agent). The list reads each table once, whatever
the number of agents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Max

from hosted_agents.exceptions import InvalidInput
from hosted_agents.models import Agent, AgentVersion, UsageDaily
from hosted_agents.services.agents import ToolRows, agent_draft_config
from tenants.models import Tenant

__all__ = ["AgentStatus", "agent_status_get", "agent_status_list"]


@dataclass(frozen=True)
class AgentStatus:
    agent: Agent
    published: AgentVersion | None
    # True when a publish now would change what the endpoint serves (or was never done).
    draft_pending: bool
    # False when the draft names something gone (a publish would be refused).
    draft_valid: bool
    last_used: date | None


def _status(agent: Agent, rows: ToolRows, last_used: date | None) -> AgentStatus:
    published = agent.published_version
    if published is not None and published.tenant_id != agent.tenant_id:
        published = None  # a forward relation: only this tenant's own row counts
    try:
        draft = agent_draft_config(agent, rows)
    except InvalidInput:
        return AgentStatus(agent, published, True, False, last_used)
    pending = published is None or published.config != draft
    return AgentStatus(agent, published, pending, True, last_used)


def _last_used(tenant: Tenant, agent_ids: list[int]) -> dict[int, date]:
    days = (
        UsageDaily.objects.for_tenant(tenant)
        .filter(agent_id__in=agent_ids)
        .values("agent_id")
        .annotate(last=Max("day"))
    )
    return {row["agent_id"]: row["last"] for row in days}


def agent_status_list(*, tenant: Tenant) -> list[AgentStatus]:
    """Return every agent of the tenant with its status, by name (four statements)."""
    agents = list(
        Agent.objects.for_tenant(tenant).select_related("published_version").order_by("name", "id")
    )
    if not agents:
        return []
    rows = ToolRows.of_tenant(tenant)
    last = _last_used(tenant, [agent.pk for agent in agents])
    return [_status(agent, rows, last.get(agent.pk)) for agent in agents]


def agent_status_get(*, tenant: Tenant, agent: Agent) -> AgentStatus:
    """Return one agent's status; `agent` should come with its published version joined."""
    rows = ToolRows.of_tenant(tenant)
    return _status(agent, rows, _last_used(tenant, [agent.pk]).get(agent.pk))
