"""Members: everyone sees who is in the tenant; owners invite, change roles and remove.

An invitation is a signed link mailed to the invitee (tenants/services/invitations.py).
Accepting it happens outside the tenant's pages, since the invitee is not a member yet:
`/console/invite/<token>/` asks them to sign in, or to create an account, with the invited
address, then makes them a member.
"""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse

from console.access import ConsoleRequest, console_get_or_404, console_view
from console.forms.account import InviteForm, RoleForm, form_add_domain_error
from tenants.exceptions import AlreadyExists, InvalidInput
from tenants.models import Membership
from tenants.selectors import membership_list
from tenants.services import (
    membership_invite,
    membership_invite_accept,
    membership_invite_read,
    membership_remove,
    membership_set_role,
)

OWNER = Membership.Role.OWNER


@console_view()
def member_list(request: ConsoleRequest) -> HttpResponse:
    members = list(membership_list(tenant=request.console.tenant))
    return render(request, "console/members/list.html", {"members": members})


@console_view(OWNER)
def member_invite(request: ConsoleRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        tenant = request.console.tenant
        try:
            invitation = membership_invite(
                tenant=tenant, email=form.cleaned_data["email"], role=form.cleaned_data["role"],
                actor=request.console.actor,
            )  # fmt: skip
        except InvalidInput as error:
            form_add_domain_error(form, error)
        else:
            link = request.build_absolute_uri(
                reverse("console:invite_accept", kwargs={"token": invitation.token})
            )
            context = {"invitation": invitation, "link": link, "by": request.user}
            send_mail(
                subject=f"You are invited to {tenant.name} on ChatKit Platform",
                message=render_to_string("console/members/invite_email.txt", context),
                from_email=None,
                recipient_list=[invitation.email],
            )
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("console:members", tenant=tenant.slug)
    status = 400 if form.is_bound else 200
    return render(request, "console/members/invite.html", {"form": form}, status=status)


@console_view(OWNER)
def member_role(request: ConsoleRequest, member: int) -> HttpResponse:
    membership = console_get_or_404(Membership, request, pk=member)
    form = RoleForm(request.POST or None, initial={"role": membership.role})
    if request.method == "POST" and form.is_valid():
        try:
            membership_set_role(
                tenant=request.console.tenant, membership_id=membership.pk,
                role=form.cleaned_data["role"], actor=request.console.actor,
            )  # fmt: skip
        except InvalidInput as error:
            form_add_domain_error(form, error)
        else:
            name = membership.user.get_username()
            messages.success(request, f"{name} is now {form.cleaned_data['role']}.")
            return redirect("console:members", tenant=request.console.tenant.slug)
    status = 400 if form.is_bound else 200
    context = {"form": form, "member": membership}
    return render(request, "console/members/role.html", context, status=status)


@console_view(OWNER)
def member_remove(request: ConsoleRequest, member: int) -> HttpResponse:
    membership = console_get_or_404(Membership, request, pk=member)
    error = None
    if request.method == "POST":
        try:
            membership_remove(
                tenant=request.console.tenant, user=membership.user, actor=request.console.actor
            )
        except InvalidInput as refused:
            error = refused.message
        else:
            messages.success(request, f"{membership.user.get_username()} was removed.")
            if membership.user_id == request.user.pk:
                return redirect("console:index")
            return redirect("console:members", tenant=request.console.tenant.slug)
    context = {"member": membership, "error": error}
    return render(request, "console/members/remove.html", context, status=400 if error else 200)


class InviteeForm(UserCreationForm):  # type: ignore[type-arg]
    """A new account for the invited address (which is not asked for again)."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username",)


def invite_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Join a tenant from an invitation: sign in or create an account, then confirm."""
    try:
        invitation = membership_invite_read(token=token)
    except InvalidInput as error:
        return render(request, "console/members/invite_invalid.html", {"error": error}, status=404)
    user = cast(User, request.user)
    if user.is_authenticated:
        return _accept_signed_in(request, invitation.token, user, invitation)
    account_form = InviteeForm(request.POST or None)
    taken = get_user_model()._default_manager.filter(email__iexact=invitation.email).exists()
    if request.method == "POST" and not taken and account_form.is_valid():
        with transaction.atomic():
            new_user = account_form.save(commit=False)
            new_user.email = invitation.email
            new_user.save()
            membership_invite_accept(token=token, user=new_user)
        login(request, new_user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome to {invitation.tenant.name}.")
        return redirect("console:tenant_home", tenant=invitation.tenant.slug)
    context = {"invitation": invitation, "form": account_form, "account_exists": taken}
    status = 400 if account_form.is_bound else 200
    return render(request, "console/members/invite_accept.html", context, status=status)


def _accept_signed_in(
    request: HttpRequest, token: str, user: User, invitation: object
) -> HttpResponse:
    context = {"invitation": invitation, "error": None}
    if request.method == "POST":
        try:
            membership = membership_invite_accept(token=token, user=user)
        except AlreadyExists:
            context["error"] = "You are already a member of this tenant."
        except InvalidInput as error:
            context["error"] = error.message
        else:
            messages.success(request, f"You joined {membership.tenant.name}.")
            return redirect("console:tenant_home", tenant=membership.tenant.slug)
    status = 400 if context["error"] else 200
    return render(request, "console/members/invite_join.html", context, status=status)
