"""The tables behind `tenants.store.DjangoStore`.

Protocol ids (`thr_...`, `msg_...`) are unique only within a tenant, so every constraint
and every lookup includes the tenant. Pages are read by keyset on (created_at, id): the
auto-increment `id` is the insertion sequence that orders records with equal timestamps,
and it never changes when a record is replaced in place.
"""

from __future__ import annotations

from django.db import models

from tenants.models.base import TenantOwnedModel
from tenants.models.tenancy import Tenant

NAME_MAX_LENGTH = 500
MIME_TYPE_MAX_LENGTH = 200


class Thread(TenantOwnedModel):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="threads")
    public_id = models.CharField(max_length=100)
    # The agent whose end user started the thread; a store narrowed to one agent filters on
    # it. NULL for a thread of a whole-tenant store, and once the agent is deleted: an agent
    # created later under the same slug starts with no threads.
    agent = models.ForeignKey(
        "hosted_agents.Agent",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="threads",
    )
    # The agent's slug when the thread was started, for display only (never filtered on).
    agent_slug = models.CharField(max_length=100, blank=True, default="")
    end_user_id = models.CharField(max_length=200, blank=True, default="")
    title = models.TextField(null=True, blank=True)
    status = models.JSONField(default=dict)
    metadata = models.JSONField(default=dict, blank=True)
    allowed_image_domains = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "public_id"], name="thread_unique_public_id")
        ]
        indexes = [
            # threads.list for the whole tenant (console) ...
            models.Index(fields=["tenant", "created_at", "id"], name="thread_page"),
            # ... and for one end user of one agent (the ChatKit history panel).
            models.Index(
                fields=["tenant", "agent", "end_user_id", "created_at", "id"],
                name="thread_page_agent_user",
            ),
        ]

    def __str__(self) -> str:
        return self.public_id


class ThreadItem(TenantOwnedModel):
    # Denormalised from `thread` so that every query filters on the tenant directly.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="thread_items")
    # No index of its own: thread_item_page starts with it.
    thread = models.ForeignKey(
        Thread, on_delete=models.CASCADE, related_name="items", db_index=False
    )
    public_id = models.CharField(max_length=100)
    type = models.CharField(max_length=50)
    created_at = models.DateTimeField()
    # The protocol item, as chatkit_core serialises it (model_dump(mode="json")).
    data = models.JSONField()
    # Which published agent version and model produced the item; filled by later work.
    agent_version = models.PositiveIntegerField(null=True, blank=True)
    model = models.CharField(max_length=200, null=True, blank=True)

    class Meta:
        constraints = [
            # Per thread: the Store addresses items by (thread, item), and short generated
            # ids would collide across the many threads of a large tenant.
            models.UniqueConstraint(
                fields=["tenant", "thread", "public_id"], name="thread_item_unique_public_id"
            )
        ]
        indexes = [models.Index(fields=["thread", "created_at", "id"], name="thread_item_page")]

    def __str__(self) -> str:
        return self.public_id


class Attachment(TenantOwnedModel):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="attachments")
    public_id = models.CharField(max_length=100)
    # Set once the user message that carries the attachment is saved.
    thread = models.ForeignKey(
        Thread, on_delete=models.SET_NULL, null=True, blank=True, related_name="attachments"
    )
    # Who uploaded it, for a store narrowed to one agent's end user (see Thread).
    agent = models.ForeignKey(
        "hosted_agents.Agent",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="attachments",
    )
    agent_slug = models.CharField(max_length=100, blank=True, default="")  # display only
    end_user_id = models.CharField(max_length=200, blank=True, default="")
    # Copies of the protocol attachment's name and type, for listing; `data` holds the
    # attachment as it was saved. The store shortens longer values (tenants/store.py).
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    mime_type = models.CharField(max_length=MIME_TYPE_MAX_LENGTH)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    # The protocol attachment including its server-private `metadata`.
    data = models.JSONField()
    # The uploaded bytes, through Django's storage API (STORAGES["default"]); empty until
    # the upload, which happens once (tenants/services/attachments.py).
    file = models.FileField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "public_id"], name="attachment_unique_public_id"
            )
        ]

    def __str__(self) -> str:
        return self.public_id


class Feedback(TenantOwnedModel):
    class Kind(models.TextChoices):
        POSITIVE = "positive"
        NEGATIVE = "negative"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="feedback")
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="feedback")
    item_ids = models.JSONField(default=list)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    end_user_id = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "feedback"
        indexes = [models.Index(fields=["tenant", "-created_at"], name="feedback_recent")]

    def __str__(self) -> str:
        return f"{self.kind} on {self.thread_id}"
