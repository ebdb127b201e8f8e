"""Members: roles, and invitations to join a tenant by a signed link.

An invitation is not stored: its token is the signed invitation itself (tenant, e-mail
address, role), valid for `settings.INVITE_MAX_AGE_SECONDS`. Whoever signs in with that
e-mail address may accept it; accepting makes them a member once (a member cannot join
again). A link keeps working until it expires, so a removed member could use an unexpired
link again: remove and re-invite within the expiry only if that is acceptable, or shorten it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.db import transaction

from tenants.actors import SYSTEM, Actor
from tenants.exceptions import InvalidInput, ObjectNotFound
from tenants.models import Membership, Tenant
from tenants.services.audit import audit_event_record
from tenants.services.tenants import membership_add

__all__ = [
    "Invitation",
    "membership_invite",
    "membership_invite_accept",
    "membership_invite_read",
    "membership_set_role",
]

_SALT = "tenants.invitation"


@dataclass(frozen=True)
class Invitation:
    tenant: Tenant
    email: str
    role: str
    token: str


def _check_role(role: str) -> None:
    if role not in Membership.Role.values:
        raise InvalidInput("role", f"must be one of {', '.join(Membership.Role.values)}")


@transaction.atomic
def membership_invite(
    *, tenant: Tenant, email: str, role: str, actor: Actor = SYSTEM
) -> Invitation:
    """Return a signed invitation for `email` to join `tenant` as `role`; audit it."""
    email = email.strip().lower()
    if "@" not in email:
        raise InvalidInput("email", "must be an e-mail address")
    _check_role(role)
    token = signing.dumps({"t": tenant.pk, "e": email, "r": role}, salt=_SALT, compress=True)
    audit_event_record(
        tenant=tenant, actor=actor, action="membership.invite", target=tenant,
        after={"email": email, "role": role},
    )  # fmt: skip
    return Invitation(tenant=tenant, email=email, role=role, token=token)


def membership_invite_read(*, token: str) -> Invitation:
    """Return the invitation `token` holds, or raise `InvalidInput` (bad, expired, tenant gone)."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=settings.INVITE_MAX_AGE_SECONDS)
    except signing.SignatureExpired:
        raise InvalidInput("token", "this invitation has expired; ask for a new one") from None
    except signing.BadSignature:
        raise InvalidInput("token", "this is not a valid invitation link") from None
    tenant = Tenant.objects.filter(pk=data["t"], status=Tenant.Status.ACTIVE).first()
    if tenant is None:
        raise InvalidInput("token", "this invitation's tenant no longer exists")
    return Invitation(tenant=tenant, email=data["e"], role=data["r"], token=token)


def membership_invite_accept(*, token: str, user: User, actor: Actor | None = None) -> Membership:
    """Make `user` a member as invited; the user's e-mail address must be the invited one."""
    invitation = membership_invite_read(token=token)
    if user.email.strip().lower() != invitation.email:
        raise InvalidInput("email", f"this invitation is for {invitation.email}")
    return membership_add(
        tenant=invitation.tenant, user=user, role=invitation.role,
        actor=actor or Actor.for_user(user),
    )  # fmt: skip


@transaction.atomic
def membership_set_role(
    *, tenant: Tenant, membership_id: int, role: str, actor: Actor = SYSTEM
) -> Membership:
    """Change a member's role; a tenant always keeps at least one owner."""
    _check_role(role)
    # The tenant row lock serialises role changes, as in membership_remove.
    Tenant.objects.select_for_update().only("pk").get(pk=tenant.pk)
    memberships = Membership.objects.for_tenant(tenant)
    membership = memberships.select_related("user").filter(pk=membership_id).first()
    if membership is None:
        raise ObjectNotFound("membership", membership_id)
    before = membership.role
    if before == role:
        return membership
    owners = memberships.filter(role=Membership.Role.OWNER).count()
    if before == Membership.Role.OWNER and owners == 1:
        raise InvalidInput("role", "the last owner of a tenant must stay owner")
    membership.role = role
    membership.save(update_fields=["role"])
    audit_event_record(
        tenant=tenant, actor=actor, action="membership.set_role", target=membership,
        before={"user": membership.user.get_username(), "role": before},
        after={"user": membership.user.get_username(), "role": role},
    )  # fmt: skip
    return membership
