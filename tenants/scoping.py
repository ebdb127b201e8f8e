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

What `for_tenant(tenant)` hands out (a `ScopedQuerySet`) stays within that tenant:

* it refuses to be combined (`|`, `&`, `^`, `union()`, `intersection()`, `difference()`)
  with a queryset that is not scoped to the same tenant, and refuses `raw()` and `extra()`,
  whose SQL it cannot see (nor can it see into a `RawSQL` expression: our code uses none,
  and must not in a tenant-owned query);
* its writes are pinned to the tenant: `create()`, `get_or_create()`, `update_or_create()`
  and `bulk_create()` fill in the tenant and refuse another one, `update()` and
  `bulk_update()` refuse to change it, and an upsert must conflict on a unique constraint
  that includes the tenant.

A tenant-owned row that points at another tenant-owned row (an item's thread, a version's
agent) must point within its own tenant. `check_pinned_parents` checks it in Python, with no
query, wherever the parent object is at hand (`save()`, the bulk paths above). On PostgreSQL
the database checks every write, a parent given by its id included: composite foreign keys
on (tenant_id, parent_id) (migrations tenants 0004 and hosted_agents 0005). SQLite, for
development only, has the Python check alone: a parent given only by its id is not checked
there (see `PinToParentTenant` in tenants/migration_operations.py for why). A saved row
never moves to another tenant (`TenantOwnedModel.save`).

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
from typing import TYPE_CHECKING, Any, Generic, NoReturn, Self, TypeVar, cast

from django.db import models
from django.db.models import sql
from django.db.models.constants import OnConflict

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


