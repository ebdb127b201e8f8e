from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

from tenants.models import AuditEvent, Tenant


def audit_event_record(
    *,
    tenant: Tenant,
    actor: User | None,
    action: str,
    target: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ip: str | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """Append one audit event; call it inside the transaction of the change it records."""
    if actor_label is None:
        actor_label = actor.get_username() if actor is not None else "system"
    event = AuditEvent(
        tenant=tenant,
        actor=actor,
        actor_label=actor_label,
        action=action,
        target_type=target._meta.model_name,
        target_id=str(target.pk),
        before=before or {},
        after=after or {},
        ip=ip,
    )
    event.save()
    return event
