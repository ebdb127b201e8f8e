"""Which agent version and model produced each thread item.

The store saves items as the run streams them; the runtime notes the newest item row before
a run and, when the run ends (however it ends), stamps every newer non-user item of the
thread in one UPDATE. Rows are ordered by their auto-increment id, so "newer" needs no clock.
"""

from __future__ import annotations

from django.db.models import Max, QuerySet

from tenants.models import Tenant, ThreadItem


def _items(tenant: Tenant, thread_id: str) -> QuerySet[ThreadItem]:
    return ThreadItem.objects.for_tenant(tenant).filter(
        thread__tenant=tenant, thread__public_id=thread_id
    )


def thread_items_last_pk(*, tenant: Tenant, thread_id: str) -> int:
    """Return the id of the thread's newest item row (0 when it has none)."""
    return int(_items(tenant, thread_id).aggregate(last=Max("pk"))["last"] or 0)


def thread_items_mark_origin(
    *, tenant: Tenant, thread_id: str, after_pk: int, agent_version: int, model: str
) -> int:
    """Record version and model on the thread's items saved after `after_pk`; return how many."""
    return (
        _items(tenant, thread_id)
        .filter(pk__gt=after_pk, agent_version__isnull=True)
        .exclude(type="user_message")
        .update(agent_version=agent_version, model=model)
    )
