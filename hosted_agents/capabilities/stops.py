"""How a tripped guardrail ends a turn: the admin's message, the transcript's mark, the audit.

The user sees an assistant message with the guardrail's message. Right after it the thread
gets a hidden context item (never sent to the client; shown in the thread's admin page)
whose content names the guardrail: `{"guardrail": "input:pii", "stage": "input",
"details": {...}, "message_id": ...}`. That item is the transcript's mark; on the next
turn the model reads it as context, so it knows why the previous answer was withheld.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chatkit_core.store import Store
from chatkit_core.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    HiddenContextItem,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadStreamEvent,
)
from hosted_agents.capabilities.guardrails import GuardrailStop
from tenants.actors import Actor, ActorKind
from tenants.services.audit import audit_event_record

if TYPE_CHECKING:
    from hosted_agents.runtime import RequestContext, RunPlan

__all__ = ["guardrail_answer", "guardrail_audit"]


async def guardrail_answer(
    store: Store[Any], thread: ThreadMetadata, context: Any, stop: GuardrailStop
) -> AsyncIterator[ThreadStreamEvent]:
    """Yield the events that end a turn stopped by `stop`."""
    now = datetime.now(UTC)
    message = AssistantMessageItem(
        id=store.generate_item_id("message", thread, context),
        thread_id=thread.id,
        created_at=now,
        content=[AssistantMessageContent(text=stop.message)],
    )
    yield ThreadItemDoneEvent(item=message)
    mark = HiddenContextItem(
        id=store.generate_item_id("sdk_hidden_context", thread, context),
        thread_id=thread.id,
        created_at=now,
        content={
            "guardrail": stop.name,
            "stage": stop.stage,
            "details": stop.details,
            "message_id": message.id,
        },
    )
    yield ThreadItemDoneEvent(item=mark)


def guardrail_audit(plan: RunPlan, context: RequestContext, stop: GuardrailStop) -> None:
    """Record `agent.guardrail_tripped` (sync): which check, on what, never the text."""
    kind = ActorKind.API_KEY if context.api_key_id is not None else ActorKind.SYSTEM
    audit_event_record(
        tenant=plan.tenant,
        actor=Actor(kind=kind, label=context.actor_label, ip=context.ip),
        action="agent.guardrail_tripped",
        target=plan.agent,
        after={
            "guardrail": stop.name,
            "stage": stop.stage,
            "details": stop.details,
            "version": plan.version.number,
        },
    )
