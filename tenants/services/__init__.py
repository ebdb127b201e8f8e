"""State changes of the tenants app: one module per entity, every name re-exported here."""

from tenants.services.api_keys import (
    LAST_USED_INTERVAL,
    IssuedApiKey,
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
)
from tenants.services.audit import Actor, audit_event_record
from tenants.services.conversations import feedback_create, thread_items_mark_origin
from tenants.services.provider_credentials import (
    provider_credential_create,
    provider_credential_delete,
    provider_credential_update,
)
from tenants.services.tenants import (
    membership_add,
    membership_remove,
    tenant_create,
    tenant_set_status,
    tenant_update,
    user_get_or_create,
)

__all__ = [
    "LAST_USED_INTERVAL",
    "Actor",
    "IssuedApiKey",
    "api_key_authenticate",
    "api_key_create",
    "api_key_revoke",
    "audit_event_record",
    "feedback_create",
    "membership_add",
    "membership_remove",
    "provider_credential_create",
    "provider_credential_delete",
    "provider_credential_update",
    "tenant_create",
    "tenant_set_status",
    "tenant_update",
    "thread_items_mark_origin",
    "user_get_or_create",
]
