"""Provider credentials: encrypted at rest, shown only as a hint, re-encrypted under a new
key by `rotate_encryption_keys` while older keys still decrypt."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.core.management.base import CommandError

from tenants.actors import Actor
from tenants.encryption import decrypt, encrypted_fields, mask_secret
from tenants.exceptions import AlreadyExists, InvalidInput, ObjectNotFound
from tenants.models import AuditEvent, ProviderCredential, Tenant
from tenants.selectors import provider_credential_get, provider_credential_secret
from tenants.services import (
    provider_credential_create,
    provider_credential_delete,
    provider_credential_update,
)
from tests.tenants.race import race

SECRET = "sk-proj-Acme0123456789abcdefSECRETwxyz"
OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def acme_openai(acme: Tenant, acme_owner) -> ProviderCredential:
    return provider_credential_create(
        tenant=acme,
        name="openai",
        kind="openai",
        secret=SECRET,
        actor=Actor.for_user(acme_owner, ip="::1"),
    )


def _stored_token(credential: ProviderCredential) -> str:
    return ProviderCredential.unscoped.values_list("secret", flat=True).get(pk=credential.pk)


def test_the_secret_is_stored_encrypted_and_decrypts_for_the_model_client(
    acme: Tenant, acme_openai: ProviderCredential
) -> None:
    token = _stored_token(acme_openai)
    assert SECRET not in token
    assert decrypt(token) == SECRET
    assert provider_credential_secret(tenant=acme, credential_id=acme_openai.pk) == SECRET


def test_only_a_masked_hint_is_kept_for_display(acme_openai: ProviderCredential) -> None:
    assert acme_openai.secret_hint == "sk-...wxyz"
    assert SECRET not in str(acme_openai)
    assert mask_secret("short-key") == "..."


def test_an_openai_compatible_credential_needs_a_base_url_and_names_its_api(acme: Tenant) -> None:
    with pytest.raises(InvalidInput, match="base_url"):
        provider_credential_create(
            tenant=acme, name="local", kind="openai_compatible", secret="k" * 20
        )
    credential = provider_credential_create(
        tenant=acme,
        name="local",
        kind="openai_compatible",
        base_url="http://127.0.0.1:8001/v1",
        api="chat_completions",
        secret="k" * 20,
    )
    assert (credential.base_url, credential.api) == ("http://127.0.0.1:8001/v1", "chat_completions")


def test_names_are_unique_within_a_tenant_only(
    acme_openai: ProviderCredential, acme: Tenant, globex: Tenant
) -> None:
    with pytest.raises(AlreadyExists):
        provider_credential_create(tenant=acme, name="openai", kind="openai", secret=SECRET)
    provider_credential_create(tenant=globex, name="openai", kind="openai", secret=SECRET)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creations_under_one_name_give_one_credential_and_already_exists(
    acme: Tenant,
) -> None:
    def create() -> ProviderCredential:
        return provider_credential_create(tenant=acme, name="openai", kind="openai", secret=SECRET)

    created, refused = race(create, create)
    assert isinstance(created, ProviderCredential)
    assert isinstance(refused, AlreadyExists), refused
    assert ProviderCredential.objects.for_tenant(acme).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_renames_to_one_name_give_one_rename_and_already_exists(
    acme: Tenant,
) -> None:
    first, second = (
        provider_credential_create(tenant=acme, name=name, kind="openai", secret=SECRET)
        for name in ("a", "b")
    )
    renamed, refused = race(
        lambda: provider_credential_update(
            tenant=acme, credential_id=first.pk, changes={"name": "main"}
        ),
        lambda: provider_credential_update(
            tenant=acme, credential_id=second.pk, changes={"name": "main"}
        ),
    )
    assert isinstance(renamed, ProviderCredential)
    assert isinstance(refused, AlreadyExists), refused
    names = ProviderCredential.objects.for_tenant(acme).values_list("name", flat=True)
    assert sorted(names) == ["b", "main"]


def test_updating_without_a_secret_keeps_it_and_with_one_replaces_it(
    acme: Tenant, acme_openai: ProviderCredential
) -> None:
    provider_credential_update(tenant=acme, credential_id=acme_openai.pk, changes={"name": "main"})
    assert provider_credential_secret(tenant=acme, credential_id=acme_openai.pk) == SECRET
    provider_credential_update(
        tenant=acme, credential_id=acme_openai.pk, changes={"secret": "sk-new-0000000000001234"}
    )
    updated = provider_credential_get(tenant=acme, credential_id=acme_openai.pk)
    assert (updated.name, updated.secret_hint) == ("main", "sk-...1234")


def test_another_tenants_credential_is_reported_as_missing(
    acme_openai: ProviderCredential, globex: Tenant
) -> None:
    for attempt in (
        lambda: provider_credential_secret(tenant=globex, credential_id=acme_openai.pk),
        lambda: provider_credential_update(
            tenant=globex, credential_id=acme_openai.pk, changes={"secret": "stolen-000000000"}
        ),
        lambda: provider_credential_delete(tenant=globex, credential_id=acme_openai.pk),
    ):
        with pytest.raises(ObjectNotFound):
            attempt()
    assert decrypt(_stored_token(acme_openai)) == SECRET


def test_changes_are_audited_without_the_secret(
    acme: Tenant, acme_openai: ProviderCredential
) -> None:
    provider_credential_update(
        tenant=acme, credential_id=acme_openai.pk, changes={"secret": "sk-rotated-000000009999"}
    )
    provider_credential_delete(tenant=acme, credential_id=acme_openai.pk)
    events = AuditEvent.objects.for_tenant(acme).filter(target_type="providercredential")
    actions = list(events.order_by("id").values_list("action", flat=True))
    assert actions == [
        "provider_credential.create",
        "provider_credential.update",
        "provider_credential.delete",
    ]
    text = str(list(events.values("before", "after")))
    assert SECRET not in text and "sk-rotated-000000009999" not in text
    assert "sk-...9999" in text


def test_every_encrypted_field_is_found_for_rotation() -> None:
    labels = {f"{model._meta.label}.{field.name}" for model, field in encrypted_fields()}
    assert "tenants.ProviderCredential.secret" in labels


def _rotate() -> str:
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    return out.getvalue()


def test_rotation_re_encrypts_under_the_new_key_and_is_idempotent(
    settings, acme: Tenant, globex: Tenant
) -> None:
    settings.ENCRYPTION_KEYS = [OLD_KEY]
    made = [
        provider_credential_create(tenant=t, name="p", kind="openai", secret=SECRET + t.slug)
        for t in (acme, globex)
    ]
    settings.ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    assert "ProviderCredential.secret: 2 re-encrypted, 0 already current" in _rotate()
    for credential in made:
        token = _stored_token(credential)
        assert Fernet(NEW_KEY).decrypt(token.encode()).decode().startswith(SECRET)
    assert "ProviderCredential.secret: 0 re-encrypted, 2 already current" in _rotate()
    settings.ENCRYPTION_KEYS = [NEW_KEY]  # the old key can now be dropped
    assert provider_credential_secret(tenant=acme, credential_id=made[0].pk) == SECRET + "acme"


def test_rotation_stops_with_a_clear_error_when_a_secret_matches_no_key(
    settings, acme: Tenant
) -> None:
    settings.ENCRYPTION_KEYS = [OLD_KEY]
    provider_credential_create(tenant=acme, name="p", kind="openai", secret=SECRET)
    settings.ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(CommandError, match="none of ENCRYPTION_KEYS"):
        _rotate()
    with pytest.raises(InvalidToken):
        provider_credential_secret(
            tenant=acme, credential_id=ProviderCredential.objects.for_tenant(acme).get().pk
        )


# --------------------------------------------------------------------------- base URL targets

PRIVATE_BASE_URLS = [
    "http://169.254.169.254/latest/meta-data",
    "http://127.0.0.1:11434/v1",
    "http://localhost:8000/v1",
    "http://models.localhost/v1",
    "http://10.0.0.5/v1",
    "http://[::1]:8000/v1",
    "http://[::ffff:169.254.169.254]/v1",
    "http://2130706433/v1",
]


@pytest.mark.parametrize("base_url", PRIVATE_BASE_URLS)
def test_a_compatible_credential_aimed_at_a_private_address_is_refused_at_save(
    acme: Tenant, settings, base_url: str
) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = False
    with pytest.raises(InvalidInput) as refused:
        provider_credential_create(
            tenant=acme, name="local", kind="openai_compatible", secret=SECRET, base_url=base_url
        )
    assert refused.value.field == "base_url"
    assert not ProviderCredential.objects.for_tenant(acme).exists()


def test_changing_a_base_url_to_a_private_address_is_refused(acme: Tenant, settings) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = False
    credential = provider_credential_create(
        tenant=acme,
        name="proxy",
        kind="openai_compatible",
        secret=SECRET,
        base_url="https://llm.example.com/v1",
    )
    with pytest.raises(InvalidInput, match="base_url"):
        provider_credential_update(
            tenant=acme,
            credential_id=credential.pk,
            changes={"base_url": "http://169.254.169.254/v1"},
        )
    credential.refresh_from_db()
    assert credential.base_url == "https://llm.example.com/v1"


def test_the_operator_setting_allows_a_local_model_server(acme: Tenant, settings) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = True
    credential = provider_credential_create(
        tenant=acme,
        name="ollama",
        kind="openai_compatible",
        secret=SECRET,
        base_url="http://127.0.0.1:11434/v1",
    )
    assert credential.base_url == "http://127.0.0.1:11434/v1"
