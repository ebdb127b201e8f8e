"""Agent definitions: a mutable draft per agent and its immutable published versions.

The draft (`Agent`) is what the console edits. `agent_publish` freezes the whole draft,
with every selected tool resolved to its definition, into the next `AgentVersion`; the
endpoint serves only `Agent.published_version`, so editing the draft never changes what end
users talk to until the next publish.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal, NoReturn

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from pydantic import BaseModel, ConfigDict, Field

from hosted_agents.demo_model import DEMO_MODEL_LABEL, DEMO_MODEL_NAME
from hosted_agents.exceptions import ImmutableVersionError
from tenants.models import ProviderCredential, Tenant, TenantOwnedModel
from tenants.models.base import FrozenQuerySet
from tenants.scoping import TenantScopedManager

__all__ = [
    "DEFAULT_MODEL",
    "KNOWN_MODELS",
    "WORKFLOW_ID_PREFIX",
    "Agent",
    "AgentVersion",
    "ModelSettingsSchema",
    "model_takes_reasoning_effort",
    "workflow_id_generate",
]

# Offered in forms as suggestions; any other model name is accepted as free text.
KNOWN_MODELS: tuple[tuple[str, str], ...] = (
    (DEMO_MODEL_NAME, DEMO_MODEL_LABEL),
    ("gpt-4.1", "GPT-4.1"),
    ("gpt-4.1-mini", "GPT-4.1 mini"),
    ("gpt-4.1-nano", "GPT-4.1 nano"),
    ("gpt-4o", "GPT-4o"),
    ("gpt-4o-mini", "GPT-4o mini"),
    ("gpt-5", "GPT-5 (reasoning)"),
    ("gpt-5-mini", "GPT-5 mini (reasoning)"),
    ("o3", "o3 (reasoning)"),
    ("o4-mini", "o4-mini (reasoning)"),
)
# With no credential and no platform key the demo model answers whatever this says.
DEFAULT_MODEL = "gpt-4.1-mini"

_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")

WORKFLOW_ID_PREFIX = "wf_"


def workflow_id_generate() -> str:
    """Return a fresh workflow id, shaped like an Agent Builder one (`wf_` + 48 hex digits)."""
    return WORKFLOW_ID_PREFIX + secrets.token_hex(24)


def model_takes_reasoning_effort(model: str) -> bool:
    """Return whether `model` is a reasoning model, which accepts `reasoning_effort`."""
    name = model.strip().lower().rsplit("/", 1)[-1]  # "openai/o3" on some compatible gateways
    return name.startswith(_REASONING_PREFIXES)


class ModelSettingsSchema(BaseModel):
    """The model settings an agent may set; anything else is refused."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_output_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    # "auto", "required", "none", or the name of one of the agent's tools.
    tool_choice: str | None = Field(default=None, min_length=1, max_length=64)
    parallel_tool_calls: bool | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None


class Agent(TenantOwnedModel):
    """An agent's editable draft, and a pointer to the version the endpoint serves."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="agents")
    slug = models.SlugField(max_length=100)
    # What `workflow.id` names in the sessions API, besides the slug. A tenant may set it to
    # the id of the Agent Builder workflow this agent replaces, so its code keeps that id.
    # Not part of a version's config: like the slug, it names the agent, and changes at once.
    workflow_id = models.CharField(max_length=100, default=workflow_id_generate)
    name = models.CharField(max_length=200)
    instructions = models.TextField(blank=True, default="")
    model = models.CharField(max_length=200, default=DEFAULT_MODEL)
    # Validated by ModelSettingsSchema in the services; stored without None values.
    model_settings = models.JSONField(default=dict, blank=True)
    # None: the platform's OPENAI_API_KEY if the operator set one, else the demo model.
    provider_credential = models.ForeignKey(
        ProviderCredential,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="agents",
    )
    # Tool selection. Plain lists rather than many-to-many tables: related managers go
    # through the tenant-scoped default manager and refuse (see tenants/scoping.py).
    code_tools = models.JSONField(default=list, blank=True)  # registered tool names
    http_tools = models.JSONField(default=list, blank=True)  # HttpTool ids
    client_tools = models.JSONField(default=list, blank=True)  # ClientTool ids
    # {tool name: "ask"}: calls to these tools wait for the end user's approval; any other
    # tool runs automatically ("auto"). Frozen per tool into a version (`approval`).
    # db_default: a running older release inserts agents without this column.
    tool_approvals = models.JSONField(default=dict, blank=True, db_default={})
    # Browser origins allowed to call this agent's endpoint, instead of the tenant's when
    # not empty (patterns as for Tenant.allowed_origins). Not versioned: applies at once.
    allowed_origins = models.JSONField(default=list, blank=True)
    greeting = models.CharField(max_length=500, blank=True, default="")
    # Threads of this agent with no activity for this many days are deleted; None: the
    # tenant's policy. Not versioned: applies at once. The shorter of the two wins.
    retention_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    starter_prompts = models.JSONField(default=list, blank=True)
    published_version = models.ForeignKey(
        "AgentVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="agent_unique_slug"),
            models.UniqueConstraint(
                fields=["tenant", "workflow_id"], name="agent_unique_workflow_id"
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class AgentVersionQuerySet(FrozenQuerySet["AgentVersion"]):
    frozen_error = ImmutableVersionError
    # Deleting a user sets `created_by` to NULL (SET_NULL); nothing else may change.
    detachable_fields = frozenset({"created_by"})


class AgentVersion(TenantOwnedModel):
    """A frozen snapshot of an agent's whole configuration. Never changed once saved.

    `config` holds instructions, model, model settings, provider credential id, greeting,
    starter prompts and every tool resolved to its definition (see `agent_publish`); HTTP
    tools keep their header secrets in their own row and are read at call time.

    Neither `save()` on a saved version, `delete()`, nor the queryset of any manager (the
    base manager included) changes or deletes a version. A version goes only with its agent
    (CASCADE, through Django's deletion collector): deleting an agent removes its whole
    history, which `agent_delete` records in the audit trail first. A version is never
    deleted on its own, so an agent's history has no gaps.
    """

    # Denormalised from `agent` so that every query filters on the tenant directly.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="agent_versions")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    config = models.JSONField()
    # e.g. "rollback to version 2"
    note = models.CharField(max_length=200, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    # As every tenant-owned model, with the immutable queryset ([misc]: see AuditEvent).
    objects = TenantScopedManager.from_queryset(AgentVersionQuerySet)()  # type: ignore[misc]
    unscoped = models.Manager.from_queryset(AgentVersionQuerySet)()  # type: ignore[misc]

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "agent", "number"], name="agent_version_unique_number"
            ),
        ]
        ordering = ["agent_id", "-number"]
        # Django's own machinery (save, cascades, SET_NULL) uses the immutable queryset too.
        base_manager_name = "unscoped"

    def __str__(self) -> str:
        return f"{self.agent_id} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableVersionError(f"agent version {self.pk} cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ImmutableVersionError(f"agent version {self.pk} is deleted only with its agent")

    @property
    def model_name(self) -> str:
        return str(self.config.get("model", ""))
