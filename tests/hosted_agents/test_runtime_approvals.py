"""Tool calls that ask the end user, through PlatformChatKitServer.process() on the stub.

Each decision is sent to a brand-new server (a new store, nothing in memory), as another
web process would receive it: the paused run lives only in the database.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async

from chatkit_core.store import NotFoundError
from hosted_agents.approvals import APPROVAL_ACTION, REJECTION_MESSAGE
from hosted_agents.models import Agent, PendingApproval, RunSpan
from hosted_agents.services import agent_update
from hosted_agents.tools.registry import code_tool
from tenants.admin_transcript import item_text
from tenants.models import Tenant
from tenants.services import tenant_set_status, thread_delete
from tests.hosted_agents.test_runtime import (
    assistant_text,
    audit_actions,
    chat_for,
    errors,
    kinds,
    make_credential,
    no_platform_key,
    openai_stub,
    publish,
    thread_id_of,
)
from tests.hosted_agents.test_runtime_tools import tool_output_sent
from tests.support.openai_stub import FunctionCall, OpenAIStub

pytestmark = pytest.mark.django_db(transaction=True)

REFUNDS: list[dict[str, Any]] = []


@code_tool("test_refund", description="Refund an order (a test tool that records its calls).")
def refund_tool(order: str, amount: int) -> dict[str, Any]:
    REFUNDS.append({"order": order, "amount": amount})
    return {"refunded": amount, "order": order}


@pytest.fixture(autouse=True)
def no_refunds() -> None:
    REFUNDS.clear()


@database_sync_to_async
def asking_agent(tenant: Tenant, base_url: str) -> Agent:
    credential = make_credential(tenant, base_url)
    return publish(
        tenant,
        model="gpt-4.1",
        provider_credential_id=credential.pk,
        code_tools=["test_refund", "calculator"],
        tool_approvals={"test_refund": "ask", "calculator": "auto"},
    )


def approval_widget_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    [item] = [
        e["item"] for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "widget"
    ]  # fmt: skip
    return dict(item)


def buttons(widget_item: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Button":
                found[node["label"]] = node["onClickAction"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(widget_item["widget"])
    return found


async def click(
    agent: Agent, thread_id: str, widget: dict[str, Any], label: str, end_user: str = "end-user-1"
) -> list[dict[str, Any]]:
    action = buttons(widget)[label]
    fresh = chat_for(agent, end_user=end_user)  # another process: a new server and store
    return await fresh.stream(
        "threads.custom_action",
        thread_id=thread_id,
        item_id=widget["id"],
        action={"type": action["type"], "payload": action["payload"]},
    )


async def paused_turn(agent: Agent, stub: OpenAIStub) -> tuple[str, dict[str, Any], FunctionCall]:
    call = FunctionCall("test_refund", {"order": "A-17", "amount": 30})
    stub.add(call)
    events = await chat_for(agent).create("Refund order A-17, 30 euros")
    return thread_id_of(events), approval_widget_of(events), call


async def test_a_tool_that_asks_pauses_the_run_with_a_widget_and_a_saved_state(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    agent = await asking_agent(acme, openai_stub.base_url)

    _, widget, call = await paused_turn(agent, openai_stub)

    assert REFUNDS == []  # not run
    assert len(openai_stub.requests) == 1
    text = json.dumps(widget["widget"])
    assert "test_refund" in text and "A-17" in text
    assert set(buttons(widget)) == {"Approve", "Reject"}
    assert buttons(widget)["Approve"]["type"] == APPROVAL_ACTION
    [approval] = await database_sync_to_async(list)(PendingApproval.objects.for_tenant(acme))
    assert (approval.status, approval.widget_item_id, approval.agent_version) == (
        "pending",
        widget["id"],
        1,
    )
    assert approval.calls == [
        {
            "call_id": call.call_id,
            "tool": "test_refund",
            "arguments": {"order": "A-17", "amount": 30},
        }
    ]
    assert approval.state  # the serialized run state


async def test_approve_in_another_process_runs_the_tool_once_and_finishes_the_answer(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    agent = await asking_agent(acme, openai_stub.base_url)
    thread_id, widget, call = await paused_turn(agent, openai_stub)
    openai_stub.add("Refunded 30 euros for A-17.")

    events = await click(agent, thread_id, widget, "Approve")

    assert errors(events) == []
    assert REFUNDS == [{"order": "A-17", "amount": 30}]
    assert json.loads(tool_output_sent(openai_stub, call)) == {"refunded": 30, "order": "A-17"}
    assert assistant_text(events) == "Refunded 30 euros for A-17."
    [replaced] = [e["item"] for e in events if e["type"] == "thread.item.replaced"]
    assert "Approve" not in json.dumps(replaced["widget"])
    assert "You approved this." in json.dumps(replaced["widget"])
    [approved] = await audit_actions(acme, "tool_call.approved")
    assert approved.after["calls"][0]["tool"] == "test_refund"
    stored = await chat_for(agent).items(thread_id)
    assert [item["type"] for item in stored] == ["user_message", "widget", "assistant_message"]
    # The resumed run has its own trace, linked to its answer: the tool ran in it.
    answer = stored[2]["id"]
    spans = await database_sync_to_async(list)(
        RunSpan.objects.for_tenant(acme).filter(item_id=answer, kind="tool")
    )
    assert [(span.name, json.loads(span.data["result"])) for span in spans] == [
        ("test_refund", {"refunded": 30, "order": "A-17"})
    ]
    # The transcript (the item data, and the admin's text of it) says what was decided.
    transcript = item_text("widget", stored[1])
    assert "test_refund" in transcript and "You approved this." in transcript

    again = await click(agent, thread_id, widget, "Approve")

    assert kinds(again)[-1] == "error"
    assert "already answered" in errors(again)[0]["message"]
    assert REFUNDS == [{"order": "A-17", "amount": 30}]  # still once
    assert len(openai_stub.requests) == 2


async def test_reject_tells_the_model_the_call_was_refused(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    agent = await asking_agent(acme, openai_stub.base_url)
    thread_id, widget, call = await paused_turn(agent, openai_stub)
    openai_stub.add("Understood, no refund.")

    events = await click(agent, thread_id, widget, "Reject")

    assert assistant_text(events) == "Understood, no refund."
    assert REFUNDS == []
    assert tool_output_sent(openai_stub, call) == REJECTION_MESSAGE
    assert len(await audit_actions(acme, "tool_call.rejected")) == 1
    approval = await database_sync_to_async(PendingApproval.objects.for_tenant(acme).get)()
    assert approval.status == "rejected"


async def test_another_end_user_or_tenant_cannot_decide(
    acme: Tenant, globex: Tenant, openai_stub: OpenAIStub
) -> None:
    agent = await asking_agent(acme, openai_stub.base_url)
    thread_id, widget, _ = await paused_turn(agent, openai_stub)
    intruder = await database_sync_to_async(publish)(globex)

    with pytest.raises(NotFoundError):
        await click(agent, thread_id, widget, "Approve", end_user="someone-else")
    with pytest.raises(NotFoundError):
        await click(intruder, thread_id, widget, "Approve")

    approval = await database_sync_to_async(PendingApproval.objects.for_tenant(acme).get)()
    assert approval.status == "pending"
    assert REFUNDS == []


async def test_a_forged_approval_id_is_refused_with_a_clear_error(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    agent = await asking_agent(acme, openai_stub.base_url)
    thread_id, widget, _ = await paused_turn(agent, openai_stub)
    action = buttons(widget)["Approve"]

    events = await chat_for(agent).stream(
        "threads.custom_action",
        thread_id=thread_id,
        item_id=widget["id"],
        action={"type": action["type"], "payload": {"approval_id": "apr_x", "decision": "approve"}},
    )

    assert errors(events)[0]["message"] == "This approval request does not exist."
    assert REFUNDS == []


async def test_a_decision_on_a_suspended_workspace_is_refused_and_stays_pending(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    agent = await asking_agent(acme, openai_stub.base_url)
    thread_id, widget, _ = await paused_turn(agent, openai_stub)
    await database_sync_to_async(tenant_set_status)(tenant=acme, status="suspended")
    agent.tenant.status = "suspended"  # as authentication would read it

    events = await click(agent, thread_id, widget, "Approve")

    assert "suspended" in errors(events)[0]["message"]
    approval = await database_sync_to_async(PendingApproval.objects.for_tenant(acme).get)()
    assert approval.status == "pending"
    assert await audit_actions(acme, "tool_call.approved") == []
    assert REFUNDS == []


async def test_a_paused_run_goes_with_its_thread(acme: Tenant, openai_stub: OpenAIStub) -> None:
    agent = await asking_agent(acme, openai_stub.base_url)
    thread_id, _, _ = await paused_turn(agent, openai_stub)

    await database_sync_to_async(thread_delete)(tenant=acme, thread_id=thread_id)

    assert not await database_sync_to_async(PendingApproval.objects.for_tenant(acme).exists)()


def test_a_client_tool_cannot_ask_for_approval(acme: Tenant) -> None:
    from hosted_agents.exceptions import InvalidInput
    from hosted_agents.services import agent_create

    agent = agent_create(tenant=acme, slug="a", name="A", code_tools=["calculator"])
    with pytest.raises(InvalidInput, match="no such selected tool"):
        agent_update(tenant=acme, agent_id=agent.pk, changes={"tool_approvals": {"weather": "ask"}})
    with pytest.raises(InvalidInput, match="auto"):
        agent_update(
            tenant=acme, agent_id=agent.pk, changes={"tool_approvals": {"calculator": "maybe"}}
        )


_ = (no_platform_key, openai_stub)  # fixtures shared with test_runtime.py


def test_an_mcp_servers_approval_list_is_read_by_the_same_hook() -> None:
    from hosted_agents.approvals import approval_asked, mcp_require_approval

    entry = {
        "name": "bookings",
        "tools": [{"name": "search"}, {"name": "book"}],
        "approval_tools": ["book"],
    }

    assert (approval_asked(entry, "book"), approval_asked(entry, "search")) == (True, False)
    assert mcp_require_approval(entry) == {"search": "never", "book": "always"}
    assert approval_asked({"kind": "http", "name": "refund", "approval": "ask"})


@database_sync_to_async
def playground_context(tenant: Tenant, base_url: str, *, tracing: bool = True) -> Any:
    from hosted_agents.runtime import RequestContext
    from hosted_agents.services import agent_create
    from tenants.services.client_sessions import client_session_create

    credential = make_credential(tenant, base_url)
    agent = agent_create(
        tenant=tenant, slug="draft", name="Draft", model="gpt-4.1",
        provider_credential_id=credential.pk, code_tools=["test_refund"],
        tool_approvals={"test_refund": "ask"},
    )  # fmt: skip
    issued = client_session_create(
        tenant=tenant, agent=agent, user="admin-1", workflow_ref="draft", serves_draft=True,
        tracing_enabled=tracing,
    )  # fmt: skip
    return RequestContext(
        tenant=tenant, agent=agent, end_user_id="admin-1", client_session=issued.session
    )


async def test_the_playgrounds_draft_pauses_and_resumes_too_and_a_session_may_turn_traces_off(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    from tests.hosted_agents.test_runtime import Chat

    context = await playground_context(acme, openai_stub.base_url, tracing=False)
    openai_stub.add(FunctionCall("test_refund", {"order": "B-2", "amount": 5}))
    openai_stub.add("Done.")
    events = await Chat(context).create("Refund B-2")
    widget = approval_widget_of(events)
    action = buttons(widget)["Approve"]

    answer = await Chat(context).stream(
        "threads.custom_action", thread_id=thread_id_of(events), item_id=widget["id"],
        action={"type": action["type"], "payload": action["payload"]},
    )  # fmt: skip

    assert assistant_text(answer) == "Done."
    assert REFUNDS == [{"order": "B-2", "amount": 5}]
    assert not await database_sync_to_async(RunSpan.objects.for_tenant(acme).exists)()
