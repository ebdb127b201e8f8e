"""The operators' admin for agents, their versions, tools, usage and long tool calls.

Like the tenants admin: rows of every tenant, through `unscoped` (a documented unscoped
place), and every change through a service, so it is validated and audited like any other.
Versions and tool calls are read-only; publishing and rollback are admin actions. HTTP
tool header values are write-only: the form shows each header's name and masked hint, and
an empty field keeps the stored values.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from hosted_agents import services
from hosted_agents.exceptions import InvalidInput
from hosted_agents.instructions import instructions_placeholders
from hosted_agents.models import (
    KNOWN_MODELS,
    Agent,
    AgentVersion,
    ClientTool,
    HttpTool,
    PendingApproval,
    RunSpan,
    ToolCall,
    UsageDaily,
)
from hosted_agents.services.agents import DRAFT_FIELDS
from tenants.admin import ModelForm, OperatorAdmin, ReadOnlyAdmin, request_actor
from tenants.models import ProviderCredential


def placeholders_text(instructions: str) -> str:
    """Return the `{{ state.* }}` placeholders of instructions, for the admin to read."""
    names = instructions_placeholders(instructions)
    if not names:
        return "None: the instructions use no {{ state.* }} placeholder."
    return ", ".join(f"state.{name}" for name in names)


def _field_errors(form: forms.ModelForm[Any], error: InvalidInput, fields: dict[str, str]) -> None:
    """Show a service's `InvalidInput` on the form field it names (or on the whole form)."""
    name = fields.get(error.field, error.field)
    form.add_error(name if name in form.fields else None, error.message)


# --------------------------------------------------------------------------- agents


