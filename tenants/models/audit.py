from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models

from tenants.exceptions import AppendOnlyError
from tenants.models.base import FrozenQuerySet, TenantOwnedModel
from tenants.models.tenancy import Tenant
from tenants.scoping import TenantScopedManager


class AuditEventQuerySet(FrozenQuerySet["AuditEvent"]):
    frozen_error = AppendOnlyError
    # Deleting a user sets `actor` to NULL (SET_NULL); `actor_label` keeps who it was.
    detachable_fields = frozenset({"actor"})


class AuditEvent(TenantOwnedModel):
    """Who changed what in a tenant. Append-only: rows are never changed or deleted.

    Enforced by `save()`/`delete()`, by the queryset of every manager (the base manager
    included, see `FrozenQuerySet`), and on PostgreSQL by a trigger that rejects UPDATE and
    DELETE on the table (migration tenants 0002), except the SET_NULL of a deleted actor.
    Nothing deletes audit events by cascade: the tenant foreign key is PROTECT.
    """

    # PROTECT: a tenant with history is suspended, not deleted, so its trail survives.
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="audit_events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept even when the actor is deleted: "alice", "api_key:ckp_live_ab12cd34...", "system".
    actor_label = models.CharField(max_length=200)
    # The `tenants.actors.ActorKind` of who acted: user, api_key, client_session or system.
    actor_kind = models.CharField(max_length=20, default="system")
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=100)
    target_id = models.CharField(max_length=100)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # Same managers as every tenant-owned model, with the append-only queryset. (django-stubs
    # reads the base's managers as class variables and these as instance ones: [misc].)
    objects = TenantScopedManager.from_queryset(AuditEventQuerySet)()  # type: ignore[misc]
    unscoped = models.Manager.from_queryset(AuditEventQuerySet)()  # type: ignore[misc]

    class Meta:
        # Django's own machinery (save, cascades, SET_NULL) goes through the base manager:
        # give it the append-only queryset too.
        base_manager_name = "unscoped"
        indexes = [models.Index(fields=["tenant", "-created_at"], name="audit_event_recent")]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id} by {self.actor_label}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events cannot be deleted")
