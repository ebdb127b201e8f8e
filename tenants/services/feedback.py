from __future__ import annotations

from django.db import transaction

from tenants.exceptions import InvalidInput, ObjectNotFound
from tenants.models import Feedback, Tenant, Thread


@transaction.atomic
def feedback_create(
    *,
    tenant: Tenant,
    thread_id: str,
    item_ids: list[str],
    kind: str,
    end_user_id: str = "",
) -> Feedback:
    """Record an end user's thumbs up or down on items of one of the tenant's threads."""
    if kind not in Feedback.Kind.values:
        raise InvalidInput("kind", f"must be one of {', '.join(Feedback.Kind.values)}")
    try:
        thread = Thread.objects.for_tenant(tenant).get(public_id=thread_id)
    except Thread.DoesNotExist:
        raise ObjectNotFound("thread", thread_id) from None
    feedback = Feedback(
        tenant=tenant, thread=thread, item_ids=list(item_ids), kind=kind, end_user_id=end_user_id
    )
    feedback.save()
    return feedback
