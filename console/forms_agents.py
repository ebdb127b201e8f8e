"""Forms of the agents and tools sections: they parse and shape, the services decide.

Each form turns its fields into the keyword arguments of one service. What only a service
can know (a slug taken, a tool gone, a setting the model does not take) comes back as an
`InvalidInput` or `AlreadyExists`, which `add_domain_error` puts on the field it names.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from pydantic.fields import FieldInfo

from hosted_agents.models import KNOWN_MODELS, Agent, ClientTool, HttpTool, ModelSettingsSchema
from hosted_agents.models.tools import MAX_HTTP_RESPONSE_BYTES, MAX_HTTP_TIME_LIMIT_SECONDS
from hosted_agents.services import code_tool_choices
from hosted_agents.services.agents import MAX_STARTER_PROMPTS
from tenants.exceptions import AlreadyExists, DomainError, InvalidInput
from tenants.models import ProviderCredential, Tenant

__all__ = [
    "AgentForm",
    "ClientToolForm",
    "DuplicateForm",
    "HttpToolForm",
    "PublishForm",
    "TryToolForm",
    "add_domain_error",
    "json_object",
    "write_only_headers_field",
]

APPROVAL_CHOICES = [("auto", "Run automatically"), ("ask", "Ask the user")]
SLUG_HELP = "Lowercase letters, digits and hyphens; part of the endpoint URL, fixed once created."
# A service's field name -> the form field that shows its error.
_FIELD_OF = {
    "provider_credential_id": "provider_credential",
    "headers": "headers",
    "tools": "code_tools",
    "tool_approvals": "code_tools",
    "url_template": "url_template",
}


_SETTINGS = tuple(ModelSettingsSchema.model_fields)


def add_domain_error(form: forms.Form, error: DomainError) -> None:
    """Show a service's refusal on the field it names, or above the form."""
    if isinstance(error, AlreadyExists):
        taken = "slug" if "slug" in form.fields else "name"
        form.add_error(taken, f"{error.identifier} is taken: choose another.")
        return
    if isinstance(error, InvalidInput):
        name: str | None = _FIELD_OF.get(error.field, error.field)
        if error.field == "model_settings":  # the message names the setting
            name = next(
                (
                    key
                    for key in _SETTINGS
                    if key in error.message or key.replace("_", " ") in error.message
                ),
                None,
            )
        form.add_error(name if name in form.fields else None, error.message)
        return
    form.add_error(None, str(error))


def _bounds(name: str) -> dict[str, Any]:
    """Return the `min`/`max` of a model setting, read from the schema the services use."""
    info: FieldInfo = ModelSettingsSchema.model_fields[name]
    bounds: dict[str, Any] = {}
    for rule in info.metadata:
        if hasattr(rule, "ge"):
            bounds["min_value"] = rule.ge
        if hasattr(rule, "le"):
            bounds["max_value"] = rule.le
    return bounds


def _range_help(bounds: dict[str, Any], what: str) -> str:
    low, high = bounds["min_value"], bounds["max_value"]
    return f"{what} From {low:,} to {high:,}; empty: the model's default."


def _setting(field: type[forms.Field], name: str, what: str, step: str) -> forms.Field:
    bounds = _bounds(name)
    return field(
        required=False,
        help_text=_range_help(bounds, what),
        widget=forms.NumberInput(
            attrs={"step": step, "min": bounds["min_value"], "max": bounds["max_value"]}
        ),
        **bounds,
    )


