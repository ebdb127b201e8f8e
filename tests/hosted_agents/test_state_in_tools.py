"""A client session's state variables in tools: code tools read them from the run context,
HTTP tool templates place them only where arguments may go."""

from __future__ import annotations

import json
from typing import Any

import pytest
from agents import RunContextWrapper
from channels.db import database_sync_to_async

from chatkit_core.agents import AgentContext
from hosted_agents.runtime import RequestContext
from hosted_agents.tools.http import fill_headers, fill_url, template_check_placeholders
from hosted_agents.tools.registry import code_tool
from tenants.models import ClientSession, Tenant
from tenants.services import client_session_create
from tests.hosted_agents.test_runtime import Chat, assistant_text
from tests.hosted_agents.test_runtime import openai_stub as openai_stub  # the fixture
from tests.hosted_agents.test_runtime_tools import agent_with_tools, tool_output_sent
from tests.support.openai_stub import FunctionCall, OpenAIStub

pytestmark = pytest.mark.django_db(transaction=True)

STATE_TOOL = "test_state_tier_lookup"


@code_tool(name=STATE_TOOL, description="Tell the customer's tier.")
def tier_lookup(ctx: RunContextWrapper[AgentContext[RequestContext]]) -> dict[str, Any]:
    state = ctx.context.request_context.state_variables
    return {"tier": state.get("tier"), "known": sorted(state)}


@database_sync_to_async
def session_of(tenant: Tenant, agent: Any, state: dict[str, Any]) -> ClientSession:
    issued = client_session_create(
        tenant=tenant, agent=agent, user="customer-1", workflow_ref=agent.slug,
        state_variables=state,
    )  # fmt: skip
    return (
        ClientSession.objects.for_tenant(tenant)
        .select_related("tenant", "agent")
        .get(public_id=issued.session.public_id)
    )


async def test_a_code_tool_reads_the_sessions_state_variables_from_the_run_context(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    agent = await agent_with_tools(acme, openai_stub.base_url, code_tools=[STATE_TOOL])
    session = await session_of(acme, agent, {"tier": "gold", "region": "eu"})
    context = RequestContext(
        tenant=acme, agent=agent, end_user_id="customer-1", client_session=session
    )
    call = FunctionCall(STATE_TOOL, {})
    openai_stub.add(call)
    openai_stub.add("You are gold.")

    events = await Chat(context).create("Which tier am I?")

    assert assistant_text(events) == "You are gold."
    assert json.loads(tool_output_sent(openai_stub, call)) == {
        "tier": "gold",
        "known": ["region", "tier"],
    }


def test_an_api_key_callers_context_has_no_state_variables(acme: Tenant) -> None:
    context = RequestContext(tenant=acme, agent=None, end_user_id="u")  # type: ignore[arg-type]

    assert context.state_variables == {}


def test_state_values_fill_a_url_one_encoded_segment_each() -> None:
    url, rest = fill_url(
        "https://api.example.com/a/{{ state.account }}/b?tier={{state.tier}}&id={id}",
        {"id": "7", "more": 1},
        {"account": "../x?y=1", "tier": 3},
    )

    assert url == "https://api.example.com/a/..%2Fx%3Fy%3D1/b?tier=3&id=7"
    assert rest == {"more": 1}


def test_a_literal_state_placeholder_is_kept_when_escaped() -> None:
    url, _ = fill_url("https://api.example.com/\\{{ state.x }}", {}, {"x": "v"})

    assert url == "https://api.example.com/{ state.x }"  # the braces then read as format's


def test_state_values_in_headers_cannot_add_a_header() -> None:
    headers = fill_headers(
        {"X-Customer": "id={{ state.id }}", "Authorization": "Bearer secret"},
        {"id": "1\r\nX-Admin: yes\u00e9"},
    )

    assert headers == {
        "X-Customer": "id=1%0D%0AX-Admin: yes%C3%A9",
        "Authorization": "Bearer secret",
    }


@pytest.mark.parametrize(
    "template",
    [
        "https://{{ state.host }}/items",
        "https://api.example.com{{ state.port }}/items",
        "https://api.example.com/items#{{ state.anchor }}",
    ],
)
def test_a_state_placeholder_where_no_argument_may_go_is_refused(template: str) -> None:
    with pytest.raises(ValueError):
        template_check_placeholders(template)


def test_a_state_placeholder_in_the_path_or_query_is_accepted() -> None:
    template_check_placeholders("https://api.example.com/a/{{ state.x }}?q={{ state.y }}")
