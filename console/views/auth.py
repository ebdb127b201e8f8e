"""Sign-in, sign-out and the account's password pages: Django's auth views, console-styled.

Sign-in is throttled (console/throttle.py). Password reset mail goes through Django's mail
backends (settings: EMAIL_HOST and friends; without it the mail is logged).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy

from console.access import request_ip
from console.throttle import login_blocked, login_failed, login_succeeded

THROTTLED_MESSAGE = (
    "Too many failed sign-in attempts. Wait a few minutes before trying again, or reset "
    "your password."
)


class ThrottledAuthenticationForm(AuthenticationForm):
    """Refuse to check a password while its username or the address is throttled."""

    def clean(self) -> dict[str, Any]:
        username = str(self.data.get("username", ""))
        ip = request_ip(self.request) if self.request else None
        if login_blocked(username, ip):
            raise forms.ValidationError(THROTTLED_MESSAGE, code="throttled")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            login_failed(username, ip)
            raise
        login_succeeded(username)
        return cleaned


class ThrottledLoginView(auth_views.LoginView):
    template_name = "console/auth/login.html"
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error("__all__", code="throttled"):
            response.status_code = 429
        return response


class ConsoleLogoutView(auth_views.LogoutView):
    """POST only (Django's LogoutView refuses GET): a link cannot sign anyone out."""

    next_page = "console:login"  # a URL name: resolve_url reverses it


class ConsolePasswordChangeView(auth_views.PasswordChangeView):
    template_name = "console/auth/password_change.html"
    success_url = reverse_lazy("console:password_change_done")


@login_required
def password_change_done(request: HttpRequest) -> HttpResponse:
    return render(request, "console/auth/message.html", {
        "title": "Password changed", "text": "Your new password is in use.", "back": True,
    })  # fmt: skip


class ConsolePasswordResetView(auth_views.PasswordResetView):
    template_name = "console/auth/password_reset.html"
    email_template_name = "console/auth/password_reset_email.txt"
    subject_template_name = "console/auth/password_reset_subject.txt"
    success_url = reverse_lazy("console:password_reset_done")


def password_reset_done(request: HttpRequest) -> HttpResponse:
    return render(request, "console/auth/message.html", {
        "title": "Check your mail",
        "text": "If an account has that address, a link to choose a new password is on its "
        "way. It works once, for a few days.",
    })  # fmt: skip


class ConsolePasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "console/auth/password_reset_confirm.html"
    success_url = reverse_lazy("console:password_reset_complete")


def password_reset_complete(request: HttpRequest) -> HttpResponse:
    return render(request, "console/auth/message.html", {
        "title": "Password set", "text": "Sign in with your new password.", "sign_in": True,
    })  # fmt: skip
