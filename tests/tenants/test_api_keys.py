"""API keys: recognisable, checksummed, stored hashed, scoped, revocable at once, and
refused the same way whatever is wrong with them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from tenants.actors import Actor
from tenants.exceptions import ApiKeyRejected, InvalidInput, ObjectNotFound, RejectionReason
from tenants.key_format import key_lookup_id
from tenants.models import ApiKey, AuditEvent, Tenant
from tenants.services import (
    IssuedApiKey,
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
    tenant_set_status,
)

CHAT = ApiKey.Scope.CHAT
KEY_SHAPE = re.compile(r"^ckp_live_[0-9A-Za-z]{51}_[0-9A-Za-z]{6}$")


def _rejection(raw: str, scope: str = CHAT) -> RejectionReason:
    with pytest.raises(ApiKeyRejected) as caught:
        api_key_authenticate(raw_key=raw, required_scope=scope, ip="203.0.113.9")
    return caught.value.reason


def test_a_new_key_has_the_recognisable_shape_and_is_different_each_time(
    acme_key: IssuedApiKey, acme: Tenant
) -> None:
    other = api_key_create(tenant=acme, name="second", scopes=[CHAT])
    assert KEY_SHAPE.match(acme_key.raw)
    assert KEY_SHAPE.match(other.raw)
    assert acme_key.raw != other.raw
    assert acme_key.api_key.display == acme_key.raw[:17] + "..."


def test_the_stored_row_holds_a_hash_and_a_lookup_id_not_the_key(acme_key: IssuedApiKey) -> None:
    row = ApiKey.objects.for_tenant(acme_key.api_key.tenant).get()
    assert row.key_hash != acme_key.raw and len(row.key_hash) == 64
    assert acme_key.raw not in str(vars(row))
    assert row.lookup_id == acme_key.raw[9:17]


def test_a_valid_key_returns_itself_with_its_tenant(acme_key: IssuedApiKey, acme: Tenant) -> None:
    api_key = api_key_authenticate(raw_key=acme_key.raw, required_scope=CHAT, ip="203.0.113.9")
    assert api_key.pk == acme_key.api_key.pk
    assert api_key.tenant == acme
    assert (api_key.last_used_ip, api_key.last_used_at is not None) == ("203.0.113.9", True)


def _mistype(raw: str) -> str:
    position = 30
    replacement = "A" if raw[position] != "A" else "B"
    return raw[:position] + replacement + raw[position + 1 :]


@pytest.mark.parametrize(
    "damage",
    [
        _mistype,
        lambda raw: raw[:-1],
        lambda raw: raw + "x",
        lambda raw: raw.replace("ckp_live_", "ckp_test_"),
        lambda raw: raw.upper(),
        lambda raw: "",
        lambda raw: "Bearer " + raw,
    ],
    ids=["one-char-typo", "truncated", "extended", "other-prefix", "case", "empty", "with-scheme"],
)
def test_a_mistyped_key_is_refused_before_any_database_query(
    damage, acme_key: IssuedApiKey, django_assert_num_queries
) -> None:
    with django_assert_num_queries(0):
        assert _rejection(damage(acme_key.raw)) == RejectionReason.MALFORMED


def test_a_well_formed_key_that_was_never_issued_is_refused(acme_key: IssuedApiKey) -> None:
    forged = "ckp_live_" + acme_key.raw[9:17] + "Z" * 43
    from tenants.key_format import _checksum

    forged = f"{forged}_{_checksum(forged)}"
    assert key_lookup_id(forged) == acme_key.api_key.lookup_id
    assert _rejection(forged) == RejectionReason.UNKNOWN


def test_a_revoked_key_is_refused_at_once(acme_key: IssuedApiKey, acme: Tenant) -> None:
    api_key_authenticate(raw_key=acme_key.raw, required_scope=CHAT)
    api_key_revoke(tenant=acme, key_id=acme_key.api_key.pk)
    assert _rejection(acme_key.raw) == RejectionReason.REVOKED


def test_an_expired_key_is_refused(acme: Tenant) -> None:
    issued = api_key_create(
        tenant=acme, name="short", scopes=[CHAT], expires_at=timezone.now() + timedelta(hours=1)
    )
    api_key_authenticate(raw_key=issued.raw, required_scope=CHAT)
    ApiKey.objects.for_tenant(acme).filter(pk=issued.api_key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert _rejection(issued.raw) == RejectionReason.EXPIRED


def test_a_key_without_the_required_scope_is_refused(acme: Tenant) -> None:
    issued = api_key_create(tenant=acme, name="reader", scopes=[ApiKey.Scope.MANAGEMENT_READ])
    api_key_authenticate(raw_key=issued.raw, required_scope=ApiKey.Scope.MANAGEMENT_READ)
    assert _rejection(issued.raw, ApiKey.Scope.CHAT) == RejectionReason.SCOPE
    assert _rejection(issued.raw, ApiKey.Scope.MANAGEMENT_WRITE) == RejectionReason.SCOPE


def test_a_suspended_tenants_keys_are_refused_until_it_is_reactivated(
    acme_key: IssuedApiKey, acme: Tenant
) -> None:
    tenant_set_status(tenant=acme, status=Tenant.Status.SUSPENDED)
    assert _rejection(acme_key.raw) == RejectionReason.TENANT_SUSPENDED
    tenant_set_status(tenant=acme, status=Tenant.Status.ACTIVE)
    assert api_key_authenticate(raw_key=acme_key.raw, required_scope=CHAT).tenant == acme


def test_every_refusal_is_the_same_exception_with_the_same_message_shape(
    acme_key: IssuedApiKey, acme: Tenant
) -> None:
    api_key_revoke(tenant=acme, key_id=acme_key.api_key.pk)
    refusals = []
    for raw in (acme_key.raw, _mistype(acme_key.raw)):
        with pytest.raises(ApiKeyRejected) as caught:
            api_key_authenticate(raw_key=raw, required_scope=CHAT)
        refusals.append(caught.value)
    assert {type(refusal) for refusal in refusals} == {ApiKeyRejected}
    assert all(str(r).startswith("API key rejected") for r in refusals)


def test_a_tenant_can_hold_several_live_keys_and_rotate_without_downtime(
    acme_key: IssuedApiKey, acme: Tenant
) -> None:
    successor = api_key_create(tenant=acme, name="next", scopes=[CHAT])
    for issued in (acme_key, successor):
        assert api_key_authenticate(raw_key=issued.raw, required_scope=CHAT).tenant == acme
    api_key_revoke(tenant=acme, key_id=acme_key.api_key.pk)
    assert api_key_authenticate(raw_key=successor.raw, required_scope=CHAT).tenant == acme
    assert _rejection(acme_key.raw) == RejectionReason.REVOKED


def test_last_use_is_written_at_most_once_a_minute(
    acme_key: IssuedApiKey, acme: Tenant, django_assert_num_queries
) -> None:
    with django_assert_num_queries(2):  # the lookup, then the first write
        api_key_authenticate(raw_key=acme_key.raw, required_scope=CHAT, ip="198.51.100.1")
    with django_assert_num_queries(1):  # the lookup only
        api_key_authenticate(raw_key=acme_key.raw, required_scope=CHAT, ip="198.51.100.2")
    rows = ApiKey.objects.for_tenant(acme).filter(pk=acme_key.api_key.pk)
    assert rows.get().last_used_ip == "198.51.100.1"
    rows.update(last_used_at=timezone.now() - timedelta(seconds=61))
    api_key_authenticate(raw_key=acme_key.raw, required_scope=CHAT, ip="198.51.100.3")
    assert rows.get().last_used_ip == "198.51.100.3"


def test_of_two_requests_holding_a_stale_copy_only_the_first_writes_last_use(
    acme_key: IssuedApiKey, acme: Tenant, django_assert_num_queries
) -> None:
    from tenants.services.api_keys import _api_key_touch

    rows = ApiKey.objects.for_tenant(acme).filter(pk=acme_key.api_key.pk)
    first, second = rows.get(), rows.get()  # both loaded before either writes
    now = timezone.now()
    _api_key_touch(api_key=first, now=now, ip="198.51.100.1")
    _api_key_touch(api_key=second, now=now + timedelta(seconds=1), ip="198.51.100.2")
    stored = rows.get()
    assert (stored.last_used_at, stored.last_used_ip) == (now, "198.51.100.1")
    assert second.last_used_ip is None


@pytest.mark.django_db(transaction=True)
async def test_authentication_runs_from_async_code_through_database_sync_to_async(
    acme_key: IssuedApiKey, acme: Tenant
) -> None:
    authenticate = database_sync_to_async(api_key_authenticate)
    api_key = await authenticate(raw_key=acme_key.raw, required_scope=CHAT, ip="::1")
    assert api_key.tenant.slug == "acme"
    with pytest.raises(ApiKeyRejected):
        await authenticate(raw_key=_mistype(acme_key.raw), required_scope=CHAT)


def test_revoking_another_tenants_key_looks_like_revoking_a_missing_one(
    acme: Tenant, globex_key: IssuedApiKey
) -> None:
    with pytest.raises(ObjectNotFound) as foreign:
        api_key_revoke(tenant=acme, key_id=globex_key.api_key.pk)
    with pytest.raises(ObjectNotFound) as missing:
        api_key_revoke(tenant=acme, key_id=999_999)
    assert type(foreign.value) is type(missing.value)
    assert api_key_authenticate(raw_key=globex_key.raw, required_scope=CHAT)


@pytest.mark.parametrize(
    "fields",
    [
        {"name": " ", "scopes": [CHAT]},
        {"name": "k", "scopes": []},
        {"name": "k", "scopes": ["admin"]},
        {"name": "k", "scopes": [CHAT], "expires_at": "past"},
    ],
    ids=["blank-name", "no-scope", "unknown-scope", "expired-at-birth"],
)
def test_a_key_with_bad_settings_is_not_created(fields: dict, acme: Tenant) -> None:
    if fields.get("expires_at") == "past":
        fields = {**fields, "expires_at": timezone.now() - timedelta(minutes=1)}
    with pytest.raises(InvalidInput):
        api_key_create(tenant=acme, **fields)
    assert not ApiKey.objects.for_tenant(acme).exists()


def test_creating_and_revoking_a_key_is_audited_with_actor_and_address(
    acme: Tenant, acme_owner
) -> None:
    issued = api_key_create(
        tenant=acme, name="ci", scopes=[CHAT], actor=Actor.for_user(acme_owner, ip="::1")
    )
    api_key_revoke(
        tenant=acme, key_id=issued.api_key.pk, actor=Actor.for_user(acme_owner, ip="::2")
    )
    events = AuditEvent.objects.for_tenant(acme).filter(target_type="apikey").order_by("id")
    assert [(e.action, e.actor_label, e.ip) for e in events] == [
        ("api_key.create", "alice", "::1"),
        ("api_key.revoke", "alice", "::2"),
    ]
    assert events[1].before["revoked_at"] is None and events[1].after["revoked_at"]
    assert issued.raw not in str([(e.before, e.after) for e in events])
