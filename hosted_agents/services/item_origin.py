"""Which agent version and model produced each thread item.

The store saves items as the run streams them. The runtime collects the ids of the items
its own run produced (every item it added, finished or replaced, less those it removed)
and, when the run ends (however it ends), stamps exactly those in one UPDATE. Stamping "every
item newer than the run's start" would be wrong: two runs on one thread at the same time
would each stamp the other's items.
"""

from __future__ import annotations

from collections.abc import Collection

from tenants.models import Tenant, ThreadItem


def thread_items_mark_origin(
    *,
    tenant: Tenant,
    thread_id: str,
    item_ids: Collection[str],
    agent_version: int,
    model: str,
) -> int:
    """Record version and model on the thread's items `item_ids`; return how many changed.

    Items already stamped keep their origin (an earlier run's item that this run replaced,
    such as a workflow it continued), and user messages are never stamped.
    """
    if not item_ids:
        return 0
    return (
        ThreadItem.objects.for_tenant(tenant)
        .filter(
            thread__tenant=tenant,
            thread__public_id=thread_id,
            public_id__in=list(item_ids),
            agent_version__isnull=True,
        )
        .exclude(type="user_message")
        .update(agent_version=agent_version, model=model)
    )
