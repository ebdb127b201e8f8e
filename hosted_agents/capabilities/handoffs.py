"""Handoffs: an agent may hand the conversation to other agents of its tenant.

An agent's draft names them, `[{"agent_id": 7, "description": "Billing questions"}]`; each
must be a published agent of the same tenant (another tenant's agent answers like a missing
one). Publishing freezes each target's published version into the version:

    {"agent_id", "slug", "name", "description", "version", "tool_name", "config"}

`config` is the target version's own (instructions, model, model settings, tools; not its
capabilities, so handoffs do not chain and a cycle cannot form). The target runs on the
handing agent's provider, so it must name the same provider credential.

The model hands off by calling `tool_name` (`transfer_to_<slug>`); when a target answers, the
run adds a hidden context item after its answer, `{"answered_by": {"agent_id", "slug",
"name", "version"}, "message_ids": [...]}`: the transcript shows it on those messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agents import Agent as SdkAgent
from agents import Handoff, handoff

from chatkit_core.store import Store
from chatkit_core.types import (
    AssistantMessageItem,
    HiddenContextItem,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadStreamEvent,
)
from hosted_agents.demo_model import DEMO_MODEL_NAME
from hosted_agents.exceptions import InvalidInput
from hosted_agents.models import Agent

__all__ = [
    "HandoffAnswers",
    "handoff_build",
    "handoff_tool_name",
    "handoffs_freeze",
    "handoffs_normalize",
]

MAX_HANDOFFS = 10
MAX_DESCRIPTION = 500


def handoff_tool_name(slug: str) -> str:
    return "transfer_to_" + slug.replace("-", "_")


def handoffs_normalize(tenant_id: int, agent_id: int | None, value: Any) -> list[dict[str, Any]]:
    """Return the checked handoffs of a draft, or raise `InvalidInput`."""
    if not isinstance(value, list) or len(value) > MAX_HANDOFFS:
        raise InvalidInput("handoffs", f"must be a list of at most {MAX_HANDOFFS}")
    entries: list[dict[str, Any]] = []
    for entry in value:
        target = entry.get("agent_id") if isinstance(entry, dict) else None
        if not isinstance(target, int) or isinstance(target, bool):
            raise InvalidInput("handoffs", "each needs an agent_id")
        description = str(entry.get("description", "")).strip()
        if not 0 < len(description) <= MAX_DESCRIPTION:
            raise InvalidInput(
                "handoffs", f"each needs a description of when (1 to {MAX_DESCRIPTION} chars)"
            )
        entries.append({"agent_id": target, "description": description})
    ids: list[int] = [entry["agent_id"] for entry in entries]
    if len(set(ids)) != len(ids):
        raise InvalidInput("handoffs", "an agent is named twice")
    if agent_id in ids:
        raise InvalidInput("handoffs", "an agent cannot hand off to itself")
    found = {
        pk: (slug, published)
        for pk, slug, published in Agent.objects.for_tenant(tenant_id)
        .filter(pk__in=ids)
        .values_list("pk", "slug", "published_version_id")
    }
    for target in ids:
        if target not in found:
            raise InvalidInput("handoffs", f"no such agent: {target}")
        slug, published = found[target]
        if published is None:
            raise InvalidInput("handoffs", f"agent {slug} is not published: publish it first")
    return entries


def handoffs_freeze(agent: Agent, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the handoffs a version of `agent` freezes: each target's published version."""
    targets = {
        target.pk: target
        for target in Agent.objects.for_tenant(agent.tenant_id)
        .filter(pk__in=[entry["agent_id"] for entry in entries])
        .select_related("published_version")
    }
    frozen = []
    for entry in entries:
        target = targets[entry["agent_id"]]
        version = target.published_version
        assert version is not None  # checked by handoffs_normalize in this transaction
        config = {key: value for key, value in version.config.items() if key != "capabilities"}
        same_provider = config.get("provider_credential_id") == agent.provider_credential_id
        if not same_provider or (config.get("model") == DEMO_MODEL_NAME) != (
            agent.model == DEMO_MODEL_NAME
        ):
            raise InvalidInput(
                "handoffs",
                f"agent {target.slug} uses another provider: a handoff runs on this agent's "
                "provider, so both must name the same provider credential",
            )
        frozen.append(
            {
                "agent_id": target.pk,
                "slug": target.slug,
                "name": config.get("name") or target.name,
                "description": entry["description"],
                "version": version.number,
                "tool_name": handoff_tool_name(target.slug),
                "config": config,
            }
        )
    return frozen


def handoff_build(entry: dict[str, Any], target: SdkAgent[Any]) -> Handoff[Any, Any]:
    """Return the openai-agents handoff to `target`, built from a frozen entry."""
    return handoff(
        target,
        tool_name_override=entry["tool_name"],
        tool_description_override=entry["description"],
    )


@dataclass
class HandoffAnswers:
    """Which handoff target wrote which assistant message of a run."""

    targets: dict[int, dict[str, Any]] = field(default_factory=dict)  # id(SdkAgent): entry
    answered: dict[int, list[str]] = field(default_factory=dict)  # agent_id: message ids

    def see(self, event: ThreadStreamEvent, current_agent: Any) -> None:
        entry = self.targets.get(id(current_agent))
        if (
            entry is not None
            and isinstance(event, ThreadItemDoneEvent)
            and isinstance(event.item, AssistantMessageItem)
        ):
            self.answered.setdefault(entry["agent_id"], []).append(event.item.id)

    def marks(
        self, store: Store[Any], thread: ThreadMetadata, context: Any
    ) -> list[ThreadStreamEvent]:
        """Return the hidden items that name the agents who answered (none without one)."""
        entries = {entry["agent_id"]: entry for entry in self.targets.values()}
        marks: list[ThreadStreamEvent] = []
        for agent_id, message_ids in self.answered.items():
            entry = entries[agent_id]
            mark = HiddenContextItem(
                id=store.generate_item_id("sdk_hidden_context", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(UTC),
                content={
                    "answered_by": {
                        key: entry[key] for key in ("agent_id", "slug", "name", "version")
                    },
                    "message_ids": list(dict.fromkeys(message_ids)),
                },
            )
            marks.append(ThreadItemDoneEvent(item=mark))
        return marks
