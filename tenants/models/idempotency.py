from __future__ import annotations

from django.db import models

from tenants.models.base import TenantOwnedModel
from tenants.models.tenancy import Tenant


class IdempotencyKey(TenantOwnedModel):
    """The first answer to a create sent with an `Idempotency-Key`, to answer repeats with.

    Keyed per tenant and operation: the same key sent again with the same body (same
    `request_hash`) gets `status` and `body` back; with another body, a conflict.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=200)
    operation = models.CharField(max_length=200)  # "POST /api/v1/agents"
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "operation", "key"], name="idempotency_key_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.key}"
