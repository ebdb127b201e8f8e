"""Token usage per tenant, agent and day; written by hosted_agents.metering."""

from __future__ import annotations

from django.db import models

from hosted_agents.models.agents import Agent
from tenants.models import Tenant, TenantOwnedModel

__all__ = ["UsageDaily"]


class UsageDaily(TenantOwnedModel):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage_days")
    # SET_NULL, not CASCADE: deleting an agent must not give its tokens back to the quota.
    agent = models.ForeignKey(Agent, on_delete=models.SET_NULL, null=True, related_name="+")
    day = models.DateField()  # UTC
    runs = models.PositiveIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "daily usage"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "agent", "day"], name="usage_daily_unique"),
        ]
        # The monthly quota sums one tenant's rows over a range of days.
        indexes = [models.Index(fields=["tenant", "day"], name="usage_daily_tenant_day")]

    def __str__(self) -> str:
        return f"{self.agent_id} {self.day}: {self.input_tokens}+{self.output_tokens}"
