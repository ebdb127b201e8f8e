"""DjangoStore passes the chatkit_core Store conformance suite, as a whole-tenant store and
narrowed to one agent's end user; the context never changes the tenant."""

from __future__ import annotations

from typing import Any

import pytest

from chatkit_core.testing import StoreConformance
from hosted_agents.models import Agent
from tenants.models import Tenant
from tenants.store import DjangoStore, Turn

pytestmark = pytest.mark.django_db(transaction=True)


class TestDjangoStore(StoreConformance):
    # Not scoped by context: the tenant is fixed when the store is built, so a context that
    # names another tenant still reaches this store's tenant (and the suite checks that all
    # contexts share one namespace). Isolation between tenants is tested separately, with
    # one store per tenant, in test_store_isolation.py.
    scopes_by_context = False

    @pytest.fixture
    def store(self, acme: Tenant) -> DjangoStore[Any]:
        return DjangoStore(acme)

    @pytest.fixture
    def context(self, acme: Tenant) -> dict[str, Any]:
        return {"tenant": acme.slug, "user": "end-user-1"}

    @pytest.fixture
    def other_context(self, globex: Tenant) -> dict[str, Any]:
        return {"tenant": globex.slug, "tenant_id": globex.pk, "user": "end-user-2"}


class TestDjangoStoreNarrowedToOneEndUser(TestDjangoStore):
    @pytest.fixture
    def store(self, acme: Tenant, acme_agent: Agent) -> DjangoStore[Any]:
        return DjangoStore(acme, agent=acme_agent, end_user_id="end-user-1")


class TestDjangoStoreHoldingATurn(TestDjangoStore):
    """The same suite while the store holds its writes for a turn (`DjangoStore.buffered`).

    Held writes are written by the next operation that needs the database, so a write the
    database refuses (an item of a missing thread) fails there rather than at once.
    """

    @pytest.fixture
    def store(self, acme: Tenant) -> DjangoStore[Any]:
        store: DjangoStore[Any] = DjangoStore(acme)
        store._turn = Turn(store)
        return store
