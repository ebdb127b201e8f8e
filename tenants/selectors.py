"""Tenant-scoped reads. A row of another tenant is reported exactly like a missing one."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models import QuerySet

from tenants.encryption import decrypt
from tenants.exceptions import ObjectNotFound
from tenants.models import (
    ApiKey,
    AuditEvent,
    ClientSession,
    Feedback,
    Membership,
    ProviderCredential,
    Tenant,
    Thread,
    ThreadItem,
)
from tenants.store import _keyset_page


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


def client_session_get(*, tenant: Tenant, session_id: str) -> ClientSession:
    session = ClientSession.objects.for_tenant(tenant).filter(public_id=session_id).first()
    if session is None:
        raise ObjectNotFound("session", session_id)
    return session


def _cursor_page(
    rows: QuerySet[Any],
    columns: tuple[str, ...],
    *,
    after: str | None,
    before: str | None,
    limit: int,
    order: str,
) -> tuple[list[tuple[Any, ...]], bool]:
    """Return a keyset page of `rows` between the `after` and `before` cursors.

    `before` alone reads the other way from its cursor and turns the page round, so that
    it ends next to the cursor; with `after` too, the page past `after` stops at `before`.
    Either way one statement, as the store's pages (tenants/store.py).
    """
    if before is None or after is not None:
        found, has_more = _keyset_page(rows, columns, after, limit, order)
        if before is not None:
            ids = [row[0] for row in found]
            if before in ids:
                found, has_more = found[: ids.index(before)], False
        return found, has_more
    reverse = "asc" if order == "desc" else "desc"
    found, has_more = _keyset_page(rows, columns, before, limit, reverse)
    return found[::-1], has_more


def thread_page(
    *,
    tenant: Tenant,
    end_user_id: str | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int = 20,
    order: str = "desc",
) -> tuple[list[Thread], bool]:
    """Return a page of the tenant's threads (one end user's, if given) and if more remain."""
    rows = Thread.objects.for_tenant(tenant)
    if end_user_id is not None:
        rows = rows.filter(end_user_id=end_user_id)
    columns = ("public_id", "created_at", "title", "status", "end_user_id")
    found, has_more = _cursor_page(
        rows, columns, after=after, before=before, limit=limit, order=order
    )
    threads = [Thread(tenant=tenant, **dict(zip(columns, row, strict=True))) for row in found]
    return threads, has_more


def thread_item_page(
    *,
    tenant: Tenant,
    thread: Thread,
    types: tuple[str, ...],
    after: str | None = None,
    before: str | None = None,
    limit: int = 20,
    order: str = "desc",
) -> tuple[list[dict[str, Any]], bool]:
    """Return a page of the thread's items of `types`, as stored (`data`), and if more remain."""
    rows = ThreadItem.objects.for_tenant(tenant).filter(thread_id=thread.pk, type__in=types)
    found, has_more = _cursor_page(
        rows, ("public_id", "data"), after=after, before=before, limit=limit, order=order
    )
    return [data for _, data in found], has_more
