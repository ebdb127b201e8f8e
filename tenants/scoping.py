"""Tenant isolation that fails closed.

Every tenant-owned model uses `TenantScopedManager` as `objects`. Running its plain queryset
raises `TenantScopeError`, so `Thread.objects.filter(public_id=...)` is a bug found on the
first run instead of a leak; the only way in is `Thread.objects.for_tenant(tenant)`.

Unscoped access exists, and only in these documented places:

* `Model.unscoped` (a plain manager) for operator tooling: the Django admin, management
  commands, the encryption-key rotation, and API key authentication (where the key itself
  decides the tenant);
* `ToolCall.unscoped` in hosted_agents' long-tool sweep (hosted_agents/long_tools/sweep.py),
  which finds stale and unsent calls across tenants, then changes each one only through
  `for_tenant` with its own tenant and a condition on what it read;
* Django's `_base_manager` (plain, the default) for its own machinery: cascading deletes,
  forward relations (`item.thread`), `save()`.

Related managers (`tenant.threads`, `thread.items`) derive from the default manager and so
refuse too: write `Item.objects.for_tenant(tenant).filter(thread=thread)`. A ModelForm
choice field on a tenant-owned model must likewise get a `for_tenant` (or, in the admin,
`unscoped`) queryset before it is rendered or validated.

Cache keys and channel-layer group names carry the tenant through `tenant_cache_key` and
`tenant_group_name`, so two tenants never share an entry or a group.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.db import models

from tenants.exceptions import TenantScopeError

if TYPE_CHECKING:
    from tenants.models import Tenant

_M = TypeVar("_M", bound=models.Model)


class UnscopedQuerySet(models.QuerySet[_M], Generic[_M]):
    """What a tenant-owned model's plain manager hands out: it may be built, never run.

    Building stays allowed because Django builds querysets eagerly (a ModelForm's choice
    field, a related manager, the admin); every way of running one raises, so a queryset
    that was never given a tenant cannot read or write a row.
    """

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        name = self.model.__name__
        raise TenantScopeError(
            f"{name} is tenant-owned: use {name}.objects.for_tenant(tenant), "
            f"or {name}.unscoped in documented operator code"
        )

    _fetch_all = _iterator = count = exists = aggregate = explain = _refuse
    update = _update = delete = _raw_delete = create = bulk_create = raw = _refuse


class TenantScopedManager(models.Manager[_M], Generic[_M]):
    """A manager whose querysets only run once filtered on one tenant."""

    def get_queryset(self) -> models.QuerySet[_M]:
        return UnscopedQuerySet(model=self.model, using=self._db)

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
