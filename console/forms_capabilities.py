"""The capabilities part of the agent editor: MCP tools, guardrails, hosted tools, handoffs.

The form turns plain fields into the four values `agent_capabilities_set` takes (see
hosted_agents/capabilities/freeze.py for their shapes); the service checks them. Fields
are built per tenant: one choice per tool of each MCP server ("not offered", "run
automatically", "ask the user"), one checkbox and description per agent to hand off to.

The editor offers at most one check of each kind per stage. A draft set elsewhere (the
admin, the API) with two of a kind is shown merged: blocklists join their patterns, for
other kinds the first one counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django import forms

from hosted_agents.capabilities.guardrails import DEFAULT_GUARDRAIL_MESSAGE, PII_TYPES
from hosted_agents.models import Agent, AgentCapabilities, McpServer
from tenants.exceptions import InvalidInput

__all__ = ["CapabilitiesForm", "McpChoice", "McpGroup"]

STAGES = ("input", "output")
TOOL_USE = [("off", "Not offered"), ("auto", "Run automatically"), ("ask", "Ask the user")]
PII_LABELS = {
    "email": "E-mail addresses",
    "phone": "Phone numbers",
    "card": "Card numbers (Luhn-checked)",
    "iban": "IBANs (checksum-checked)",
}
JAILBREAK_MODEL = "gpt-4.1-nano"
CONTEXT_SIZES = [("low", "Low"), ("medium", "Medium"), ("high", "High")]
# A capability's field -> its section's anchor on the page (#capabilities-...) and name.
SECTIONS = {
    "mcp_servers": ("mcp", "MCP servers"),
    "guardrails": ("guardrails", "Guardrails"),
    "hosted_tools": ("hosted", "OpenAI's hosted tools"),
    "handoffs": ("handoffs", "Handoffs"),
}
EMPTY: dict[str, Any] = {"mcp_servers": [], "guardrails": {}, "handoffs": [], "hosted_tools": []}


@dataclass
class McpChoice:
    name: str
    description: str
    field: forms.BoundField
    listed: bool  # False: allowed in the draft, but the server's list no longer has it


@dataclass
class McpGroup:
    server: McpServer
    tools: list[McpChoice] = field(default_factory=list)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in re.split(r"[\n,]", text) if line.strip()]


def _stage_fields(stage: str) -> dict[str, forms.Field]:
    pii = [("", "Off"), ("block", "Block the message")]
    if stage == "input":
        pii.append(("redact", "Redact it before the model reads it"))
    return {
        f"{stage}_moderation": forms.BooleanField(
            required=False, label="Moderation (OpenAI's moderation endpoint)"
        ),
        f"{stage}_pii": forms.ChoiceField(required=False, choices=pii, label="Personal data"),
        f"{stage}_pii_types": forms.MultipleChoiceField(
            required=False,
            choices=list(PII_LABELS.items()),
            initial=list(PII_TYPES),
            widget=forms.CheckboxSelectMultiple,
            label="Kinds of personal data",
        ),
        f"{stage}_jailbreak": forms.BooleanField(
            required=False, label="Jailbreak and off-topic check (asks a small model)"
        ),
        f"{stage}_jailbreak_model": forms.CharField(
            required=False,
            max_length=200,
            initial=JAILBREAK_MODEL,
            label="Model of the check",
            help_text="A small model of the agent's provider.",
        ),
        f"{stage}_jailbreak_topic": forms.CharField(
            required=False,
            max_length=500,
            label="Topic",
            help_text="Anything not about this counts as off-topic; empty: jailbreaks only.",
        ),
        f"{stage}_blocklist": forms.CharField(
            required=False,
            widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "class": "code-input"}),
            label="Blocklist",
            help_text=r"One regular expression per line, such as (?i)\bpassword\b; empty: off.",
        ),
    }


class CapabilitiesForm(forms.Form):
    guardrail_message = forms.CharField(
        required=False,
        max_length=1000,
        initial=DEFAULT_GUARDRAIL_MESSAGE,
        label="Message when a check trips",
        help_text="Ends the turn as the assistant's answer.",
    )
    web_search = forms.BooleanField(required=False, label="Web search")
    web_search_context = forms.ChoiceField(
        required=False, choices=CONTEXT_SIZES, initial="medium", label="Search context size"
    )
    file_search = forms.BooleanField(required=False, label="File search")
    file_search_ids = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "class": "code-input"}),
        label="Vector store ids",
        help_text="Your OpenAI vector stores, vs_..., one per line.",
    )
    file_search_max = forms.IntegerField(
        required=False, label="Most results", help_text="1 to 50; empty: OpenAI's default."
    )
    code_interpreter = forms.BooleanField(required=False, label="Code interpreter")
    image_generation = forms.BooleanField(required=False, label="Image generation")

    def __init__(
        self,
        *args: Any,
        agent: Agent,
        servers: list[McpServer],
        agents: list[Agent],
        row: AgentCapabilities | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        for stage in STAGES:
            self.fields.update(_stage_fields(stage))
        allowed = {entry["server_id"]: entry for entry in (row.mcp_servers if row else [])}
        self.mcp_groups = [self._server(server, allowed.get(server.pk)) for server in servers]
        self.handoff_agents = [other for other in agents if other.pk != agent.pk]
        for other in self.handoff_agents:
            self.fields[f"handoff_{other.pk}"] = forms.BooleanField(
                required=False, label=other.name
            )
            self.fields[f"handoff_{other.pk}_description"] = forms.CharField(
                required=False, max_length=500, label=f"When to hand off to {other.name}"
            )
        self.section_errors: dict[str, list[str]] = {}
        self._initial_from(row)

    def _server(self, server: McpServer, entry: dict[str, Any] | None) -> McpGroup:
        group = McpGroup(server)
        listed = {tool["name"]: tool for tool in server.tools}
        names = list(listed) + [
            n for n in (entry or {}).get("allowed_tools", []) if n not in listed
        ]
        for name in names:
            key = f"mcp_{server.pk}_{name}"
            self.fields[key] = forms.ChoiceField(
                required=False, choices=TOOL_USE, initial="off", label=name
            )
            description = listed.get(name, {}).get("description", "")
            group.tools.append(McpChoice(name, description, self[key], name in listed))
        return group

    # ------------------------------------------------------------------- from the draft

    def _initial_from(self, row: AgentCapabilities | None) -> None:
        """Set the fields' initial values from the draft's capabilities row."""
        if row is None:
            return
        for entry in row.mcp_servers:
            for name in entry["allowed_tools"]:
                use = "ask" if name in entry["approval_tools"] else "auto"
                self.initial[f"mcp_{entry['server_id']}_{name}"] = use
        self._guardrails_initial(row.guardrails)
        for tool in row.hosted_tools:
            self.initial[tool["type"]] = True
            if tool["type"] == "web_search":
                self.initial["web_search_context"] = tool["search_context_size"]
            if tool["type"] == "file_search":
                self.initial["file_search_ids"] = "\n".join(tool["vector_store_ids"])
                self.initial["file_search_max"] = tool.get("max_num_results")
        for entry in row.handoffs:
            self.initial[f"handoff_{entry['agent_id']}"] = True
            self.initial[f"handoff_{entry['agent_id']}_description"] = entry["description"]

    def _guardrails_initial(self, guardrails: dict[str, Any]) -> None:
        if guardrails.get("message"):
            self.initial["guardrail_message"] = guardrails["message"]
        for stage in STAGES:
            patterns: list[str] = []
            seen: set[str] = set()
            for check in guardrails.get(stage, []):
                kind = check["kind"]
                if kind == "blocklist":
                    patterns += check["patterns"]
                elif kind in seen:
                    continue
                elif kind == "pii":
                    self.initial[f"{stage}_pii"] = check["action"]
                    self.initial[f"{stage}_pii_types"] = check["types"]
                elif kind == "jailbreak":
                    self.initial[f"{stage}_jailbreak"] = True
                    self.initial[f"{stage}_jailbreak_model"] = check["model"]
                    self.initial[f"{stage}_jailbreak_topic"] = check["topic"]
                elif kind == "moderation":
                    self.initial[f"{stage}_moderation"] = True
                seen.add(kind)
            if patterns:
                self.initial[f"{stage}_blocklist"] = "\n".join(patterns)

    # ------------------------------------------------------------------- to the service

    def values(self) -> dict[str, Any]:
        """Return the four capability values, shaped as `agent_capabilities_set` takes them."""
        return {
            "mcp_servers": self._mcp_servers(),
            "guardrails": self._guardrails(),
            "hosted_tools": self._hosted_tools(),
            "handoffs": self._handoffs(),
        }

    def changes(self, row: AgentCapabilities | None) -> dict[str, Any]:
        """Return the values that differ from the draft's (nothing to save: {})."""
        current = EMPTY if row is None else {key: getattr(row, key) for key in EMPTY}
        return {key: value for key, value in self.values().items() if value != current[key]}

    def _mcp_servers(self) -> list[dict[str, Any]]:
        selection = []
        for group in self.mcp_groups:
            uses = {choice.name: self.cleaned_data[choice.field.name] for choice in group.tools}
            allowed = [name for name, use in uses.items() if use in ("auto", "ask")]
            if allowed:
                ask = [name for name in allowed if uses[name] == "ask"]
                selection.append(
                    {"server_id": group.server.pk, "allowed_tools": allowed, "approval_tools": ask}
                )
        return selection

    def _guardrails(self) -> dict[str, Any]:
        data = self.cleaned_data
        checks: dict[str, list[dict[str, Any]]] = {}
        for stage in STAGES:
            stage_checks: list[dict[str, Any]] = []
            if data[f"{stage}_moderation"]:
                stage_checks.append({"kind": "moderation"})
            if data[f"{stage}_pii"]:
                stage_checks.append(
                    {
                        "kind": "pii",
                        "action": data[f"{stage}_pii"],
                        "types": data[f"{stage}_pii_types"],
                    }
                )
            if data[f"{stage}_jailbreak"]:
                model = data[f"{stage}_jailbreak_model"].strip()
                topic = data[f"{stage}_jailbreak_topic"].strip()
                stage_checks.append({"kind": "jailbreak", "model": model, "topic": topic})
            patterns = [line for line in data[f"{stage}_blocklist"].splitlines() if line.strip()]
            if patterns:
                stage_checks.append({"kind": "blocklist", "patterns": patterns})
            checks[stage] = stage_checks
        if not checks["input"] and not checks["output"]:
            return {}
        message = data["guardrail_message"].strip() or DEFAULT_GUARDRAIL_MESSAGE
        return {**checks, "message": message}

    def _hosted_tools(self) -> list[dict[str, Any]]:
        data = self.cleaned_data
        tools: list[dict[str, Any]] = []
        if data["web_search"]:
            size = data["web_search_context"] or "medium"
            tools.append({"type": "web_search", "search_context_size": size})
        if data["file_search"]:
            tool: dict[str, Any] = {
                "type": "file_search",
                "vector_store_ids": _lines(data["file_search_ids"]),
            }
            if data["file_search_max"] is not None:
                tool["max_num_results"] = data["file_search_max"]
            tools.append(tool)
        tools += [{"type": kind} for kind in ("code_interpreter", "image_generation") if data[kind]]
        return tools

    def _handoffs(self) -> list[dict[str, Any]]:
        return [
            {
                "agent_id": other.pk,
                "description": self.cleaned_data[f"handoff_{other.pk}_description"].strip(),
            }
            for other in self.handoff_agents
            if self.cleaned_data[f"handoff_{other.pk}"]
        ]

    # ------------------------------------------------------------------- bound pieces

    def stage(self, stage: str) -> dict[str, forms.BoundField]:
        """Return a stage's guardrail fields by their short name, for the template."""
        prefix = f"{stage}_"
        return {name[len(prefix) :]: self[name] for name in self.fields if name.startswith(prefix)}

    @property
    def input_checks(self) -> dict[str, forms.BoundField]:
        return self.stage("input")

    @property
    def output_checks(self) -> dict[str, forms.BoundField]:
        return self.stage("output")

    @property
    def handoff_rows(self) -> list[tuple[Agent, forms.BoundField, forms.BoundField]]:
        return [
            (other, self[f"handoff_{other.pk}"], self[f"handoff_{other.pk}_description"])
            for other in self.handoff_agents
        ]

    @property
    def error_sections(self) -> list[tuple[str, str]]:
        """Return the (anchor, label) of each section with an error, in the page's order."""
        return [
            (anchor, label)
            for field_name, (anchor, label) in SECTIONS.items()
            if field_name in self.section_errors
        ]

    def add_domain_error(self, error: InvalidInput) -> None:
        """Show a refusal of the capabilities service in the section it names."""
        self.section_errors.setdefault(error.field, []).append(error.message)
