"""State changes of the tenants app: one module per entity, every name re-exported here."""

from tenants.actors import Actor
from tenants.services.api_keys import (
    LAST_USED_INTERVAL,
    IssuedApiKey,
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
)
from tenants.services.audit import audit_event_record
from tenants.services.client_sessions import (
    IssuedClientSession,
    client_secret_authenticate,
    client_session_cancel,
    client_session_create,
)
from tenants.services.conversations import feedback_create, thread_items_mark_origin
from tenants.services.end_users import end_user_forget
from tenants.services.idempotency import IdempotencyKeyReused, idempotent_call
from tenants.services.invitations import (
    Invitation,
    membership_invite,
    membership_invite_accept,
    membership_invite_read,
    membership_set_role,
)
from tenants.services.provider_credentials import (
    provider_credential_check,
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
from tenants.services.threads import thread_delete

__all__ = [
    "LAST_USED_INTERVAL",
    "Actor",
    "IdempotencyKeyReused",
    "Invitation",
    "IssuedApiKey",
    "IssuedClientSession",
    "api_key_authenticate",
    "api_key_create",
    "api_key_revoke",
    "audit_event_record",
    "client_secret_authenticate",
    "client_session_cancel",
    "client_session_create",
    "end_user_forget",
    "feedback_create",
    "idempotent_call",
    "membership_add",
    "membership_invite",
    "membership_invite_accept",
    "membership_invite_read",
    "membership_remove",
    "membership_set_role",
    "provider_credential_check",
    "provider_credential_create",
    "provider_credential_delete",
    "provider_credential_update",
    "tenant_create",
    "tenant_set_status",
    "tenant_update",
    "thread_delete",
    "thread_items_mark_origin",
    "user_get_or_create",
]
