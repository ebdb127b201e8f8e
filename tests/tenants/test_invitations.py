"""Member services: invitations by signed token, and role changes that keep an owner."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser

from tenants.actors import Actor
from tenants.exceptions import AlreadyExists, InvalidInput, ObjectNotFound
from tenants.models import AuditEvent, Membership, Tenant
from tenants.services import (
    membership_invite,
    membership_invite_accept,
    membership_invite_read,
    membership_set_role,
    tenant_set_status,
)


def test_an_accepted_invitation_makes_a_member_once(
    acme: Tenant, acme_owner: AbstractBaseUser, outsider: AbstractBaseUser
) -> None:
    invitation = membership_invite(
        tenant=acme, email="OSCAR@example.com", role="admin", actor=Actor.for_user(acme_owner)
    )
    assert membership_invite_read(token=invitation.token).email == "oscar@example.com"
    membership = membership_invite_accept(token=invitation.token, user=outsider)
    assert membership.role == "admin"
    with pytest.raises(AlreadyExists):
        membership_invite_accept(token=invitation.token, user=outsider)
    event = AuditEvent.objects.for_tenant(acme).get(action="membership.invite")
    assert event.actor_label == "alice" and event.after == {
        "email": "oscar@example.com",
        "role": "admin",
    }


def test_a_tampered_or_stale_invitation_is_refused(
    settings: Any, acme: Tenant, outsider: AbstractBaseUser
) -> None:
    token = membership_invite(tenant=acme, email="oscar@example.com", role="owner").token
    with pytest.raises(InvalidInput, match="not a valid invitation"):
        membership_invite_read(token=token[:-2] + "xx")
    tenant_set_status(tenant=acme, status="suspended")
    with pytest.raises(InvalidInput, match="no longer exists"):
        membership_invite_accept(token=token, user=outsider)
    settings.INVITE_MAX_AGE_SECONDS = -1
    with pytest.raises(InvalidInput, match="expired"):
        membership_invite_read(token=token)
    assert not Membership.objects.for_tenant(acme).filter(user=outsider).exists()


def test_role_changes_are_audited_and_keep_an_owner(
    acme: Tenant, acme_owner: AbstractBaseUser, acme_viewer: AbstractBaseUser, globex: Tenant
) -> None:
    memberships = Membership.objects.for_tenant(acme)
    viewer, owner = memberships.get(user=acme_viewer), memberships.get(user=acme_owner)
    membership_set_role(tenant=acme, membership_id=viewer.pk, role="owner")
    # Two owners now: the first may step down, the second may not.
    membership_set_role(tenant=acme, membership_id=owner.pk, role="viewer")
    with pytest.raises(InvalidInput, match="last owner"):
        membership_set_role(tenant=acme, membership_id=viewer.pk, role="admin")
    with pytest.raises(ObjectNotFound):
        membership_set_role(tenant=globex, membership_id=viewer.pk, role="viewer")
    with pytest.raises(InvalidInput):
        membership_set_role(tenant=acme, membership_id=viewer.pk, role="root")
    changes = AuditEvent.objects.for_tenant(acme).filter(action="membership.set_role")
    assert [(e.before["role"], e.after["role"]) for e in changes.order_by("id")] == [
        ("viewer", "owner"), ("owner", "viewer"),
    ]  # fmt: skip
