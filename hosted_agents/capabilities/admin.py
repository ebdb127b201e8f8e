"""The operators' admin for MCP servers and agents' capabilities (imported by
hosted_agents/admin.py). As there: every tenant's rows through `unscoped`, every change
through a service; header values are write-only."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

# hosted_agents.admin imports this module at its end, once these two are defined.
from hosted_agents.admin import WriteOnlyTextarea, parse_header_lines
from hosted_agents.capabilities import services
from hosted_agents.capabilities.freeze import (
    CAPABILITY_FIELDS,
    capabilities_normalize,
    provider_check,
)
from hosted_agents.exceptions import InvalidInput, ObjectNotFound
from hosted_agents.models import Agent, AgentCapabilities, McpServer
from tenants.admin import ModelForm, OperatorAdmin, request_actor


def _show_error(form: forms.ModelForm[Any], error: InvalidInput, renamed: dict[str, str]) -> None:
    name = renamed.get(error.field, error.field)
    form.add_error(name if name in form.fields else None, error.message)


class McpServerForm(ModelForm[McpServer]):
    new_headers = forms.CharField(
        label="Headers",
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text="One 'Name: value' per line, stored encrypted. Leave empty to keep the "
        "current headers. Never shown again.",
    )
    clear_headers = forms.BooleanField(required=False, label="Remove all headers")

    class Meta:
        model = McpServer
        fields = ["tenant", "name", "url", "transport", "time_limit_seconds"]

    def clean_new_headers(self) -> dict[str, str] | None:
        text = self.cleaned_data["new_headers"]
        return parse_header_lines(text) if text.strip() else None

    def _post_clean(self) -> None:
        super()._post_clean()
        if not self.errors:
            try:
                services.mcp_server_check(self.instance)
            except InvalidInput as error:
                _show_error(self, error, {"headers": "new_headers"})

    def header_changes(self) -> dict[str, str] | None:
        if self.cleaned_data.get("clear_headers"):
            return {}
        headers: dict[str, str] | None = self.cleaned_data.get("new_headers")
        return headers


@admin.register(McpServer)
class McpServerAdmin(OperatorAdmin[McpServer]):
    form = McpServerForm
    list_display = ("name", "tenant", "transport", "url", "tool_count", "tools_fetched_at")
    search_fields = ("name", "tenant__slug")
    actions = ["refresh_tools"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        shown = ("header_hints", "tool_list", "tools_fetched_at", "tools_error")
        return ("tenant", *shown) if obj is not None else ()

    @admin.display(description="tools")
    def tool_count(self, obj: McpServer) -> int:
        return len(obj.tools)

    @admin.display(description="tool list")
    def tool_list(self, obj: McpServer) -> str:
        if not obj.tools:
            return "None yet: use the action “Refresh the tool list”."
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><code>{}</code>: {} <small>{}</small></li>",
                (
                    (tool["name"], tool.get("description", ""), json.dumps(tool["input_schema"]))
                    for tool in obj.tools
                ),
            ),
        )

    def save_model(self, request: HttpRequest, obj: McpServer, form: Any, change: bool) -> None:
        values = {field: getattr(obj, field) for field in McpServerForm.Meta.fields[1:]}
        headers = form.header_changes()
        if change:
            services.mcp_server_update(
                tenant=obj.tenant, server_id=obj.pk, changes={**values, "headers": headers},
                actor=request_actor(request),
            )  # fmt: skip
            return
        created = services.mcp_server_create(
            tenant=obj.tenant, headers=headers, actor=request_actor(request),
            **values,
        )  # fmt: skip
        obj.pk, obj._state.adding = created.pk, False

    def delete_model(self, request: HttpRequest, obj: McpServer) -> None:
        services.mcp_server_delete(
            tenant=obj.tenant, server_id=obj.pk, actor=request_actor(request)
        )

    @admin.action(description="Refresh the tool list of the selected servers")
    def refresh_tools(self, request: HttpRequest, queryset: QuerySet[McpServer]) -> None:
        for server in queryset.select_related("tenant"):
            try:
                fresh = services.mcp_server_refresh_tools(
                    tenant=server.tenant, server_id=server.pk,
                    actor=request_actor(request),
                )  # fmt: skip
            except (InvalidInput, ObjectNotFound) as error:
                self.message_user(request, f"{server.name}: {error}", messages.ERROR)
                continue
            names = ", ".join(fresh.tool_names) or "no tools"
            self.message_user(request, f"{server.name}: {names}.")


class AgentCapabilitiesForm(ModelForm[AgentCapabilities]):
    # Declared here: the default would query through the tenant-scoped manager, which refuses.
    agent = forms.ModelChoiceField(queryset=Agent.unscoped.select_related("tenant"))

    class Meta:
        model = AgentCapabilities
        fields = ["tenant", "agent", *CAPABILITY_FIELDS]
        help_texts = {
            "mcp_servers": 'e.g. [{"server_id": 1, "allowed_tools": ["forecast"], '
            '"approval_tools": []}]',
            "guardrails": 'e.g. {"input": [{"kind": "pii", "action": "block"}], '
            '"message": "Sorry, I can\'t help with that."}',
            "handoffs": 'e.g. [{"agent_id": 7, "description": "Invoices and payments"}] '
            "(published agents of the same tenant)",
            "hosted_tools": 'e.g. [{"type": "web_search"}, {"type": "file_search", '
            '"vector_store_ids": ["vs_..."]}] (Responses API providers only)',
        }

    def _post_clean(self) -> None:
        super()._post_clean()
        agent = self.cleaned_data.get("agent")
        tenant = self.cleaned_data.get("tenant") or getattr(self.instance, "tenant", None)
        if agent is not None and tenant is not None and agent.tenant_id != tenant.pk:
            self.add_error("agent", "This agent belongs to another tenant.")
        elif not self.errors and tenant is not None:
            try:
                values = capabilities_normalize(tenant, self.instance, {})
                if agent is not None:
                    provider_check(agent, values)  # what the service checks too
            except InvalidInput as error:
                _show_error(self, error, {})


@admin.register(AgentCapabilities)
class AgentCapabilitiesAdmin(OperatorAdmin[AgentCapabilities]):
    form = AgentCapabilitiesForm
    list_display = ("agent", "tenant", "updated_at")
    list_select_related = ["tenant", "agent"]
    search_fields = ("agent__slug", "tenant__slug")
    actions = None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("tenant", "agent") if obj is not None else ()

    def save_model(
        self, request: HttpRequest, obj: AgentCapabilities, form: Any, change: bool
    ) -> None:
        changes = {field: getattr(obj, field) for field in CAPABILITY_FIELDS}
        saved = services.agent_capabilities_set(
            tenant=obj.tenant, agent_id=obj.agent_id, changes=changes,
            actor=request_actor(request),
        )  # fmt: skip
        obj.pk, obj._state.adding = saved.pk, False
