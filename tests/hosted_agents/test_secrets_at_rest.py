"""Neither a provider key nor an HTTP tool's secret header value is ever stored or shown in
the clear: not in any table, nor in str()/repr() of the rows that hold them, nor in the audit
trail of their creation and change, nor in a published agent version."""

from __future__ import annotations

import pytest
from django.db import connection, models

from hosted_agents.models import AgentVersion, HttpTool
from hosted_agents.selectors import http_tool_headers
from hosted_agents.services import agent_create, agent_publish, http_tool_create, http_tool_update
from tenants.actors import Actor
from tenants.models import AuditEvent, ProviderCredential, Tenant
from tenants.selectors import provider_credential_secret
from tenants.services import provider_credential_create, provider_credential_update

PROVIDER_KEY = "sk-proj-ProviderPrivate0123456789abcdef"
PROVIDER_KEY_2 = "sk-proj-RotatedPrivate9876543210fedcba"
HEADER_TOKEN = "Bearer hdr-TokenPrivate0123456789abcdef"
HEADER_KEY = "hk-HeaderPrivate0123456789abcdefghij"
HEADER_KEY_2 = "hk-ChangedPrivate9876543210zyxwvuts"
SECRETS = [PROVIDER_KEY, PROVIDER_KEY_2, HEADER_TOKEN, HEADER_KEY, HEADER_KEY_2]


def _dump_every_table() -> str:
    lines = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            lines += [f"{table}: {row!r}" for row in cursor.fetchall()]
    return "\n".join(lines)


def _leaks(text: str) -> list[str]:
    """Return the secrets, or long fragments of them, that `text` contains."""
    fragments = [part for secret in SECRETS for part in (secret, secret[-12:], secret[3:15])]
    return [fragment for fragment in fragments if fragment in text]


@pytest.fixture
def stored(acme: Tenant, acme_owner) -> dict[str, models.Model]:
    """A provider credential and an HTTP tool, each created and then given a new secret, and
    an agent published with both."""
    credential = provider_credential_create(
        tenant=acme,
        name="openai",
        kind="openai",
        secret=PROVIDER_KEY,
        actor=Actor.for_user(acme_owner),
    )
    provider_credential_update(
        tenant=acme,
        credential_id=credential.pk,
        changes={"secret": PROVIDER_KEY_2},
        actor=Actor.for_user(acme_owner),
    )
    tool = http_tool_create(
        tenant=acme,
        name="crm",
        description="Look a customer up.",
        url_template="https://crm.example.com/customers",
        headers={"Authorization": HEADER_TOKEN, "X-Api-Key": HEADER_KEY},
        actor=Actor.for_user(acme_owner),
    )
    http_tool_update(
        tenant=acme,
        tool_id=tool.pk,
        changes={"headers": {"Authorization": HEADER_TOKEN, "X-Api-Key": HEADER_KEY_2}},
        actor=Actor.for_user(acme_owner),
    )
    agent = agent_create(
        tenant=acme,
        slug="support",
        name="Support",
        provider_credential_id=credential.pk,
        http_tools=[tool.pk],
    )
    version = agent_publish(tenant=acme, agent_id=agent.pk, actor=Actor.for_user(acme_owner))
    return {
        "credential": ProviderCredential.objects.for_tenant(acme).get(pk=credential.pk),
        "tool": HttpTool.objects.for_tenant(acme).get(pk=tool.pk),
        "version": AgentVersion.objects.for_tenant(acme).get(pk=version.pk),
    }


def test_the_secrets_are_stored_and_still_usable(stored: dict[str, models.Model]) -> None:
    # Otherwise the checks below would pass for secrets that were never saved at all.
    credential, tool = stored["credential"], stored["tool"]
    assert provider_credential_secret(tenant=credential.tenant, credential_id=credential.pk) == (
        PROVIDER_KEY_2
    )
    headers = http_tool_headers(tenant=tool.tenant_id, tool_id=tool.pk)
    assert headers == {"Authorization": HEADER_TOKEN, "X-Api-Key": HEADER_KEY_2}


def test_a_dump_of_every_table_contains_no_secret(stored: dict[str, models.Model]) -> None:
    dump = _dump_every_table()
    for table in ("tenants_providercredential", "hosted_agents_httptool", "tenants_auditevent"):
        assert f"{table}: " in dump
    assert _leaks(dump) == []


def test_str_and_repr_of_the_rows_that_hold_secrets_show_none(
    stored: dict[str, models.Model],
) -> None:
    for row in stored.values():
        assert _leaks(f"{row!s} {row!r}") == [], type(row).__name__
        # Nor any other column: only the ciphertext (checked by the dump) holds the secret.
        columns = {
            field.attname: getattr(row, field.attname)
            for field in row._meta.concrete_fields
            if field.name not in ("secret", "headers_encrypted")
        }
        assert _leaks(repr(columns)) == [], type(row).__name__


def test_the_audit_trail_names_the_changes_without_the_secrets(
    stored: dict[str, models.Model], acme: Tenant
) -> None:
    events = list(AuditEvent.objects.for_tenant(acme).order_by("pk"))
    actions = [event.action for event in events]
    for action in ("provider_credential.update", "http_tool.update", "agent.publish"):
        assert action in actions
    for event in events:
        shown = f"{event!s} {event!r} {event.before!r} {event.after!r}"
        assert _leaks(shown) == [], event.action
    tool_update = next(event for event in events if event.action == "http_tool.update")
    assert set(tool_update.after["header_hints"]) == {"Authorization", "X-Api-Key"}