class AgentForm(ModelForm[Agent]):
    model = forms.CharField(
        max_length=200,
        help_text="Any model name; known ones: "
        + ", ".join(name for name, _ in KNOWN_MODELS)
        + ". With no credential and no platform key, the offline demo model answers.",
    )
    # Declared here: the default would query through the tenant-scoped manager, which refuses.
    provider_credential = forms.ModelChoiceField(
        queryset=ProviderCredential.unscoped.select_related("tenant"),
        required=False,
        help_text="Empty: the platform's key if set, else the offline demo model.",
    )
    code_tools = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, choices=()
    )
    http_tools = forms.ModelMultipleChoiceField(
        queryset=HttpTool.unscoped.select_related("tenant"), required=False
    )
    client_tools = forms.ModelMultipleChoiceField(
        queryset=ClientTool.unscoped.select_related("tenant"), required=False
    )

    class Meta:
        model = Agent
        fields = [
            "tenant", "slug", "name", "instructions", "model", "model_settings",
            "provider_credential", "code_tools", "http_tools", "client_tools",
            "tool_approvals", "greeting", "starter_prompts", "retention_days",
        ]  # fmt: skip
        help_texts = {
            "tool_approvals": '{"tool name": "ask"}: each call to that code or HTTP tool waits '
            "for the end user's Approve / Reject; other tools run automatically.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        code_tools = cast(forms.MultipleChoiceField, self.fields["code_tools"])
        code_tools.choices = services.code_tool_choices()

    def clean_http_tools(self) -> list[int]:
        return [tool.pk for tool in self.cleaned_data["http_tools"]]

    def clean_client_tools(self) -> list[int]:
        return [tool.pk for tool in self.cleaned_data["client_tools"]]

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors:
            return
        try:
            services.agent_check(self.instance)
        except InvalidInput as error:
            _field_errors(self, error, {"provider_credential_id": "provider_credential"})


@admin.register(Agent)
class AgentAdmin(OperatorAdmin[Agent]):
    form = AgentForm
    list_display = ("slug", "name", "tenant", "model", "published_version", "updated_at")
    list_select_related = ["tenant", "published_version"]
    search_fields = ("slug", "name", "tenant__slug")
    actions = ["publish"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # The slug names the agent's endpoint and its threads: fixed once created.
        shown = ("state_placeholders",)
        return ("tenant", "slug", "published_version", *shown) if obj is not None else shown

    @admin.display(description="state variables used")
    def state_placeholders(self, obj: Agent) -> str:
        return placeholders_text(obj.instructions)

    def save_model(self, request: HttpRequest, obj: Agent, form: Any, change: bool) -> None:
        if change:
            changes = {
                field: getattr(obj, field)
                for field in DRAFT_FIELDS
                if field.removesuffix("_id") in form.changed_data
            }
            services.agent_update(
                tenant=obj.tenant, agent_id=obj.pk, changes=changes,
                actor=request_actor(request),
            )  # fmt: skip
            self._save_retention(request, obj, form)
            return
        draft = {field: getattr(obj, field) for field in DRAFT_FIELDS - {"name"}}
        created = services.agent_create(
            tenant=obj.tenant, slug=obj.slug, name=obj.name,
            actor=request_actor(request), **draft,
        )  # fmt: skip
        obj.pk, obj._state.adding = created.pk, False
        self._save_retention(request, obj, form)

    def _save_retention(self, request: HttpRequest, obj: Agent, form: Any) -> None:
        if "retention_days" in form.changed_data:
            services.agent_set_retention(
                tenant=obj.tenant, agent_id=obj.pk, days=obj.retention_days,
                actor=request_actor(request),
            )  # fmt: skip

    def delete_model(self, request: HttpRequest, obj: Agent) -> None:
        services.agent_delete(tenant=obj.tenant, agent_id=obj.pk, actor=request_actor(request))

    @admin.action(description="Publish the draft of the selected agents", permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        for agent in queryset.select_related("tenant"):
            try:
                version = services.agent_publish(
                    tenant=agent.tenant,
                    agent_id=agent.pk,
                    actor=request_actor(request),
                )
            except InvalidInput as error:
                self.message_user(request, f"{agent.slug}: {error}", messages.ERROR)
                continue
            self.message_user(request, f"{agent.slug}: published version {version.number}.")


@admin.register(AgentVersion)
class AgentVersionAdmin(ReadOnlyAdmin[AgentVersion]):
    list_display = ("agent", "number", "tenant", "note", "created_by", "created_at")
    list_select_related = ["tenant", "agent", "created_by"]
    search_fields = ("agent__slug", "tenant__slug")
    fields = (
        "tenant", "agent", "number", "note", "state_placeholders", "config", "created_by",
        "created_at",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description="state variables used")
    def state_placeholders(self, obj: AgentVersion) -> str:
        return placeholders_text(str(obj.config.get("instructions") or ""))

    actions = ["rollback"]

    def has_rollback_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("hosted_agents.change_agent")

    @admin.action(description="Roll back to the selected version", permissions=["rollback"])
    def rollback(self, request: HttpRequest, queryset: QuerySet[AgentVersion]) -> None:
        versions = list(queryset.select_related("tenant", "agent"))
        if len(versions) != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return
        [version] = versions
        try:
            created = services.agent_rollback(
                tenant=version.tenant, agent_id=version.agent_id, number=version.number,
                actor=request_actor(request),
            )  # fmt: skip
        except InvalidInput as error:
            self.message_user(request, f"{version.agent.slug}: {error.message}", messages.ERROR)
            return
        self.message_user(
            request,
            f"{version.agent.slug}: version {created.number} (a copy of {version.number}) "
            "is now published.",
        )


# --------------------------------------------------------------------------- tools


def parse_header_lines(text: str) -> dict[str, str]:
    """Return headers from `Name: value` lines; raise ValidationError on a malformed line."""
    headers = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise forms.ValidationError(f"Line {number}: write 'Name: value'.")
        headers[name.strip()] = value.strip()
    return headers


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never puts a value into the page, not even the one just submitted.

    Like `PasswordInput(render_value=False)`: a form shown again after a validation error
    comes back with this field empty, so a secret typed into it is never echoed.
    """

    def format_value(self, value: Any) -> str | None:
        return None


class HttpToolForm(ModelForm[HttpTool]):
    new_headers = forms.CharField(
        label="Headers",
        required=False,
        # Write-only: neither the stored values nor submitted ones are put back into the page.
        widget=WriteOnlyTextarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text="One 'Name: value' per line, stored encrypted. Leave empty to keep the "
        "current headers. Never shown again: after an error, type new headers once more.",
    )
    clear_headers = forms.BooleanField(required=False, label="Remove all headers")

    class Meta:
        model = HttpTool
        fields = [
            "tenant", "name", "description", "method", "url_template", "args_schema",
            "time_limit_seconds", "max_response_bytes",
        ]  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        hints = self.instance.header_hints if self.instance.pk else {}
        if hints:
            current = ", ".join(f"{name}: {hint}" for name, hint in sorted(hints.items()))
            self.fields["new_headers"].help_text += f" Current: {current}."

    def clean_new_headers(self) -> dict[str, str] | None:
        text = self.cleaned_data["new_headers"]
        return parse_header_lines(text) if text.strip() else None

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors:
            return
        try:
            services.http_tool_check(self.instance)
            headers = self.cleaned_data.get("new_headers")
            if headers is not None:
                services.http_tool_set_headers(HttpTool(), headers)  # validate only
        except InvalidInput as error:
            _field_errors(self, error, {"headers": "new_headers"})

    def header_changes(self) -> dict[str, str] | None:
        """Return the headers to store: new ones, none at all, or None to keep the old."""
        if self.cleaned_data.get("clear_headers"):
            return {}
        headers: dict[str, str] | None = self.cleaned_data.get("new_headers")
        return headers


@admin.register(HttpTool)
class HttpToolAdmin(OperatorAdmin[HttpTool]):
    form = HttpToolForm
    list_display = ("name", "tenant", "method", "url_template", "updated_at")
    search_fields = ("name", "tenant__slug")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("tenant", "header_hints") if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: HttpTool, form: Any, change: bool) -> None:
        fields = [f for f in HttpToolForm.Meta.fields if f != "tenant"]
        values = {field: getattr(obj, field) for field in fields}
        headers = form.header_changes()
        if change:
            services.http_tool_update(
                tenant=obj.tenant, tool_id=obj.pk, changes={**values, "headers": headers},
                actor=request_actor(request),
            )  # fmt: skip
            return
        created = services.http_tool_create(
            tenant=obj.tenant,
            headers=headers,
            actor=request_actor(request),
            **values,
        )
        obj.pk, obj._state.adding = created.pk, False

    def delete_model(self, request: HttpRequest, obj: HttpTool) -> None:
        services.http_tool_delete(tenant=obj.tenant, tool_id=obj.pk, actor=request_actor(request))


class ClientToolForm(ModelForm[ClientTool]):
    class Meta:
        model = ClientTool
        fields = ["tenant", "name", "description", "args_schema"]

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors:
            return
        try:
            services.client_tool_check(self.instance)
        except InvalidInput as error:
            _field_errors(self, error, {})


@admin.register(ClientTool)
class ClientToolAdmin(OperatorAdmin[ClientTool]):
    form = ClientToolForm
    list_display = ("name", "tenant", "updated_at")
    search_fields = ("name", "tenant__slug")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("tenant",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: ClientTool, form: Any, change: bool) -> None:
        values = {"name": obj.name, "description": obj.description, "args_schema": obj.args_schema}
        if change:
            services.client_tool_update(
                tenant=obj.tenant, tool_id=obj.pk, changes=values,
                actor=request_actor(request),
            )  # fmt: skip
            return
        created = services.client_tool_create(
            tenant=obj.tenant, actor=request_actor(request), **values
        )
        obj.pk, obj._state.adding = created.pk, False

    def delete_model(self, request: HttpRequest, obj: ClientTool) -> None:
        services.client_tool_delete(tenant=obj.tenant, tool_id=obj.pk, actor=request_actor(request))


@admin.register(UsageDaily)
class UsageDailyAdmin(ReadOnlyAdmin[UsageDaily]):
    list_display = ("day", "tenant", "agent", "runs", "input_tokens", "output_tokens")
    list_select_related = ["tenant", "agent"]
    date_hierarchy = "day"


@admin.register(ToolCall)
class ToolCallAdmin(ReadOnlyAdmin[ToolCall]):
    """Long-running tool calls: a record written by the worker and the sweep, never edited."""

    list_display = (
        "tool_name", "tenant", "status", "attempts",
        "queued_at", "started_at", "finished_at", "duration_seconds",
    )  # fmt: skip
    list_filter = ["status", "tool_name", "tenant"]
    search_fields = ("call_id", "run_id", "thread_id", "tenant__slug")


# --------------------------------------------------------------------------- runs


@admin.register(PendingApproval)
class PendingApprovalAdmin(ReadOnlyAdmin[PendingApproval]):
    """Runs paused for an end user's approval; decided ones say what the user chose."""

    list_display = ("public_id", "tenant", "thread", "status", "end_user_id", "created_at")
    list_select_related = ["tenant", "thread"]
    list_filter = ["status"]
    search_fields = ("public_id", "end_user_id")
    exclude = ("state",)  # the whole conversation so far: read in the thread instead


@admin.register(RunSpan)
class RunSpanAdmin(ReadOnlyAdmin[RunSpan]):
    list_display = ("trace_id", "tenant", "kind", "name", "duration_ms", "started_at")
    list_select_related = ["tenant"]
    list_filter = ["kind"]
    search_fields = ("trace_id", "item_id")


# MCP servers and agent capabilities register their admin pages in their own module.
from hosted_agents.capabilities import admin as _capabilities_admin  # noqa: E402, F401
