"""The operators' admin. Every change goes through a service, so it is audited like any other.

Operators work across tenants, so tenant-owned models are listed through `unscoped` (one of
the documented unscoped places). Secrets are write-only: a provider key can be replaced,
never shown; API keys are created by `manage.py create_api_key` (which prints the key once)
and can be revoked here.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from tenants import services
from tenants.actors import Actor
from tenants.admin_transcript import ThreadTranscriptMixin
from tenants.exceptions import DomainError, InvalidInput
from tenants.models import (
    ApiKey,
    Attachment,
    AuditEvent,
    Feedback,
    Membership,
    ProviderCredential,
    Tenant,
    TenantOwnedModel,
    Thread,
    ThreadItem,
)
from tenants.models.tenancy import normalize_origin

_M = TypeVar("_M", bound=models.Model)
_T = TypeVar("_T", bound=TenantOwnedModel)

if TYPE_CHECKING:
    ModelAdmin = admin.ModelAdmin

    class ModelForm(forms.ModelForm[_M]):
        # Django's hook that builds `instance` from the cleaned data and validates it; our
        # forms extend it, and django-stubs leaves this private method out.
        def _post_clean(self) -> None: ...

else:
    # django-stubs declares ModelAdmin and ModelForm generic, but Django gives them no
    # `__class_getitem__`. These twins take the subscript at run time too, so
    # `ModelForm[Agent]` runs without django-stubs-ext (not installed in production).
    class ModelAdmin(admin.ModelAdmin, Generic[_M]):
        pass

    class ModelForm(forms.ModelForm, Generic[_M]):
        pass


def request_actor(request: HttpRequest) -> Actor:
    """Return the signed-in operator who made an admin change, with their address."""
    ip = request.META.get("REMOTE_ADDR")
    user = request.user
    return Actor.for_user(user, ip=ip) if isinstance(user, User) else Actor.system(ip=ip)


class OperatorAdmin(ModelAdmin[_T]):
    """Base for tenant-owned models: every tenant's rows, through the unscoped manager.

    A subclass that allows deleting implements `delete_model` with its service; the bulk
    "Delete selected" action then calls it row by row, so every deletion is audited.
    """

    list_select_related = ["tenant"]
    list_filter = ["tenant"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[_T]:
        queryset: QuerySet[_T] = self.model.unscoped.get_queryset()
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def delete_model(self, request: HttpRequest, obj: _T) -> None:
        raise NotImplementedError(f"{type(self).__name__} deletes through a service")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[_T]) -> None:
        # Django's own bulk delete would skip the services (and so the audit trail).
        for obj in queryset.select_related("tenant"):
            try:
                self.delete_model(request, obj)
            except DomainError as error:
                self.message_user(request, f"{obj}: {error}", messages.ERROR)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as error:  # a rule of the service, like "the last owner"
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(request.path)


class ReadOnlyAdmin(OperatorAdmin[_T]):
    # Large tables: no COUNT(*) over every tenant's rows on each page view.
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TenantForm(ModelForm[Tenant]):
    class Meta:
        model = Tenant
        fields = [
            "name", "status", "allowed_origins", "monthly_token_quota", "requests_per_minute",
            "retention_days",
        ]  # fmt: skip

    def clean_allowed_origins(self) -> list[str]:
        origins = self.cleaned_data["allowed_origins"] or []
        if not isinstance(origins, list):
            raise forms.ValidationError("Give a list of origins.")
        try:
            return sorted({normalize_origin(str(origin)) for origin in origins})
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None


@admin.register(Tenant)
class TenantAdmin(ModelAdmin[Tenant]):
    form = TenantForm
    list_display = ("slug", "name", "status", "deletion_due_at", "created_at")
    list_filter = ["status"]
    search_fields = ("slug", "name")
    readonly_fields = ("slug", "deletion_due_at", "created_at", "updated_at")
    actions = ["export", "schedule_deletion", "cancel_deletion"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # `manage.py create_tenant` creates a tenant together with its owner.

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # Suspend instead: the audit trail must outlive the tenant's activity.

    @admin.action(description="Export the selected tenant's data (zip)", permissions=["view"])
    def export(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> HttpResponse | None:
        # The export reads hosted_agents' tables too; the admin is the one place here that
        # reaches up to it, lazily, as the operator's tool.
        from hosted_agents.tenant_export import tenant_export

        if queryset.count() != 1:
            self.message_user(request, "Export one tenant at a time.", messages.ERROR)
            return None
        tenant = queryset.get()
        buffer = io.BytesIO()
        tenant_export(tenant=tenant, file=buffer)
        response = HttpResponse(buffer.getvalue(), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{tenant.slug}.zip"'
        return response

    @admin.action(
        description="Delete the selected tenants after the grace period (suspends them now)",
        permissions=["change"],
    )
    def schedule_deletion(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            try:
                tenant = services.tenant_deletion_schedule(
                    tenant=tenant, actor=request_actor(request)
                )
            except DomainError as error:
                self.message_user(request, f"{tenant.slug}: {error}", messages.ERROR)
                continue
            due = tenant.deletion_due_at.isoformat() if tenant.deletion_due_at else "?"
            self.message_user(
                request, f"{tenant.slug} is suspended; it will be deleted after {due}."
            )

    @admin.action(description="Cancel the deletion of the selected tenants", permissions=["change"])
    def cancel_deletion(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            try:
                services.tenant_deletion_cancel(tenant=tenant, actor=request_actor(request))
            except DomainError as error:
                self.message_user(request, f"{tenant.slug}: {error}", messages.ERROR)
                continue
            self.message_user(request, f"The deletion of {tenant.slug} is cancelled.")

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        stored = Tenant.objects.get(pk=obj.pk)
        changed = {name: form.cleaned_data[name] for name in form.changed_data if name != "status"}
        if changed:
            services.tenant_update(tenant=stored, changes=changed, actor=request_actor(request))
        if "status" in form.changed_data:
            services.tenant_set_status(
                tenant=stored, status=obj.status, actor=request_actor(request)
            )


@admin.register(Membership)
class MembershipAdmin(OperatorAdmin[Membership]):
    list_display = ("user", "tenant", "role", "created_at")
    search_fields = ("user__username", "tenant__slug")
    autocomplete_fields = ("user",)
    actions = None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("tenant", "user", "role", "created_at") if obj is not None else ("created_at",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        membership = services.membership_add(
            tenant=obj.tenant,
            user=obj.user,
            role=obj.role,
            actor=request_actor(request),
        )
        obj.pk, obj._state.adding = membership.pk, False

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.membership_remove(tenant=obj.tenant, user=obj.user, actor=request_actor(request))


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin[ApiKey]):
    list_display = (
        "name",
        "tenant",
        "display",
        "scopes",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    search_fields = ("name", "lookup_id", "tenant__slug")
    fields = (
        "tenant", "name", "display", "scopes", "expires_at", "revoked_at",
        "created_by", "created_at", "last_used_at", "last_used_ip",
    )  # fmt: skip
    readonly_fields = fields
    actions = ["revoke"]

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("tenants.change_apikey")

    @admin.action(description="Revoke selected API keys", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset.select_related("tenant"):
            services.api_key_revoke(
                tenant=api_key.tenant,
                key_id=api_key.pk,
                actor=request_actor(request),
            )
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)


class ProviderCredentialForm(ModelForm[ProviderCredential]):
    base_url = forms.URLField(required=False, assume_scheme="https")
    new_secret = forms.CharField(
        label="API key",
        required=False,
        strip=True,
        # Write-only: the stored key is never put back into the page.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted and never shown again. Leave empty to keep the current key.",
    )

    class Meta:
        model = ProviderCredential
        fields = ["tenant", "name", "kind", "base_url", "api"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance.pk is None and not data.get("new_secret"):
            self.add_error("new_secret", "An API key is required.")
        kind = data.get("kind", self.instance.kind)
        if kind == ProviderCredential.Kind.OPENAI and data.get("base_url"):
            self.add_error("base_url", "OpenAI credentials use the official endpoint.")
        return data

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors:
            return
        try:
            services.provider_credential_check(self.instance)
        except InvalidInput as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)


@admin.register(ProviderCredential)
class ProviderCredentialAdmin(OperatorAdmin[ProviderCredential]):
    form = ProviderCredentialForm
    list_display = ("name", "tenant", "kind", "api", "secret_hint", "updated_at")
    search_fields = ("name", "tenant__slug")
    actions = None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("tenant", "kind", "secret_hint") if obj is not None else ()

    def save_model(
        self, request: HttpRequest, obj: ProviderCredential, form: Any, change: bool
    ) -> None:
        secret = form.cleaned_data.get("new_secret", "")
        if change:
            services.provider_credential_update(
                tenant=obj.tenant,
                credential_id=obj.pk,
                changes={
                    "name": obj.name,
                    "base_url": obj.base_url,
                    "api": obj.api,
                    "secret": secret,
                },
                actor=request_actor(request),
            )
            return
        created = services.provider_credential_create(
            tenant=obj.tenant, name=obj.name, kind=obj.kind, base_url=obj.base_url, api=obj.api,
            secret=secret, actor=request_actor(request),
        )  # fmt: skip
        obj.pk, obj.secret_hint, obj._state.adding = created.pk, created.secret_hint, False

    def delete_model(self, request: HttpRequest, obj: ProviderCredential) -> None:
        services.provider_credential_delete(
            tenant=obj.tenant, credential_id=obj.pk, actor=request_actor(request)
        )


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin[AuditEvent]):
    list_display = (
        "created_at",
        "tenant",
        "actor_label",
        "action",
        "target_type",
        "target_id",
        "ip",
    )
    list_filter = ["tenant", "action"]
    search_fields = ("action", "actor_label", "target_id")
    date_hierarchy = None


@admin.register(Thread)
class ThreadAdmin(ThreadTranscriptMixin, ReadOnlyAdmin[Thread]):
    list_display = ("public_id", "tenant", "agent_slug", "end_user_id", "title", "created_at")
    search_fields = ("public_id", "end_user_id")


@admin.register(ThreadItem)
class ThreadItemAdmin(ReadOnlyAdmin[ThreadItem]):
    list_display = ("public_id", "tenant", "thread", "type", "created_at")
    list_select_related = ["tenant", "thread"]
    search_fields = ("public_id",)


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin[Attachment]):
    list_display = ("public_id", "tenant", "name", "mime_type", "created_at")
    search_fields = ("public_id", "name")


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdmin[Feedback]):
    list_display = ("tenant", "thread", "kind", "end_user_id", "created_at")
