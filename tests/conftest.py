"""Shared actors: two tenants, each with an owner, an admin and a viewer, one outsider
who belongs to neither, and an API key (all scopes) per tenant.

    acme, globex                               Tenant
    acme_owner, acme_admin, acme_viewer        users with that role in acme
    globex_owner, globex_admin, globex_viewer  users with that role in globex
    outsider                                   a user with no membership at all
    acme_key, globex_key                       IssuedApiKey (.api_key, .raw)
    acme_agent                                 an unpublished agent "support" of acme

Every fixture needs the database; async tests that reach the ORM through
`database_sync_to_async` mark themselves `django_db(transaction=True)`.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser

from hosted_agents.models import Agent
from tenants.actors import Actor
from tenants.models import ApiKey, Membership, Tenant
from tenants.services import IssuedApiKey, api_key_create, membership_add, tenant_create

ALL_SCOPES = list(ApiKey.Scope.values)


@pytest.fixture(autouse=True)
def private_network_allowed(settings: Any) -> None:
    """Let tenants' outbound calls reach loopback, as a local-model operator would.

    Provider credentials in tests point at the loopback OpenAI stub, and HTTP tools at local
    servers. A test of the address policy turns `CHATKIT_ALLOW_PRIVATE_NETWORK` off itself.
    """
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = True


def _user(username: str) -> AbstractBaseUser:
    return get_user_model()._default_manager.create_user(
        username=username, email=f"{username}@example.com", password="pw-" + username
    )


def _tenant(slug: str, name: str, owner: AbstractBaseUser) -> Tenant:
    return tenant_create(slug=slug, name=name, owner=owner)


@pytest.fixture
def acme_owner(db: None) -> AbstractBaseUser:
    return _user("alice")


@pytest.fixture
def acme(acme_owner: AbstractBaseUser) -> Tenant:
    return _tenant("acme", "Acme Corp", acme_owner)


@pytest.fixture
def acme_admin(acme: Tenant) -> AbstractBaseUser:
    user = _user("adam")
    membership_add(tenant=acme, user=user, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def acme_viewer(acme: Tenant) -> AbstractBaseUser:
    user = _user("vera")
    membership_add(tenant=acme, user=user, role=Membership.Role.VIEWER)
    return user


@pytest.fixture
def globex_owner(db: None) -> AbstractBaseUser:
    return _user("greta")


@pytest.fixture
def globex(globex_owner: AbstractBaseUser) -> Tenant:
    return _tenant("globex", "Globex Inc", globex_owner)


@pytest.fixture
def globex_admin(globex: Tenant) -> AbstractBaseUser:
    user = _user("gus")
    membership_add(tenant=globex, user=user, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def globex_viewer(globex: Tenant) -> AbstractBaseUser:
    user = _user("gwen")
    membership_add(tenant=globex, user=user, role=Membership.Role.VIEWER)
    return user


@pytest.fixture
def outsider(db: None) -> AbstractBaseUser:
    return _user("oscar")


@pytest.fixture
def acme_key(acme: Tenant, acme_owner: AbstractBaseUser) -> IssuedApiKey:
    return api_key_create(
        tenant=acme, name="acme server", scopes=ALL_SCOPES, actor=Actor.for_user(acme_owner)
    )


@pytest.fixture
def globex_key(globex: Tenant, globex_owner: AbstractBaseUser) -> IssuedApiKey:
    return api_key_create(
        tenant=globex, name="globex server", scopes=ALL_SCOPES, actor=Actor.for_user(globex_owner)
    )


@pytest.fixture
def acme_agent(acme: Tenant) -> Agent:
    agent = Agent(tenant=acme, slug="support", name="Support")
    agent.save()
    return agent
