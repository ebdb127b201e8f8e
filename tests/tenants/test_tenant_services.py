"""Creating and changing tenants and memberships."""

from __future__ import annotations

import pytest
from django.db import transaction

from hosted_agents.models import Agent
from hosted_agents.services import (
    agent_create,
    agent_publish,
    agent_update,
    client_tool_create,
    http_tool_create,
)
from tenants.exceptions import AlreadyExists, InvalidInput
from tenants.models import AuditEvent, Membership, Tenant
from tenants.services import (
    api_key_create,
    membership_add,
    membership_remove,
    provider_credential_create,
    tenant_create,
    tenant_update,
)
from tests.tenants.race import race


def test_a_new_tenant_is_active_has_its_owner_and_an_audit_entry(acme: Tenant, acme_owner) -> None:
    assert acme.is_active
    owner = Membership.objects.for_tenant(acme).get(user=acme_owner)
    assert owner.role == Membership.Role.OWNER and owner.can_manage
    event = AuditEvent.objects.for_tenant(acme).get(action="tenant.create")
    assert event.after["owner"] == "alice"


@pytest.mark.parametrize("slug", ["", "Acme", "a b", "acme!"])
def test_a_tenant_slug_must_be_a_lowercase_slug(slug: str, outsider) -> None:
    with pytest.raises(InvalidInput):
        tenant_create(slug=slug, name="X", owner=outsider)


def test_the_consoles_own_page_names_are_not_tenant_slugs(outsider) -> None:
    from django.urls import reverse

    for slug in ("login", "logout", "password", "invite"):
        with pytest.raises(InvalidInput, match="reserved"):
            tenant_create(slug=slug, name="X", owner=outsider)
    # Each reserved name is really a console page outside the tenants.
    assert reverse("console:login") == "/console/login/"
    assert not Tenant.objects.filter(slug__in=["login", "logout"]).exists()


def test_a_taken_slug_is_refused(acme: Tenant, outsider) -> None:
    with pytest.raises(AlreadyExists):
        tenant_create(slug="acme", name="Other", owner=outsider)


def test_a_user_may_belong_to_several_tenants_but_once_to_each(
    acme: Tenant, globex: Tenant, acme_viewer
) -> None:
    membership_add(tenant=globex, user=acme_viewer, role="admin")
    with pytest.raises(AlreadyExists):
        membership_add(tenant=acme, user=acme_viewer, role="admin")
    with pytest.raises(InvalidInput):
        membership_add(tenant=globex, user=acme_viewer, role="superuser")


def test_the_last_owner_cannot_be_removed_but_others_can(
    acme: Tenant, acme_owner, acme_admin, acme_viewer
) -> None:
    with pytest.raises(InvalidInput, match="last owner"):
        membership_remove(tenant=acme, user=acme_owner)
    membership_remove(tenant=acme, user=acme_viewer)
    roles = Membership.objects.for_tenant(acme).values_list("role", flat=True)
    assert sorted(roles) == ["admin", "owner"]


def test_allowed_origins_are_normalised_and_checked(acme: Tenant) -> None:
    tenant_update(
        tenant=acme,
        changes={"allowed_origins": ["HTTPS://Shop.Acme.com/", "http://localhost:3000"]},
    )
    assert acme.allowed_origins == ["http://localhost:3000", "https://shop.acme.com"]
    assert acme.origin_allowed("https://shop.acme.com")
    assert not acme.origin_allowed("https://evil.example")
    with pytest.raises(InvalidInput, match="origin"):
        tenant_update(tenant=acme, changes={"allowed_origins": ["https://acme.com/path"]})


