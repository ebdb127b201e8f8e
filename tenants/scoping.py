"""Tenant isolation that fails closed.

Every tenant-owned model uses `TenantScopedManager` as `objects`. Its plain queryset may be
built but never run: `Thread.objects.filter(public_id=...)` raises `TenantScopeError` the
moment anything would send it to the database, so a forgotten tenant is a bug found on the
first run instead of a leak. The only way in is `Thread.objects.for_tenant(tenant)`.

The refusal works at two levels, so that no path around it is left open:

* every public QuerySet method that runs SQL, sync or async, raises. The list is derived
  from `django.db.models.QuerySet` itself: every public method except the known builders
  (`filter`, `order_by`, `values`, ... which only return a new queryset) is refused, so a
  method that a future Django adds is refused until someone reviews it and lists it as a
  builder (tests/tenants/test_scoping.py calls every public QuerySet and Manager method);
* the queryset's SQL query refuses to be compiled, so an unscoped queryset cannot run
  inside another query either: as a subquery (`filter(pk__in=...)`, `Subquery(...)`,
  `Exists(...)`), in a `union()` with a scoped one, or through an iterator that skips
  `_fetch_all` (as `aiterator()` does).

Unscoped access exists, and only in these documented places:

* `Model.unscoped` (a plain manager) for operator tooling: the Django admin, management
  commands, the encryption-key rotation, and API key and client secret authentication
  (where the credential itself decides the tenant);
* `ToolCall.unscoped` in hosted_agents' long-tool sweep (hosted_agents/long_tools/sweep.py),
  which finds stale and unsent calls across tenants, then changes each one only through
  `for_tenant` with its own tenant and a condition on what it read;
* Django's `_base_manager` for its own machinery: cascading deletes, forward relations
  (`item.thread`), `save()`. It is plain (Django's default), except on history tables
  (AuditEvent, AgentVersion), where it refuses to change rows (tenants/models/base.py).

Related managers (`tenant.threads`, `thread.items`) derive from the default manager and so
refuse too: write `Item.objects.for_tenant(tenant).filter(thread=thread)`. A ModelForm
choice field on a tenant-owned model must likewise get a `for_tenant` (or, in the admin,
`unscoped`) queryset before it is rendered or validated.

Known limit: a query on a model that is *not* tenant-owned may join into tenant-owned
tables, and nothing here sees it: `Tenant.objects.filter(threads__title="x")` runs, and
tells which tenants have such a thread. The join is compiled as part of the Tenant query,
which is not scoped. Code outside operator tooling never filters `Tenant` (or a user) across
a relation into tenant-owned rows; it reads tenant-owned rows through `for_tenant`.

Cache keys and channel-layer group names carry the tenant through `tenant_cache_key` and
`tenant_group_name`, so two tenants never share an entry or a group.
"""

from __future__ import annotations

import inspect
import re
from functools import cache
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

from django.db import models
from django.db.models import sql

from tenants.exceptions import TenantScopeError

if TYPE_CHECKING:
    from tenants.models import Tenant

_M = TypeVar("_M", bound=models.Model)

# Public QuerySet methods that only build another queryset and run no SQL. Every other
# public method of django.db.models.QuerySet is refused on an unscoped queryset.
QUERYSET_BUILDERS = frozenset(
    {
        "alias",
        "all",
        "annotate",
        "complex_filter",
        "dates",
        "datetimes",
        "defer",
        "difference",
        "distinct",
        "exclude",
        "extra",
        "filter",
        "intersection",
        "none",
        "only",
        "order_by",
        "prefetch_related",
        "reverse",
        "select_for_update",
        "select_related",
        "union",
        "using",
        "values",
        "values_list",
    }
)
# The private methods that the public ones (and Django's iterables) run SQL through.
_PRIVATE_RUNNERS = ("_fetch_all", "_iterator", "_update", "_raw_delete", "_insert")


def _queryset_runners() -> tuple[str, ...]:
    """Return every public method of QuerySet that is not a known builder."""
    public = [
        name
        for name in dir(models.QuerySet)
        if not name.startswith("_")
        and inspect.isfunction(inspect.getattr_static(models.QuerySet, name))
    ]
    return tuple(sorted(set(public) - QUERYSET_BUILDERS))


