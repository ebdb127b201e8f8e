"""The database never holds a usable secret: a dump of every table, after keys and
provider credentials were created and used, contains neither the API key nor the provider
key, nor the secret part of either."""

from __future__ import annotations

import pytest
from django.db import connection

from tenants.models import ApiKey, Tenant
from tenants.services import (
    IssuedApiKey,
    api_key_authenticate,
    api_key_revoke,
    provider_credential_create,
    provider_credential_update,
)

PROVIDER_SECRET = "sk-proj-VeryPrivate0123456789abcdefghij"
SECOND_SECRET = "gsk_AnotherPrivate9876543210zyxwvuts"


def _dump_every_table() -> str:
    lines = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            lines += [f"{table}: {row!r}" for row in cursor.fetchall()]
    return "\n".join(lines)


@pytest.fixture
def used_secrets(acme: Tenant, acme_key: IssuedApiKey, globex_key: IssuedApiKey) -> list[str]:
    api_key_authenticate(raw_key=acme_key.raw, required_scope=ApiKey.Scope.CHAT, ip="::1")
    api_key_revoke(tenant=globex_key.api_key.tenant, key_id=globex_key.api_key.pk)
    credential = provider_credential_create(
        tenant=acme, name="openai", kind="openai", secret=PROVIDER_SECRET
    )
    provider_credential_update(
        tenant=acme, credential_id=credential.pk, changes={"secret": SECOND_SECRET}
    )
    secrets = [PROVIDER_SECRET, SECOND_SECRET]
    for issued in (acme_key, globex_key):
        secret_part = issued.raw[17:60]  # after the prefix and the 8-char lookup id
        secrets += [issued.raw, secret_part]
    return secrets


def test_a_dump_of_every_table_contains_no_usable_secret(used_secrets: list[str]) -> None:
    dump = _dump_every_table()
    assert "tenants_apikey" in dump and "tenants_providercredential" in dump
    for secret in used_secrets:
        assert secret not in dump
        assert secret[-12:] not in dump, "a long fragment of a secret leaked"