class AgentForm(forms.Form):
    """The draft of an agent. `slug` only when creating."""

    slug = forms.SlugField(max_length=100, help_text=SLUG_HELP)
    name = forms.CharField(max_length=200)
    instructions = forms.CharField(
        required=False,
        max_length=100_000,
        widget=forms.Textarea(
            attrs={"rows": 12, "spellcheck": "false", "class": "instructions-input"}
        ),
        help_text="Use {{ state.name }} for a value of the client session's state variables.",
    )
    model = forms.CharField(
        max_length=200,
        widget=forms.TextInput(attrs={"list": "known-models", "autocomplete": "off"}),
        help_text="Pick a suggestion or type any model name your provider serves.",
    )
    provider_credential = forms.ChoiceField(
        required=False,
        help_text="Empty: the platform's provider if the operator set one, "
        "else the offline demo model.",
    )
    temperature = _setting(forms.FloatField, "temperature", "Randomness.", "0.1")
    top_p = _setting(forms.FloatField, "top_p", "Nucleus sampling.", "0.05")
    max_output_tokens = _setting(
        forms.IntegerField, "max_output_tokens", "Longest answer, in tokens.", "1"
    )
    tool_choice = forms.CharField(
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"list": "tool-choices", "autocomplete": "off"}),
        help_text="auto, required, none, or the name of one of the selected tools; empty: auto.",
    )
    parallel_tool_calls = forms.TypedChoiceField(
        required=False,
        choices=[("", "Model default"), ("true", "Allowed"), ("false", "One at a time")],
        coerce=lambda value: value == "true",
        empty_value=None,
    )
    reasoning_effort = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Model default"),
            ("minimal", "Minimal"),
            ("low", "Low"),
            ("medium", "Medium"),
            ("high", "High"),
        ],
        help_text="Reasoning models only (o-series, GPT-5).",
    )
    code_tools = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    http_tools = forms.TypedMultipleChoiceField(
        required=False, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    client_tools = forms.TypedMultipleChoiceField(
        required=False, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    greeting = forms.CharField(
        required=False, max_length=500, help_text="Shown before the first message."
    )
    starter_prompts = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=f"One per line, at most {MAX_STARTER_PROMPTS}, each up to 200 characters.",
    )

    SETTINGS = (
        "temperature",
        "top_p",
        "max_output_tokens",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning_effort",
    )

    def __init__(self, *args: Any, tenant: Tenant, creating: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not creating:
            del self.fields["slug"]
        credentials = ProviderCredential.objects.for_tenant(tenant).order_by("name")
        self._choices(
            "provider_credential",
            [("", "Platform default")]
            + [
                (str(c.pk), f"{c.name} ({c.get_kind_display()}, key {c.secret_hint})")
                for c in credentials
            ],
        )
        self._choices("code_tools", [(n, f"{n}: {d}") for n, d in code_tool_choices()])
        http = list(HttpTool.objects.for_tenant(tenant).order_by("name"))
        self._choices("http_tools", [(t.pk, t.name) for t in http])
        self.http_names = {t.pk: t.name for t in http}
        # One approval policy per tool the platform runs (client tools run in the browser).
        for name in dict.fromkeys([n for n, _ in code_tool_choices()] + [t.name for t in http]):
            self.fields[f"approval_{name}"] = forms.ChoiceField(
                required=False, choices=APPROVAL_CHOICES, label=f"Approval of {name}"
            )
        client = list(ClientTool.objects.for_tenant(tenant).order_by("name"))
        self._choices("client_tools", [(t.pk, t.name) for t in client])
        self.known_models = KNOWN_MODELS
        tool_names = [name for name, _ in code_tool_choices()]
        tool_names += [t.name for t in http] + [t.name for t in client]
        self.tool_choices = ["auto", "required", "none", *tool_names]

    def _choices(self, name: str, choices: list[tuple[Any, str]]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices

    @classmethod
    def initial_of(cls, agent: Agent) -> dict[str, Any]:
        settings = agent.model_settings
        parallel = settings.get("parallel_tool_calls")
        return {
            "name": agent.name,
            "instructions": agent.instructions,
            "model": agent.model,
            "provider_credential": str(agent.provider_credential_id or ""),
            **{name: settings.get(name) for name in cls.SETTINGS if name != "parallel_tool_calls"},
            "parallel_tool_calls": "" if parallel is None else ("true" if parallel else "false"),
            "code_tools": agent.code_tools,
            "http_tools": agent.http_tools,
            "client_tools": agent.client_tools,
            "greeting": agent.greeting,
            "starter_prompts": "\n".join(agent.starter_prompts),
            **{f"approval_{name}": policy for name, policy in agent.tool_approvals.items()},
        }

    def tool_picker(self) -> list[tuple[str, list[tuple[Any, forms.BoundField | None]]]]:
        """Return the code and HTTP tool checkboxes, each with its approval choice."""
        groups: list[tuple[str, list[tuple[Any, forms.BoundField | None]]]] = []
        for field, label in (("code_tools", "Code tools"), ("http_tools", "HTTP tools")):
            rows = []
            for box in self[field]:
                value = box.data["value"]
                name = self.http_names.get(value) if field == "http_tools" else str(value)
                rows.append((box, self[f"approval_{name}"] if name else None))
            if rows:
                groups.append((label, rows))
        return groups

    def clean_starter_prompts(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["starter_prompts"].splitlines()]
        prompts = [line for line in lines if line]
        if len(prompts) > MAX_STARTER_PROMPTS:
            raise forms.ValidationError(
                f"At most {MAX_STARTER_PROMPTS} prompts; this has {len(prompts)}."
            )
        long = [p for p in prompts if len(p) > 200]
        if long:
            raise forms.ValidationError(f"A prompt is longer than 200 characters: {long[0][:40]}…")
        return prompts

    def draft(self) -> dict[str, Any]:
        """Return the draft fields as the agent services take them."""
        data = self.cleaned_data
        settings = {name: data[name] for name in self.SETTINGS if data.get(name) not in (None, "")}
        credential = data["provider_credential"]
        return {
            "name": data["name"],
            "instructions": data["instructions"],
            "model": data["model"].strip(),
            "model_settings": settings,
            "provider_credential_id": int(credential) if credential else None,
            "code_tools": data["code_tools"],
            "http_tools": data["http_tools"],
            "client_tools": data["client_tools"],
            "tool_approvals": self._approvals(),
            "greeting": data["greeting"],
            "starter_prompts": data["starter_prompts"],
        }

    def _approvals(self) -> dict[str, str]:
        """Return "ask" for each selected code or HTTP tool that asks; "auto" is the default."""
        data = self.cleaned_data
        names = list(data["code_tools"]) + [self.http_names[pk] for pk in data["http_tools"]]
        return {name: "ask" for name in names if data.get(f"approval_{name}") == "ask"}


class PublishForm(forms.Form):
    note = forms.CharField(
        required=False,
        max_length=200,
        help_text="What changed, for the version history (optional).",
    )


class DuplicateForm(forms.Form):
    slug = forms.SlugField(max_length=100, help_text=SLUG_HELP)
    name = forms.CharField(max_length=200)


def json_object(value: str, what: str) -> dict[str, Any]:
    if not value.strip():
        return {}
    try:
        parsed = json.loads(value)
    except ValueError as error:
        raise forms.ValidationError(f"{what} is not valid JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise forms.ValidationError(f"{what} must be a JSON object, {{...}}.")
    return parsed


SCHEMA_HELP = (
    'A JSON schema of the arguments, {"type": "object", "properties": {...}}; empty: no arguments.'
)


def write_only_headers_field() -> forms.CharField:
    """Header values as a JSON object, write-only: new ones replace all, empty keeps them."""
    return forms.CharField(
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 3, "spellcheck": "false", "class": "code-input", "autocomplete": "off"}
        ),
        help_text='A JSON object such as {"Authorization": "Bearer ..."}. Stored encrypted and '
        "never shown again; leave empty to keep the current headers.",
    )


class _ToolForm(forms.Form):
    name = forms.CharField(
        max_length=64, help_text="What the model calls it: letters, digits, _ and -."
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The model reads this to decide when to call it.",
    )
    args_schema = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "code-input"}),
        help_text=SCHEMA_HELP,
    )

    def clean_args_schema(self) -> dict[str, Any]:
        return json_object(self.cleaned_data["args_schema"], "The schema")


