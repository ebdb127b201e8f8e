from tenants.models.audit import AuditEvent
from tenants.models.base import TenantOwnedModel
from tenants.models.conversations import Attachment, Feedback, Thread, ThreadItem
from tenants.models.credentials import ApiKey, ProviderCredential
from tenants.models.idempotency import IdempotencyKey
from tenants.models.sessions import ClientSession
from tenants.models.tenancy import Membership, Tenant

__all__ = [
    "ApiKey",
    "Attachment",
    "AuditEvent",
    "ClientSession",
    "Feedback",
    "IdempotencyKey",
    "Membership",
    "ProviderCredential",
    "Tenant",
    "TenantOwnedModel",
    "Thread",
    "ThreadItem",
]
