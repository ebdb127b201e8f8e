"""Writes to the conversation tables made outside the `DjangoStore` (tenants/store.py).

The store writes what the ChatKit protocol writes (threads, items, attachments); these are
the platform's own additions to a conversation: end users' feedback on items, and which agent
version and model produced each item.

Origin stamping: the runtime collects the ids of the items its own run produced (every item
it added, finished or replaced, less those it removed) and, when the run ends (however it
ends), stamps exactly those. Stamping "every item newer than the run's start" would be wrong:
two runs on one thread at the same time would each stamp the other's items. Items the store
has not written yet get their stamp in the store's own INSERT (`DjangoStore.flush`); this
UPDATE is for those already written.
"""

from __future__ import annotations

from collections.abc import Collection

from django.db import models, transaction

from tenants.exceptions import InvalidInput, ObjectNotFound
from tenants.models import Feedback, Tenant, Thread, ThreadItem

__all__ = ["feedback_create", "thread_items_mark_origin"]


@transaction.atomic
def feedback_create(
    *,
    tenant: Tenant,
    thread_id: str,
    item_ids: list[str],
    kind: str,
    end_user_id: str = "",
    threads: models.QuerySet[Thread] | None = None,
) -> Feedback:
    """Record an end user's thumbs up or down on items of one of the tenant's threads.

    `threads` narrows where the thread is looked for (a store's end user's threads); it must
    be a queryset of `tenant`'s threads. A thread outside it is `ObjectNotFound`.
    """
    if kind not in Feedback.Kind.values:
        raise InvalidInput("kind", f"must be one of {', '.join(Feedback.Kind.values)}")
    rows = Thread.objects.for_tenant(tenant) if threads is None else threads
    # [:1], not first(): its ORDER BY id can lead PostgreSQL away from the unique index.
    found = list(rows.filter(public_id=thread_id).values_list("pk", flat=True)[:1])
    if not found:
        raise ObjectNotFound("thread", thread_id)
    feedback = Feedback(
        tenant=tenant,
        thread_id=found[0],
        item_ids=list(item_ids),
        kind=kind,
        end_user_id=end_user_id,
    )
    feedback.save()
    return feedback


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
