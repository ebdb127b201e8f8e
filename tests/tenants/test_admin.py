"""The operators' admin lists every tenant's rows, changes them through the audited
services, and never renders a secret back."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tenants.encryption import decrypt
from tenants.models import (
    ApiKey,
    Attachment,
    AuditEvent,
    Feedback,
    Membership,
    ProviderCredential,
    Tenant,
    Thread,
    ThreadItem,
)
from tenants.services import IssuedApiKey, provider_credential_create

SECRET = "sk-proj-AdminFormSecret0123456789abcd"


@pytest.fixture
def operator(db: None) -> Client:
    user = get_user_model()._default_manager.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "model",
    [
        Tenant,
        Membership,
        ApiKey,
        ProviderCredential,
        AuditEvent,
        Thread,
        ThreadItem,
        Attachment,
        Feedback,
    ],
    ids=lambda m: m.__name__,
)
def test_every_tenants_model_lists_all_tenants_rows_for_operators(
    model, operator: Client, acme_key: IssuedApiKey, globex_key: IssuedApiKey
) -> None:
    response = operator.get(reverse(f"admin:tenants_{model._meta.model_name}_changelist"))
    assert response.status_code == 200
    if model in (ApiKey, Tenant):
        assert b"acme" in response.content and b"globex" in response.content


def test_a_provider_key_added_in_the_admin_is_encrypted_audited_and_never_shown(
    operator: Client, acme: Tenant
) -> None:
    response = operator.post(
        reverse("admin:tenants_providercredential_add"),
        {"tenant": acme.pk, "name": "openai", "kind": "openai", "base_url": "", "api": "responses",
         "new_secret": SECRET},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    credential = ProviderCredential.objects.for_tenant(acme).get()
    assert decrypt(credential.secret) == SECRET
    assert AuditEvent.objects.for_tenant(acme).filter(action="provider_credential.create").exists()
    page = operator.get(reverse("admin:tenants_providercredential_change", args=[credential.pk]))
    assert page.status_code == 200
    assert SECRET.encode() not in page.content
    assert credential.secret.encode() not in page.content
    assert b"sk-...abcd" in page.content


def test_saving_a_provider_credential_without_a_new_key_keeps_the_old_one(
    operator: Client, acme: Tenant
) -> None:
    credential = provider_credential_create(tenant=acme, name="p", kind="openai", secret=SECRET)
    response = operator.post(
        reverse("admin:tenants_providercredential_change", args=[credential.pk]),
        {"name": "renamed", "base_url": "", "api": "chat_completions", "new_secret": ""},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    credential.refresh_from_db()
    assert (credential.name, credential.api, decrypt(credential.secret)) == (
        "renamed",
        "chat_completions",
        SECRET,
    )


def test_a_duplicate_credential_name_is_a_form_error_not_a_crash(
    operator: Client, acme: Tenant
) -> None:
    provider_credential_create(tenant=acme, name="p", kind="openai", secret=SECRET)
    response = operator.post(
        reverse("admin:tenants_providercredential_add"),
        {
            "tenant": acme.pk,
            "name": "p",
            "kind": "openai",
            "api": "responses",
            "new_secret": "x" * 20,
        },
    )
    assert response.status_code == 200
    assert b"already exists" in response.content


def test_revoking_keys_from_the_admin_goes_through_the_service(
    operator: Client, acme: Tenant, acme_key: IssuedApiKey
) -> None:
    response = operator.post(
        reverse("admin:tenants_apikey_changelist"),
        {"action": "revoke", "_selected_action": [acme_key.api_key.pk]},
    )
    assert response.status_code == 302
    assert ApiKey.objects.for_tenant(acme).get().revoked_at is not None
    assert AuditEvent.objects.for_tenant(acme).filter(action="api_key.revoke").exists()


def test_suspending_a_tenant_in_the_admin_is_audited(operator: Client, acme: Tenant) -> None:
    response = operator.post(
        reverse("admin:tenants_tenant_change", args=[acme.pk]),
        {"name": "Acme Corp", "status": "suspended", "allowed_origins": '["https://acme.com/"]',
         "monthly_token_quota": "", "requests_per_minute": "120"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    acme.refresh_from_db()
    assert (acme.status, acme.allowed_origins, acme.requests_per_minute) == (
        "suspended",
        ["https://acme.com"],
        120,
    )
    actions = set(AuditEvent.objects.for_tenant(acme).values_list("action", flat=True))
    assert {"tenant.update", "tenant.suspend"} <= actions


def test_removing_the_last_owner_in_the_admin_is_refused_with_a_message_not_a_crash(
    operator: Client, acme: Tenant
) -> None:
    owner = Membership.objects.for_tenant(acme).get(role="owner")
    response = operator.post(
        reverse("admin:tenants_membership_delete", args=[owner.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert "last owner" in operator.get(response["Location"]).content.decode()
    assert Membership.objects.for_tenant(acme).filter(pk=owner.pk).exists()


def test_removing_a_member_in_the_admin_is_audited_as_the_operator(
    operator: Client, acme: Tenant, acme_viewer
) -> None:
    member = Membership.objects.for_tenant(acme).get(user=acme_viewer)
    response = operator.post(
        reverse("admin:tenants_membership_delete", args=[member.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    event = AuditEvent.objects.for_tenant(acme).get(action="membership.remove")
    assert (event.actor_kind, event.actor_label) == ("user", "root")


def test_a_provider_base_url_at_a_metadata_address_is_a_form_error(
    operator: Client, acme: Tenant, settings
) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = False
    response = operator.post(
        reverse("admin:tenants_providercredential_add"),
        {
            "tenant": acme.pk,
            "name": "metadata",
            "kind": "openai_compatible",
            "base_url": "http://169.254.169.254/latest",
            "api": "responses",
            "new_secret": "x" * 20,
        },
    )
    assert response.status_code == 200
    assert "not a public address" in response.content.decode()
    assert not ProviderCredential.objects.for_tenant(acme).exists()
