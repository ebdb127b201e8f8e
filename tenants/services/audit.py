from __future__ import annotations

from typing import Any

from tenants.actors import Actor
from tenants.models import AuditEvent, Tenant


def audit_event_record(
    *,
    tenant: Tenant,
    actor: Actor,
    action: str,
    target: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event; call it inside the transaction of the change it records."""
    event = AuditEvent(
        tenant=tenant,
        actor=actor.user,
        actor_kind=actor.kind,
        actor_label=actor.label,
        action=action,
        target_type=target._meta.model_name,
        target_id=str(target.pk),
        before=before or {},
        after=after or {},
        ip=actor.ip,
    )
    event.save()
    return event
