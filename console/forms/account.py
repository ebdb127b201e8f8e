"""Forms of the account-level sections: API keys, providers, origins, members."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone

from tenants.exceptions import InvalidInput
from tenants.models import ApiKey, Membership, ProviderCredential
from tenants.models.tenancy import normalize_origin

SCOPE_HELP = {
    ApiKey.Scope.CHAT: "chat: the ChatKit endpoints and the sessions API (/v1/chatkit/)",
    ApiKey.Scope.MANAGEMENT_READ: "management:read: GET on the management API (/api/v1/)",
    ApiKey.Scope.MANAGEMENT_WRITE: "management:write: changes through the management API",
}
EXPIRY_CHOICES = [("", "Never"), ("7", "In 7 days"), ("30", "In 30 days"),
                  ("90", "In 90 days"), ("365", "In a year")]  # fmt: skip


def form_add_domain_error(form: forms.Form, error: InvalidInput) -> None:
    """Show a service's refusal on the field it names, or on the whole form."""
    for name, messages in error.field_errors.items():
        form.add_error(name if name in form.fields else None, messages)


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Where the key is used, e.g. “shop backend”.")
    scopes = forms.MultipleChoiceField(
        choices=[(scope, SCOPE_HELP[scope]) for scope in ApiKey.Scope],
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiKey.Scope.CHAT],
    )
    expires_in_days = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, label="Expires")

    def expires_at(self) -> Any:
        days = self.cleaned_data.get("expires_in_days")
        return timezone.now() + timedelta(days=int(days)) if days else None


class ProviderCredentialForm(forms.Form):
    """Add a credential, or replace one (`editing`: an empty key keeps the stored one)."""

    name = forms.CharField(max_length=100, help_text="Agents pick their credential by this name.")
    kind = forms.ChoiceField(choices=ProviderCredential.Kind.choices)
    base_url = forms.URLField(
        required=False, label="Base URL", assume_scheme="https",
        help_text="For an OpenAI-compatible provider only, e.g. https://llm.example.com/v1",
    )  # fmt: skip
    api = forms.ChoiceField(choices=ProviderCredential.Api.choices, label="API")
    secret = forms.CharField(
        label="API key", widget=forms.PasswordInput(render_value=False), strip=True,
        help_text="Stored encrypted; only a masked hint is shown afterwards.",
    )  # fmt: skip

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["kind"].disabled = True
            self.fields["secret"].required = False
            self.fields["secret"].label = "New API key"
            self.fields["secret"].help_text = "Leave empty to keep the stored key."


class OriginsForm(forms.Form):
    origins = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        label="Allowed origins",
        help_text="One origin a line, like https://shop.example.com. A wildcard stands for "
        "one first label: https://*.preview.example.com allows https://pr-7.preview.example.com "
        "but not https://preview.example.com.",
    )  # fmt: skip

    def clean_origins(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["origins"].splitlines()]
        origins, errors = [], []
        for line in filter(None, lines):
            try:
                origins.append(normalize_origin(line))
            except ValueError as error:
                errors.append(str(error))
        if errors:
            raise forms.ValidationError(errors)
        return sorted(set(origins))


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail address")
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.VIEWER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)
