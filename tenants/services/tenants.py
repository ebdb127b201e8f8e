from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from tenants.actors import SYSTEM, Actor
from tenants.exceptions import AlreadyExists, InvalidInput, ObjectNotFound
from tenants.models import Membership, Tenant
from tenants.models.tenancy import normalize_origin
from tenants.services.audit import audit_event_record
from tenants.services.common import RowSpec, fields_check_length, row_apply_and_save


def _summary(tenant: Tenant) -> dict[str, Any]:
    return {
        "slug": tenant.slug,
        "name": tenant.name,
        "status": tenant.status,
        "allowed_origins": list(tenant.allowed_origins),
        "monthly_token_quota": tenant.monthly_token_quota,
        "requests_per_minute": tenant.requests_per_minute,
    }


def _origin(value: str) -> str:
    try:
        return normalize_origin(value)
    except ValueError as error:
        raise InvalidInput("allowed_origins", str(error)) from None


def user_get_or_create(*, username: str, email: str = "") -> tuple[User, bool]:
    """Return the user with this username, creating one without a usable password if needed."""
    users = get_user_model()._default_manager
    user = users.filter(username=username).first()
    if user is not None:
        return user, False
    return users.create_user(username=username, email=email), True


# The console's pages outside any tenant sit beside /console/<tenant>/ (console/urls.py):
# a tenant with one of these slugs could not be reached there.
RESERVED_SLUGS = frozenset({"login", "logout", "password", "invite", "static", "api", "admin"})


@transaction.atomic
def tenant_create(
    *,
    slug: str,
    name: str,
    owner: User,
    actor: Actor = SYSTEM,
) -> Tenant:
    """Create a tenant with `owner` as its first owner."""
    if not slug or slugify(slug) != slug:
        raise InvalidInput("slug", "use lowercase letters, digits and hyphens")
    if slug in RESERVED_SLUGS:
        raise InvalidInput("slug", f"{slug!r} is reserved for the console's own pages")
    if not name.strip():
        raise InvalidInput("name", "must not be empty")
    tenant = Tenant(slug=slug, name=name.strip())
    fields_check_length(tenant)
    # The unique slug decides, also between two concurrent creations; the savepoint keeps
    # the caller's transaction usable after the refusal.
    try:
        with transaction.atomic():
            tenant.save(force_insert=True)
    except IntegrityError:
        raise AlreadyExists("tenant", slug) from None
    Membership(tenant=tenant, user=owner, role=Membership.Role.OWNER).save()
    audit_event_record(
        tenant=tenant,
        actor=actor,
        action="tenant.create",
        target=tenant,
        after={**_summary(tenant), "owner": owner.get_username()},
    )
    return tenant


def _set_origins(tenant: Tenant, origins: Any) -> list[str]:
    if not isinstance(origins, list):
        raise InvalidInput("allowed_origins", "must be a list of origins")
    tenant.allowed_origins = sorted({_origin(str(origin)) for origin in origins})
    return ["allowed_origins"]


def _check(tenant: Tenant) -> None:
    if not str(tenant.name).strip():
        raise InvalidInput("name", "must not be empty")
    for quota in ("monthly_token_quota", "requests_per_minute"):
        value = getattr(tenant, quota)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            raise InvalidInput(quota, "must be a whole number of at least 0, or empty")


TENANT = RowSpec(
    model=Tenant,
    entity="tenant",
    action="tenant",
    fields=frozenset({"name", "allowed_origins", "monthly_token_quota", "requests_per_minute"}),
    summary=_summary,
    check=_check,
    setters={"allowed_origins": _set_origins},
)


@transaction.atomic
def tenant_update(*, tenant: Tenant, changes: dict[str, Any], actor: Actor = SYSTEM) -> Tenant:
    """Change a tenant's name, allowed origins or quotas (None quota: no limit).

    `tenant` itself is locked, re-read and changed, so the caller's object stays current.
    """
    try:
        tenant.refresh_from_db(from_queryset=Tenant.objects.select_for_update())
    except Tenant.DoesNotExist:
        raise ObjectNotFound("tenant", tenant.slug) from None
    return row_apply_and_save(TENANT, tenant=tenant, row=tenant, changes=changes, actor=actor)


@transaction.atomic
def tenant_set_status(
    *,
    tenant: Tenant,
    status: str,
    actor: Actor = SYSTEM,
) -> Tenant:
    """Suspend or reactivate a tenant; a suspended tenant's keys stop working at once."""
    if status not in Tenant.Status.values:
        raise InvalidInput("status", f"must be one of {', '.join(Tenant.Status.values)}")
    before = tenant.status
    if before == status:
        return tenant
    tenant.status = status
    tenant.save(update_fields=["status", "updated_at"])
    audit_event_record(
        tenant=tenant,
        actor=actor,
        action=f"tenant.{'suspend' if status == 'suspended' else 'activate'}",
        target=tenant,
        before={"status": before},
        after={"status": status},
    )
    return tenant


@transaction.atomic
def membership_add(
    *,
    tenant: Tenant,
    user: User,
    role: str,
    actor: Actor = SYSTEM,
) -> Membership:
    if role not in Membership.Role.values:
        raise InvalidInput("role", f"must be one of {', '.join(Membership.Role.values)}")
    membership = Membership(tenant=tenant, user=user, role=role)
    try:
        with transaction.atomic():
            membership.save()
    except IntegrityError:
        raise AlreadyExists("membership", user.get_username()) from None
    audit_event_record(
        tenant=tenant,
        actor=actor,
        action="membership.add",
        target=membership,
        after={"user": user.get_username(), "role": role},
    )
    return membership


@transaction.atomic
def membership_remove(
    *,
    tenant: Tenant,
    user: User,
    actor: Actor = SYSTEM,
) -> None:
    """Remove a user from a tenant; the last owner cannot be removed."""
    # Lock the tenant row first: two removals of two different owners would otherwise each
    # lock only their own membership, both count two owners, and leave none.
    Tenant.objects.select_for_update().only("pk").get(pk=tenant.pk)
    memberships = Membership.objects.for_tenant(tenant)
    membership = memberships.filter(user=user).first()
    if membership is None:
        raise ObjectNotFound("membership", user.get_username())
    owners = memberships.filter(role=Membership.Role.OWNER).count()
    if membership.role == Membership.Role.OWNER and owners == 1:
        raise InvalidInput("user", "the last owner of a tenant cannot be removed")
    audit_event_record(
        tenant=tenant,
        actor=actor,
        action="membership.remove",
        target=membership,
        before={"user": user.get_username(), "role": membership.role},
    )
    membership.delete()