@pytest.mark.parametrize(
    "changes",
    [{"slug": "new"}, {"status": "suspended"}, {"requests_per_minute": -1}, {"name": " "}],
    ids=["slug", "status", "negative-quota", "blank-name"],
)
def test_tenant_update_refuses_what_it_may_not_change(changes: dict, acme: Tenant) -> None:
    with pytest.raises(InvalidInput):
        tenant_update(tenant=acme, changes=changes)
    acme.refresh_from_db()
    assert (acme.slug, acme.status, acme.requests_per_minute) == ("acme", "active", None)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creations_of_one_slug_give_one_tenant_and_already_exists(
    outsider, acme_owner
) -> None:
    created, refused = race(
        lambda: tenant_create(slug="initech", name="Initech", owner=acme_owner),
        lambda: tenant_create(slug="initech", name="Initech 2", owner=outsider),
    )
    assert isinstance(created, Tenant)
    assert isinstance(refused, AlreadyExists), refused
    assert Tenant.objects.filter(slug="initech").count() == 1


def test_a_refused_slug_leaves_the_callers_transaction_usable(acme: Tenant, outsider) -> None:
    with transaction.atomic():
        with pytest.raises(AlreadyExists):
            tenant_create(slug="acme", name="Other", owner=outsider)
        assert Tenant.objects.filter(slug="acme").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_removals_of_the_two_owners_leave_one_owner(
    acme: Tenant, acme_owner, outsider
) -> None:
    # On PostgreSQL the second removal meets the first one's uncommitted delete: without
    # the lock on the tenant row, each counted two owners and both went. (SQLite
    # serialises the two transactions, so there it passes either way.)
    membership_add(tenant=acme, user=outsider, role=Membership.Role.OWNER)
    removed, refused = race(
        lambda: membership_remove(tenant=acme, user=acme_owner),
        lambda: membership_remove(tenant=acme, user=outsider),
    )
    assert removed is None
    assert isinstance(refused, InvalidInput) and "last owner" in str(refused), refused
    owners = Membership.objects.for_tenant(acme).filter(role=Membership.Role.OWNER)
    assert list(owners.values_list("user__username", flat=True)) == ["oscar"]


# --------------------------------------------------------------------------- over-long names

LONG = "n" * 201


def _agent(tenant: Tenant) -> Agent:
    return agent_create(tenant=tenant, slug="support", name="Support")


OVER_LONG = {
    "tenant slug": (lambda t, u: tenant_create(slug="s" * 51, name="X", owner=u), "slug"),
    "tenant name": (lambda t, u: tenant_create(slug="long", name=LONG, owner=u), "name"),
    "tenant rename": (lambda t, u: tenant_update(tenant=t, changes={"name": LONG}), "name"),
    "API key name": (lambda t, u: api_key_create(tenant=t, name=LONG, scopes=["chat"]), "name"),
    "credential name": (
        lambda t, u: provider_credential_create(tenant=t, name=LONG, kind="openai", secret="sk-1"),
        "name",
    ),
    "credential base URL": (
        lambda t, u: provider_credential_create(
            tenant=t,
            name="c",
            kind="openai_compatible",
            secret="sk-1",
            base_url="https://llm.example.com/" + "v" * 200,
        ),
        "base_url",
    ),
    "agent slug": (lambda t, u: agent_create(tenant=t, slug="s" * 101, name="A"), "slug"),
    "agent name": (lambda t, u: agent_create(tenant=t, slug="a", name=LONG), "name"),
    "agent rename": (
        lambda t, u: agent_update(tenant=t, agent_id=_agent(t).pk, changes={"name": LONG}),
        "name",
    ),
    "publish note": (
        lambda t, u: agent_publish(tenant=t, agent_id=_agent(t).pk, note=LONG),
        "note",
    ),
    "tool name": (
        lambda t, u: client_tool_create(tenant=t, name="t" * 65, description="D."),
        "name",
    ),
    "tool URL": (
        lambda t, u: http_tool_create(
            tenant=t,
            name="w",
            description="D.",
            url_template="https://api.example.com/" + "p" * 2000,
        ),
        "url_template",
    ),
}


@pytest.mark.parametrize("case", sorted(OVER_LONG))
def test_an_over_long_value_is_refused_as_invalid_input_not_a_database_error(
    acme: Tenant, acme_owner, case: str
) -> None:
    call, field = OVER_LONG[case]
    with transaction.atomic(), pytest.raises(InvalidInput) as refused:
        call(acme, acme_owner)
    assert refused.value.field == field