REFUSED_QUERYSET_METHODS = _queryset_runners()


def _refusal(model: type[models.Model]) -> TenantScopeError:
    name = model.__name__
    return TenantScopeError(
        f"{name} is tenant-owned: use {name}.objects.for_tenant(tenant), "
        f"or {name}.unscoped in documented operator code"
    )


class UnscopedQuery(sql.Query):
    """The SQL query of an unscoped queryset: it refuses to compile, wherever it is used."""

    def get_compiler(self, *args: Any, **kwargs: Any) -> NoReturn:
        assert self.model is not None
        raise _refusal(self.model)


class UnscopedQuerySet(models.QuerySet[_M], Generic[_M]):
    """What a tenant-owned model's plain manager hands out: it may be built, never run.

    Building stays allowed because Django builds querysets eagerly (a ModelForm's choice
    field, a related manager, the admin); every way of running one raises, so a queryset
    that was never given a tenant cannot read or write a row.
    """

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise _refusal(self.model)


for _name in (*REFUSED_QUERYSET_METHODS, *_PRIVATE_RUNNERS):
    setattr(UnscopedQuerySet, _name, UnscopedQuerySet._refuse)


@cache
def _unscoped_class(queryset_class: type[models.QuerySet[Any]]) -> type[models.QuerySet[Any]]:
    """Return `queryset_class` with the refusals of `UnscopedQuerySet` laid over it."""
    if issubclass(queryset_class, UnscopedQuerySet):
        return queryset_class
    return type(f"Unscoped{queryset_class.__name__}", (UnscopedQuerySet, queryset_class), {})


class TenantScopedManager(models.Manager[_M], Generic[_M]):
    """A manager whose querysets only run once filtered on one tenant."""

    def get_queryset(self) -> models.QuerySet[_M]:
        queryset = super().get_queryset()
        # The manager's own queryset class (AuditEventQuerySet, say) with the refusals over it.
        queryset.__class__ = _unscoped_class(type(queryset))
        queryset.query.__class__ = UnscopedQuery
        return queryset

    def for_tenant(self, tenant: Tenant | int) -> models.QuerySet[_M]:
        """Return this model's rows that belong to `tenant` (a Tenant or its id)."""
        if tenant is None or (not isinstance(tenant, int) and tenant.pk is None):
            name = self.model.__name__
            raise TenantScopeError(f"{name}.objects.for_tenant() needs a saved tenant")
        # The plain Manager's queryset (of this manager's queryset class), then the filter.
        return models.Manager.get_queryset(self).filter(tenant=tenant)


def is_tenant_scoped(model: type[models.Model]) -> bool:
    """Return whether `model.objects` refuses unscoped queries."""
    manager: Any = getattr(model, "objects", None)
    return isinstance(manager, TenantScopedManager) and model._default_manager is manager


# Channel-layer group names allow ASCII letters, digits, '-', '_' and '.', under 100 chars.
_GROUP_PART = re.compile(r"^[A-Za-z0-9_-]+$")
_GROUP_MAX = 99


def _tenant_part(tenant_id: int | str) -> str:
    text = str(tenant_id)
    if tenant_id is None or isinstance(tenant_id, bool) or not _GROUP_PART.match(text):
        raise ValueError(f"a tenant id is required, got {tenant_id!r}")
    return text


def tenant_cache_key(tenant_id: int | str, *parts: object) -> str:
    """Return a cache key that starts with the tenant, like `t:42:ratelimit:key7`."""
    if not parts:
        raise ValueError("a cache key needs at least one part after the tenant")
    return ":".join(["t", _tenant_part(tenant_id), *(str(part) for part in parts)])


def tenant_group_name(tenant_id: int | str, *parts: object) -> str:
    """Return a channel-layer group name that starts with the tenant, like `t42.thread.thr_1`."""
    texts = [str(part) for part in parts]
    if not texts or not all(_GROUP_PART.match(text) for text in texts):
        raise ValueError(f"group name parts must be letters, digits, '-' or '_', got {texts!r}")
    name = ".".join([f"t{_tenant_part(tenant_id)}", *texts])
    if len(name) > _GROUP_MAX:
        raise ValueError(f"group name is longer than {_GROUP_MAX} characters: {name!r}")
    return name
