from __future__ import annotations

from typing import Any, TypeAlias

from django.contrib.auth.models import User

from tenants.models import AuditEvent, Tenant

# Who made a change: a user, or None when the platform itself did (a task, a command).
# Every service that records an audit event takes its `actor` as this one type.
Actor: TypeAlias = User | None


def audit_event_record(
    *,
    tenant: Tenant,
    actor: Actor,
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
