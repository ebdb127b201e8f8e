"""Operator commands: create a tenant with its owner, create and revoke API keys, make an
encryption key. (rotate_encryption_keys is tested with provider credentials.)"""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from tenants.exceptions import ApiKeyRejected
from tenants.models import ApiKey, Membership, Tenant
from tenants.services import api_key_authenticate


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_tenant_creates_the_owner_if_needed_and_says_what_it_did(db: None) -> None:
    out, _ = _run("create_tenant", "initech", "Initech", "--owner-username", "peter")
    assert "Created user peter" in out and "Created tenant initech (Initech)" in out
    tenant = Tenant.objects.get(slug="initech")
    membership = Membership.objects.for_tenant(tenant).get()
    assert (membership.user.get_username(), membership.role) == ("peter", "owner")
    assert not membership.user.has_usable_password()


def test_create_tenant_reuses_an_existing_user(acme_owner) -> None:
    out, _ = _run("create_tenant", "initech", "Initech", "--owner-username", "alice")
    assert "Using existing user alice" in out
    assert get_user_model()._default_manager.filter(username="alice").count() == 1


def test_create_tenant_refuses_a_taken_slug(acme: Tenant) -> None:
    with pytest.raises(CommandError, match="already exists"):
        _run("create_tenant", "acme", "Again", "--owner-username", "zed")


def test_create_api_key_prints_a_working_key_once(acme: Tenant) -> None:
    out, err = _run(
        "create_api_key", "acme", "backend", "--scope", "chat", "--scope", "management:read"
    )
    raw = out.strip()
    assert "not shown again" in err and raw not in err
    api_key = api_key_authenticate(raw_key=raw, required_scope="management:read")
    assert (api_key.tenant, api_key.name, api_key.scopes) == (
        acme,
        "backend",
        ["chat", "management:read"],
    )


def test_create_api_key_defaults_to_the_chat_scope_and_can_expire(acme: Tenant) -> None:
    out, _ = _run("create_api_key", "acme", "widget", "--expires-in-days", "30")
    api_key = ApiKey.objects.for_tenant(acme).get()
    assert api_key.scopes == ["chat"] and api_key.expires_at is not None
    assert api_key_authenticate(raw_key=out.strip(), required_scope="chat") == api_key


def test_revoke_api_key_stops_the_key(acme: Tenant) -> None:
    raw = _run("create_api_key", "acme", "old")[0].strip()
    key_id = ApiKey.objects.for_tenant(acme).get().pk
    out, _ = _run("revoke_api_key", "acme", str(key_id))
    assert f"Revoked key {key_id}" in out
    with pytest.raises(ApiKeyRejected):
        api_key_authenticate(raw_key=raw, required_scope="chat")


def test_revoke_api_key_will_not_revoke_another_tenants_key(acme: Tenant, globex_key) -> None:
    with pytest.raises(CommandError, match="not found"):
        _run("revoke_api_key", "acme", str(globex_key.api_key.pk))
    assert api_key_authenticate(raw_key=globex_key.raw, required_scope="chat")


def test_generate_encryption_key_prints_a_valid_fernet_key() -> None:
    out, _ = _run("generate_encryption_key")
    Fernet(out.strip())