class ScopedQuerySet(models.QuerySet[_M], Generic[_M]):
    """What `for_tenant` hands out: one tenant's rows, and writes that stay in that tenant.

    The tenant travels on the SQL query (`query.tenant_scope`), which Django copies into
    every queryset built from this one. All checks here are Python: none sends a statement.
    """

    @property
    def tenant_scope(self) -> int:
        scope: int = self.query.tenant_scope  # type: ignore[attr-defined]
        return scope

    # --- reading: no way to mix in rows of another tenant ---------------------------------

    def _refuse_other_scope(self, others: tuple[Any, ...], operation: str) -> None:
        for other in others:
            if not isinstance(other, ScopedQuerySet) or other.tenant_scope != self.tenant_scope:
                raise TenantScopeError(
                    f"{self.model.__name__} rows of tenant {self.tenant_scope} cannot be "
                    f"combined ({operation}) with rows that are not scoped to that tenant"
                )

    def _rescoped(self, result: models.QuerySet[Any]) -> Self:
        # A sliced queryset is combined through the base manager (`pk__in=` the slice):
        # the result holds this tenant's rows only, and stays scoped.
        return cast(Self, _scope(result, self.tenant_scope))

    def __or__(self, other: Any) -> Self:
        self._refuse_other_scope((other,), "|")
        return self._rescoped(super().__or__(other))

    def __and__(self, other: Any) -> Self:
        self._refuse_other_scope((other,), "&")
        return self._rescoped(super().__and__(other))

    def __xor__(self, other: Any) -> Self:
        self._refuse_other_scope((other,), "^")
        return self._rescoped(super().__xor__(other))

    def union(self, *other_qs: Any, all: bool = False) -> Self:
        self._refuse_other_scope(other_qs, "union")
        return super().union(*other_qs, all=all)

    def intersection(self, *other_qs: Any) -> Self:
        self._refuse_other_scope(other_qs, "intersection")
        return super().intersection(*other_qs)

    def difference(self, *other_qs: Any) -> Self:
        self._refuse_other_scope(other_qs, "difference")
        return super().difference(*other_qs)

    def raw(self, *args: Any, **kwargs: Any) -> NoReturn:
        name = self.model.__name__
        raise TenantScopeError(
            f"{name}.objects.for_tenant(...).raw() would ignore the tenant: filter the "
            f"scoped queryset instead, or use {name}.unscoped in documented operator code"
        )

    def extra(self, *args: Any, **kwargs: Any) -> NoReturn:
        # A `where` fragment such as "1=1) OR (1=1" would undo the tenant filter.
        raise TenantScopeError(
            f"{self.model.__name__}.objects.for_tenant(...).extra() takes SQL fragments that "
            "can undo the tenant filter: use filter(), annotate() or Django's expressions"
        )

    # --- writing: pinned to the tenant ----------------------------------------------------

    def _pinned_values(self, values: dict[str, Any], operation: str) -> dict[str, Any]:
        """Return `values` with this tenant filled in; refuse another tenant or parent."""
        pinned = dict(values)
        for key in ("tenant", "tenant_id"):
            if key in pinned and _tenant_id_or_none(pinned[key]) != self.tenant_scope:
                raise _write_refusal(self.model, self.tenant_scope, operation, pinned[key])
        if "tenant" not in pinned and "tenant_id" not in pinned:
            pinned["tenant_id"] = self.tenant_scope
        for field in pinned_relations(self.model):
            for key in (field.name, field.attname):
                parent = pinned.get(key)
                if isinstance(parent, models.Model) and _tenant_of(parent) != self.tenant_scope:
                    raise _parent_refusal(self.model, field, self.tenant_scope, parent)
        return pinned

    def _refuse_objects_elsewhere(self, objs: Any, operation: str) -> None:
        for obj in objs:
            if obj.tenant_id != self.tenant_scope:
                raise _write_refusal(self.model, self.tenant_scope, operation, obj.tenant_id)
            check_pinned_parents(obj)

    def create(self, **kwargs: Any) -> _M:
        return super().create(**self._pinned_values(kwargs, "create"))

    def update_or_create(
        self,
        defaults: Any = None,
        create_defaults: Any = None,
        **kwargs: Any,
    ) -> tuple[_M, bool]:
        # The create side goes through create(); the update side sets attributes and saves.
        if defaults:
            self._pinned_values(dict(defaults), "update_or_create")
        return super().update_or_create(defaults, create_defaults, **kwargs)

    def _refuse_upsert_across_tenants(self, unique_fields: Any) -> None:
        names = {getattr(field, "name", field) for field in unique_fields or ()}
        if not names & {"tenant", "tenant_id"}:
            raise TenantScopeError(
                f"an upsert of {self.model.__name__} rows must conflict on a unique "
                "constraint that includes the tenant, or it may update another tenant's row"
            )

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[_M]:
        objs = list(objs)
        tenant_field = self.model._meta.get_field("tenant")
        for obj in objs:
            if obj.tenant_id is None and not tenant_field.is_cached(obj):  # type: ignore[union-attr]
                obj.tenant_id = self.tenant_scope
        # Refused here, before Django opens its transaction, so that the caller's survives.
        self._refuse_objects_elsewhere(objs, "bulk_create")
        if kwargs.get("update_conflicts"):
            self._refuse_upsert_across_tenants(kwargs.get("unique_fields"))
        return super().bulk_create(objs, *args, **kwargs)

    def _insert(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        # bulk_create inserts through here, and so does tenants/store.py's upsert.
        self._refuse_objects_elsewhere(objs, "insert")
        if kwargs.get("on_conflict") == OnConflict.UPDATE:
            self._refuse_upsert_across_tenants(kwargs.get("unique_fields"))
        return super()._insert(objs, *args, **kwargs)  # type: ignore[misc]

    def insert_sql(self, objs: list[_M], fields: list[Any]) -> tuple[str, tuple[Any, ...]]:
        """Return, compiled and not run, the one INSERT of `objs` that `_insert` would make.

        For a caller that sends it inside a statement of its own (a data-modifying CTE); the
        rows are checked as `_insert` checks them, and the ORM prepares every value.
        """
        self._refuse_objects_elsewhere(objs, "insert")
        query = sql.InsertQuery(self.model)
        rows: list[models.Model] = list(objs)
        query.insert_values(fields, rows)
        # Without returning fields, a backend with bulk inserts compiles one statement.
        [(text, params)] = query.get_compiler(using=self.db).as_sql()
        return text, tuple(params)

    def update(self, **kwargs: Any) -> int:
        self._pinned_values(kwargs, "update")
        return super().update(**kwargs)

    def bulk_update(self, objs: Any, fields: Any, *args: Any, **kwargs: Any) -> int:
        objs = list(objs)
        if {"tenant", "tenant_id"}.intersection(fields):
            raise _write_refusal(self.model, self.tenant_scope, "bulk_update", "a new tenant")
        self._refuse_objects_elsewhere(objs, "bulk_update")
        return super().bulk_update(objs, fields, *args, **kwargs)


@cache
def _scoped_class(queryset_class: type[models.QuerySet[Any]]) -> type[models.QuerySet[Any]]:
    """Return `queryset_class` with the checks of `ScopedQuerySet` laid over it."""
    if issubclass(queryset_class, ScopedQuerySet):
        return queryset_class
    if queryset_class is models.QuerySet:
        return ScopedQuerySet  # most models: a class that pickle can find by name
    return type(f"Scoped{queryset_class.__name__}", (ScopedQuerySet, queryset_class), {})


def _scope(queryset: models.QuerySet[Any], tenant_id: int) -> models.QuerySet[Any]:
    queryset.__class__ = _scoped_class(type(queryset))
    queryset.query.tenant_scope = tenant_id  # type: ignore[attr-defined]
    return queryset


def _tenant_of(row: models.Model) -> Any:
    """Return the tenant id of a row: its own id for a Tenant, else its `tenant_id`."""
    if row._meta.label == "tenants.Tenant":
        return row.pk
    return getattr(row, "tenant_id", None)


def _tenant_id_or_none(value: Any) -> int | None:
    """Return the tenant id that `value` (a Tenant or an int) names, or None."""
    if isinstance(value, models.Model):
        return _tenant_of(value) if value._meta.label == "tenants.Tenant" else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _write_refusal(
    model: type[models.Model], scope: int, operation: str, value: Any
) -> TenantScopeError:
    return TenantScopeError(
        f"{model.__name__}.objects.for_tenant({scope}).{operation}() writes rows of tenant "
        f"{scope} only, not {value!r}"
    )


def _parent_refusal(
    model: type[models.Model], field: models.ForeignKey[Any, Any], tenant_id: Any, parent: Any
) -> TenantScopeError:
    return TenantScopeError(
        f"a {model.__name__} of tenant {tenant_id} cannot point at {field.name} "
        f"{parent.pk} of tenant {_tenant_of(parent)}"
    )


@cache
def pinned_relations(model: type[models.Model]) -> tuple[models.ForeignKey[Any, Any], ...]:
    """Return the foreign keys of `model` that point at another tenant-owned model.

    The parent row must belong to the child's tenant; the tenant foreign key itself is not
    in the list.
    """
    if not is_tenant_scoped(model):
        return ()
    return tuple(
        field
        for field in model._meta.concrete_fields
        if isinstance(field, models.ForeignKey)
        and field.name != "tenant"
        and is_tenant_scoped(field.related_model)
    )


def parents_of_other_tenants(row: models.Model) -> list[models.ForeignKey[Any, Any]]:
    """Return the foreign keys of `row` whose parent object belongs to another tenant.

    Sends no query: a parent given only by its id is left to the database's constraint
    (PostgreSQL; see the module docstring for SQLite).
    """
    tenant_id = getattr(row, "tenant_id", None)
    found = []
    for field in pinned_relations(type(row)):
        parent = field.get_cached_value(row, None)
        if parent is None or parent.pk is None or parent.pk != getattr(row, field.attname):
            continue
        if _tenant_of(parent) != tenant_id:
            found.append(field)
    return found


def check_pinned_parents(row: models.Model) -> None:
    """Refuse a row whose parent object, where it is at hand, belongs to another tenant."""
    for field in parents_of_other_tenants(row):
        parent = field.get_cached_value(row)
        raise _parent_refusal(type(row), field, getattr(row, "tenant_id", None), parent)


# What `for_tenant` built, by model, queryset class, database and tenant. Never handed
# out itself (querysets are copied before anything can change them), so sharing it across
# threads is safe.
_FOR_TENANT: dict[tuple[Any, ...], models.QuerySet[Any]] = {}
_FOR_TENANT_MAX = 4096


class TenantScopedManager(models.Manager[_M], Generic[_M]):
    """A manager whose querysets only run once filtered on one tenant."""

    def get_queryset(self) -> models.QuerySet[_M]:
        queryset = super().get_queryset()
        # The manager's own queryset class (AuditEventQuerySet, say) with the refusals over it.
        queryset.__class__ = _unscoped_class(type(queryset))
        queryset.query.__class__ = UnscopedQuery
        return queryset

    def for_tenant(self, tenant: Tenant | int) -> models.QuerySet[_M]:
        """Return this model's rows that belong to `tenant` (a saved Tenant or its id)."""
        tenant_id = _tenant_id_or_none(tenant)
        if tenant_id is None or tenant_id < 1:
            raise TenantScopeError(
                f"{self.model.__name__}.objects.for_tenant() needs a saved Tenant or a "
                f"tenant id (a positive int), not {tenant!r}"
            )
        # The plain Manager's queryset (of this manager's queryset class), then the filter,
        # built once per tenant and handed out as a copy: `filter()` costs about 120 µs of
        # Python and a copy about 7, and a chat turn asks for a few of these.
        queryset_class = self._queryset_class  # type: ignore[attr-defined]
        key = (self.model, queryset_class, self._db, tenant_id)
        built = _FOR_TENANT.get(key)
        if built is None:
            built = models.Manager.get_queryset(self).filter(tenant_id=tenant_id)
            _scope(built, tenant_id)
            if len(_FOR_TENANT) >= _FOR_TENANT_MAX:
                _FOR_TENANT.clear()  # a bound, not a policy: rebuilt on next use
            _FOR_TENANT[key] = built
        return built.all()


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
