"""Tenant-scoped reads. A row of another tenant is reported exactly like a missing one."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from tenants.encryption import decrypt
from tenants.exceptions import ObjectNotFound
from tenants.models import (
    ApiKey,
    AuditEvent,
    Feedback,
    Membership,
    ProviderCredential,
    Tenant,
    Thread,
)


def tenant_get(*, slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        raise ObjectNotFound("tenant", slug)
    return tenant


def tenant_list_for_user(*, user: User) -> QuerySet[Tenant]:
    return Tenant.objects.filter(memberships__user=user).order_by("name")


def membership_get(*, tenant: Tenant, user: User) -> Membership:
    membership = Membership.objects.for_tenant(tenant).filter(user=user).first()
    if membership is None:
        raise ObjectNotFound("membership", user.get_username())
    return membership


def membership_list(*, tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.for_tenant(tenant).select_related("user").order_by("created_at")


def api_key_list(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.for_tenant(tenant).order_by("-created_at", "-id")


def api_key_get(*, tenant: Tenant, key_id: int) -> ApiKey:
    api_key = ApiKey.objects.for_tenant(tenant).filter(pk=key_id).first()
    if api_key is None:
        raise ObjectNotFound("API key", key_id)
    return api_key


def provider_credential_list(*, tenant: Tenant) -> QuerySet[ProviderCredential]:
    return ProviderCredential.objects.for_tenant(tenant).order_by("name")


def provider_credential_get(*, tenant: Tenant, credential_id: int) -> ProviderCredential:
    credential = ProviderCredential.objects.for_tenant(tenant).filter(pk=credential_id).first()
    if credential is None:
        raise ObjectNotFound("provider credential", credential_id)
    return credential


def provider_credential_secret(*, tenant: Tenant, credential_id: int) -> str:
    """Return the decrypted provider key, for the model client only; never display it."""
    credential = provider_credential_get(tenant=tenant, credential_id=credential_id)
    return decrypt(credential.secret)


def audit_event_list(*, tenant: Tenant) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.for_tenant(tenant).order_by("-created_at", "-id")


def thread_get(*, tenant: Tenant, thread_id: str) -> Thread:
    try:
        return Thread.objects.for_tenant(tenant).get(public_id=thread_id)
    except Thread.DoesNotExist:
        raise ObjectNotFound("thread", thread_id) from None


def feedback_list(*, tenant: Tenant, thread_id: str | None = None) -> QuerySet[Feedback]:
    rows = Feedback.objects.for_tenant(tenant)
    if thread_id is not None:
        rows = rows.filter(thread__tenant=tenant, thread__public_id=thread_id)
    return rows.order_by("-created_at", "-id")