class ClientToolForm(_ToolForm):
    def values(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class HttpToolForm(_ToolForm):
    method = forms.ChoiceField(choices=HttpTool.Method.choices)
    url_template = forms.CharField(
        max_length=2000,
        label="URL",
        help_text="{name} placeholders in the path or query come from arguments: https://api.example.com/orders/{order_id}",
    )
    headers = write_only_headers_field()
    clear_headers = forms.BooleanField(required=False, label="Remove all headers")
    time_limit_seconds = forms.FloatField(
        min_value=0.5,
        max_value=MAX_HTTP_TIME_LIMIT_SECONDS,
        initial=10.0,
        label="Time limit (seconds)",
    )
    max_response_bytes = forms.IntegerField(
        min_value=256,
        max_value=MAX_HTTP_RESPONSE_BYTES,
        initial=64 * 1024,
        label="Largest response (bytes)",
    )

    def clean_headers(self) -> dict[str, Any] | None:
        headers = json_object(self.cleaned_data["headers"], "The headers")
        if not all(isinstance(value, str) for value in headers.values()):
            raise forms.ValidationError("Each header value must be a string.")
        return headers or None

    def values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if data.pop("clear_headers"):
            data["headers"] = {}
        return data


class TryToolForm(forms.Form):
    arguments = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "class": "code-input"}),
        help_text="The arguments as the model would send them, a JSON object.",
    )

    def clean_arguments(self) -> dict[str, Any]:
        return json_object(self.cleaned_data["arguments"], "The arguments")
