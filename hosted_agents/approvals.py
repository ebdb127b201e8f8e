"""Tool calls that wait for the end user: the policy, the widget, and the decision.

The policy is per tool, in the agent's definition (`Agent.tool_approvals`, {name: "ask"}),
frozen into each tool entry of a version as `approval` ("ask" or "auto"). `approval_asked`
is the one hook the runtime reads when it builds a tool, for every kind: code and HTTP
tools (`tools_build` sets `FunctionTool.needs_approval`), and MCP tools, whose frozen
server entry lists the names that ask (`approval_tools`): `approval_asked(entry, name)`
answers for one of them, and `mcp_require_approval(entry)` is the `require_approval`
argument of openai-agents' MCP server classes. Every kind then pauses the same way.

Life of an approval:

1. a run calls a tool that asks: openai-agents stops the run with an interruption instead
   of calling it (`FunctionTool.needs_approval`);
2. the runtime shows the end user a widget (`approval_widget`: the tool, its arguments,
   Approve / Reject) and saves the run's `RunState` as a `PendingApproval`, in the turn's
   second hop;
   One approval covers every call the run stopped at (models may call tools in
   parallel): the card lists them all, and the decision applies to each;
3. an Approve or Reject click comes back as `threads.custom_action` (`APPROVAL_ACTION`) to
   any web process: `pending_approval_decide` claims the row (pending -> decided, exactly
   one row changed, so a second click is refused with `ApprovalDecided`) and audits it;
4. the runtime resumes the run from the saved state: the tool runs on Approve, and on
   Reject the model is told the call was refused (`REJECTION_MESSAGE`).
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Literal

from django.db import transaction
from django.utils import timezone

from chatkit_core.actions import ActionConfig
from chatkit_core.widgets import Button, Caption, Card, Markdown, Row, Text, Title
from hosted_agents.exceptions import ApprovalDecided, ObjectNotFound
from hosted_agents.models import PendingApproval
from tenants.actors import Actor
from tenants.models import Tenant
from tenants.services.audit import audit_event_record

__all__ = [
    "APPROVAL_ACTION",
    "APPROVAL_POLICIES",
    "REJECTION_MESSAGE",
    "Decision",
    "approval_asked",
    "approval_id_generate",
    "approval_widget",
    "mcp_require_approval",
    "pending_approval_decide",
]

APPROVAL_ACTION = "platform.approval"
APPROVAL_POLICIES = ("auto", "ask")
REJECTION_MESSAGE = "The user refused this tool call; it was not run. Do not retry it."
# Arguments are shown to the user up to this many characters.
MAX_SHOWN_ARGUMENTS = 2000

Decision = Literal["approve", "reject"]


def approval_asked(entry: dict[str, Any], tool_name: str | None = None) -> bool:
    """Return whether calls to the tool of a version's tool `entry` ask the end user first.

    `tool_name` names one tool of an entry that holds several (an MCP server's).
    """
    if entry.get("approval") == "ask":
        return True
    names = entry.get("approval_tools")
    return isinstance(names, list) and tool_name is not None and tool_name in names


def mcp_require_approval(entry: dict[str, Any]) -> dict[str, Literal["always", "never"]]:
    """Return an MCP server entry's policy as openai-agents' `require_approval` takes it."""
    names = [tool.get("name") for tool in entry.get("tools") or [] if isinstance(tool, dict)]
    return {
        str(name): "always" if approval_asked(entry, str(name)) else "never"
        for name in names
        if name
    }


def approval_id_generate() -> str:
    return "apr_" + secrets.token_hex(16)


def _arguments_text(arguments: Any) -> str:
    text = json.dumps(arguments, ensure_ascii=False, indent=2)
    if len(text) > MAX_SHOWN_ARGUMENTS:
        text = text[: MAX_SHOWN_ARGUMENTS - 1] + "…"
    return f"```json\n{text}\n```"


def approval_widget(
    approval_id: str, calls: list[dict[str, Any]], status: str = PendingApproval.Status.PENDING
) -> Card:
    """Return the card asking the end user about `calls`, or saying what they decided."""
    children: list[Any] = [Title(value="Approval needed", size="sm")]
    for call in calls:
        asked = f"The assistant wants to run {call['tool']}."
        children.append(Text(value=asked, weight="semibold"))
        children.append(Markdown(value=_arguments_text(call["arguments"])))
    if status == PendingApproval.Status.PENDING:
        buttons = [
            _button(approval_id, "approve", "Approve", "primary"),
            _button(approval_id, "reject", "Reject", "secondary"),
        ]
        children.append(Row(children=buttons, gap=2))
    else:
        said = "You approved this." if status == PendingApproval.Status.APPROVED else (
            "You rejected this; it was not run."
        )  # fmt: skip
        children.append(Caption(value=said))
    return Card(children=children)


def _button(
    approval_id: str, decision: Decision, label: str, style: Literal["primary", "secondary"]
) -> Button:
    payload = {"approval_id": approval_id, "decision": decision}
    action = ActionConfig(type=APPROVAL_ACTION, payload=payload)
    return Button(label=label, style=style, onClickAction=action)


@transaction.atomic
def pending_approval_decide(
    *,
    tenant: Tenant,
    thread_pk: int,
    approval_id: str,
    end_user_id: str,
    decision: Decision,
    actor: Actor,
) -> PendingApproval:
    """Record the end user's decision on a paused run; return the decided row (sync).

    Raise `ObjectNotFound` for an approval that is not this thread's and end user's (any
    tenant's), `ApprovalDecided` for one decided before: the claim is a conditional
    UPDATE, so two clicks in two processes resume the run once.
    """
    rows = PendingApproval.objects.for_tenant(tenant).filter(
        public_id=approval_id, thread_id=thread_pk, end_user_id=end_user_id
    )
    status = PendingApproval.Status.APPROVED if decision == "approve" else (
        PendingApproval.Status.REJECTED
    )  # fmt: skip
    now = timezone.now()
    claimed = rows.filter(status=PendingApproval.Status.PENDING).update(
        status=status, decided_at=now
    )
    approval = rows.select_related("thread").first()
    if approval is None:
        raise ObjectNotFound("approval", approval_id)
    if not claimed:
        raise ApprovalDecided(approval_id, approval.status)
    audit_event_record(
        tenant=tenant,
        actor=actor,
        action=f"tool_call.{status}",
        target=approval,
        after={
            "thread": approval.thread.public_id,
            "version": approval.agent_version,
            "calls": approval.calls,
        },
    )
    return approval
