"""The form of the MCP servers section: it parses, the capabilities services decide.

Header values are write-only, as for HTTP tools: the form takes new ones (replacing all of
them), or removes them all, and never holds the stored ones.
"""

from __future__ import annotations

from typing import Any

from django import forms

from console.forms_agents import json_object, write_only_headers_field
from hosted_agents.models import McpServer
from hosted_agents.models.capabilities import MAX_MCP_TIME_LIMIT_SECONDS

__all__ = ["McpServerForm"]


class McpServerForm(forms.Form):
    name = forms.CharField(
        max_length=64,
        help_text="Letters, digits, _ and -: how agents and the audit log name it.",
    )
    url = forms.CharField(
        max_length=2000,
        label="URL",
        help_text="The server's MCP endpoint, such as https://mcp.example.com/mcp. The platform "
        "connects through its outbound address policy: private addresses are refused unless "
        "the operator allows them.",
    )
    transport = forms.ChoiceField(
        choices=McpServer.Transport.choices,
        initial=McpServer.Transport.STREAMABLE_HTTP,
        help_text="Streamable HTTP for current servers; SSE for older ones.",
    )
    headers = write_only_headers_field()
    clear_headers = forms.BooleanField(required=False, label="Remove all headers")
    time_limit_seconds = forms.FloatField(
        min_value=0.5,
        max_value=MAX_MCP_TIME_LIMIT_SECONDS,
        initial=10.0,
        label="Time limit (seconds)",
        help_text="For each whole operation: connecting, listing the tools, one call.",
        widget=forms.NumberInput(attrs={"step": "0.5"}),
    )

    @classmethod
    def initial_of(cls, server: McpServer) -> dict[str, Any]:
        return {
            "name": server.name,
            "url": server.url,
            "transport": server.transport,
            "time_limit_seconds": server.time_limit_seconds,
        }

    def clean_headers(self) -> dict[str, Any] | None:
        headers = json_object(self.cleaned_data["headers"], "The headers")
        if not all(isinstance(value, str) for value in headers.values()):
            raise forms.ValidationError("Each header value must be a string.")
        return headers or None

    def values(self) -> dict[str, Any]:
        """Return the service's keyword arguments; `headers` None keeps the stored ones."""
        data = dict(self.cleaned_data)
        if data.pop("clear_headers"):
            data["headers"] = {}
        return data
