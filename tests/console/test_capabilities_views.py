"""The capabilities of an agent's draft in the console's editor: MCP tools and their
approvals, code and HTTP tool approvals, guardrails, OpenAI's hosted tools and handoffs,
saved through the domain's services (their refusals shown in the section they name, with
nothing written), then shown on the agent's page, its versions and their diff."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from django.urls import reverse

from console.views.agents_diff import config_field_diffs
from hosted_agents.capabilities.services import (
    agent_capabilities_set,
    mcp_server_create,
    mcp_server_refresh_tools,
)
from hosted_agents.models import Agent, AgentCapabilities, AgentVersion, McpServer
from hosted_agents.services import agent_create, agent_publish, agent_update
from tenants.models import AuditEvent, ProviderCredential, Tenant
from tenants.services.provider_credentials import provider_credential_create
from tests.hosted_agents.capabilities.conftest import LoopbackMcp, loopback_mcp, mcp_transport

__all__ = ["loopback_mcp", "mcp_transport"]

pytestmark = pytest.mark.django_db


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"console:{name}", kwargs={"tenant": "acme", **kwargs})


@pytest.fixture
def admin(acme_admin: AbstractBaseUser) -> Client:
    client = Client()
    client.force_login(acme_admin)
    return client


@pytest.fixture
def weather(acme: Tenant, loopback_mcp: LoopbackMcp) -> McpServer:
    server = mcp_server_create(tenant=acme, name="weather", url=loopback_mcp.url())
    return mcp_server_refresh_tools(tenant=acme, server_id=server.pk)


@pytest.fixture
def openai(acme: Tenant) -> ProviderCredential:
    return provider_credential_create(
        tenant=acme, name="openai", kind="openai", secret="sk-test-0123456789abcdef"
    )


@pytest.fixture
def helper(acme: Tenant, openai: ProviderCredential) -> Agent:
    return agent_create(
        tenant=acme, slug="helper", name="Helper", model="gpt-4.1-mini",
        provider_credential_id=openai.pk, code_tools=["calculator"],
    )  # fmt: skip


def edit_form(agent: Agent, **fields: Any) -> dict[str, Any]:
    """The editor's fields as a browser sends them for an unchanged draft, plus `fields`."""
    data: dict[str, Any] = {
        "name": agent.name,
        "instructions": agent.instructions,
        "model": agent.model,
        "provider_credential": str(agent.provider_credential_id or ""),
        "code_tools": agent.code_tools,
        "http_tools": agent.http_tools,
        "client_tools": agent.client_tools,
        "greeting": agent.greeting,
        "starter_prompts": "\n".join(agent.starter_prompts),
        "guardrail_message": "Sorry, I can't help with that.",
        "input_pii_types": ["email", "phone", "card", "iban"],
        "output_pii_types": ["email", "phone", "card", "iban"],
        "input_jailbreak_model": "gpt-4.1-nano",
        "output_jailbreak_model": "gpt-4.1-nano",
        "web_search_context": "medium",
    }
    data.update(fields)
    return data


def capabilities_of(tenant: Tenant, agent: Agent) -> AgentCapabilities | None:
    return AgentCapabilities.objects.for_tenant(tenant).filter(agent_id=agent.pk).first()


def section_errors(response: Any, section: str) -> str:
    return " ".join(response.context["capabilities"].section_errors.get(section, []))


# --------------------------------------------------------------------------- the editor


def test_the_editor_offers_each_capability(
    admin: Client, acme: Tenant, helper: Agent, weather: McpServer
) -> None:
    agent_create(tenant=acme, slug="billing", name="Billing")

    page = admin.get(url("agent_edit", agent="helper")).content.decode()

    tools = page.split('data-mcp-server="weather"')[1].split("</table>")[0]
    assert 'data-mcp-tool="forecast"' in tools and 'data-mcp-tool="delete_everything"' in tools
    assert f'name="mcp_{weather.pk}_forecast"' in tools
    assert '<option value="ask">Ask the user</option>' in tools
    assert 'name="approval_calculator"' in page  # a code tool's approval policy
    assert 'name="input_pii"' in page and 'name="output_blocklist"' in page
    assert 'value="redact"' not in page.split('name="output_pii"')[1].split("</select>")[0]
    assert 'name="web_search"' in page and 'name="file_search_ids"' in page
    assert 'data-handoff="billing"' in page and "not published" in page
    assert 'data-handoff="helper"' not in page  # not to itself
    assert "data-provider-refusal" not in page  # OpenAI, on the Responses API


def test_mcp_tools_are_allowed_and_asked_for_per_tool(
    admin: Client, acme: Tenant, helper: Agent, weather: McpServer
) -> None:
    response = admin.post(
        url("agent_edit", agent="helper"),
        edit_form(helper, **{f"mcp_{weather.pk}_forecast": "ask"}),
    )

    assert response.status_code == 302, response.context and response.context["capabilities"]
    row = capabilities_of(acme, helper)
    assert row is not None
    assert row.mcp_servers == [
        {"server_id": weather.pk, "allowed_tools": ["forecast"], "approval_tools": ["forecast"]}
    ]
    event = AuditEvent.objects.for_tenant(acme).get(action="agent.set_capabilities")
    assert event.after["mcp_servers"] == row.mcp_servers
    page = admin.get(url("agent_edit", agent="helper")).content.decode()
    chosen = page.split(f'name="mcp_{weather.pk}_forecast"')[1].split("</select>")[0]
    assert '<option value="ask" selected>' in chosen


def test_code_and_http_tools_ask_only_while_selected(
    admin: Client, acme: Tenant, helper: Agent
) -> None:
    response = admin.post(
        url("agent_edit", agent="helper"),
        edit_form(
            helper,
            code_tools=["calculator", "current_time"],
            approval_calculator="ask",
            approval_show_table="ask",  # not selected: no policy
        ),
    )

    assert response.status_code == 302
    helper.refresh_from_db()
    assert helper.tool_approvals == {"calculator": "ask"}
    # Dropping a tool that asks drops its policy with it, instead of refusing the save.
    response = admin.post(
        url("agent_edit", agent="helper"),
        edit_form(helper, code_tools=["current_time"], approval_calculator="ask"),
    )
    assert response.status_code == 302
    helper.refresh_from_db()
    assert helper.tool_approvals == {}


def test_guardrails_are_saved_with_their_settings(
    admin: Client, acme: Tenant, helper: Agent
) -> None:
    response = admin.post(
        url("agent_edit", agent="helper"),
        edit_form(
            helper,
            input_pii="redact",
            input_pii_types=["email", "card"],
            input_jailbreak="on",
            input_jailbreak_topic="our cloud product",
            output_moderation="on",
            output_blocklist="(?i)\\bpassword\\b\n\n  \nsecret-\\d+",
            guardrail_message="I can't go there.",
        ),
    )

    assert response.status_code == 302
    row = capabilities_of(acme, helper)
    assert row is not None
    assert row.guardrails == {
        "input": [
            {"kind": "pii", "action": "redact", "types": ["email", "card"]},
            {"kind": "jailbreak", "model": "gpt-4.1-nano", "topic": "our cloud product"},
        ],
        "output": [
            {"kind": "moderation"},
            {"kind": "blocklist", "patterns": ["(?i)\\bpassword\\b", "secret-\\d+"]},
        ],
        "message": "I can't go there.",
    }
    page = admin.get(url("agent", agent="helper")).content.decode()
    shown = page.split('class="shown-guardrails"')[1].split("</dd>")[0]
    assert "Personal data (e-mail, card numbers): redact" in shown
    assert "Jailbreak check with gpt-4.1-nano; off-topic: not about our cloud product" in shown
    assert "<code>secret-\\d+</code>" in shown and "I can&#x27;t go there." in shown


@pytest.mark.parametrize(
    ("fields", "section", "message"),
    [
        ({"output_blocklist": "(unclosed"}, "guardrails", "bad pattern '(unclosed'"),
        ({"input_pii": "block", "input_pii_types": []}, "guardrails", "pii types must be"),
        ({"input_jailbreak": "on", "input_jailbreak_model": " "}, "guardrails", "model name"),
        ({"file_search": "on", "file_search_ids": ""}, "hosted_tools", "vector store ids"),
        (
            {"file_search": "on", "file_search_ids": "vs_1", "file_search_max": "99"},
            "hosted_tools",
            "max_num_results must be 1 to 50",
        ),
        ({"file_search": "on", "file_search_ids": "not/an id"}, "hosted_tools", "vector store"),
    ],
)
def test_bad_capabilities_are_refused_in_their_section_and_nothing_is_written(
    admin: Client, acme: Tenant, helper: Agent, fields: dict[str, Any], section: str, message: str
) -> None:
    response = admin.post(
        url("agent_edit", agent="helper"), edit_form(helper, name="Renamed", **fields)
    )

    assert response.status_code == 400
    assert message in section_errors(response, section)
    page = response.content.decode()
    assert message.replace("'", "&#x27;") in page.split(f'data-section="{section}"')[1]
    summary = page.split('class="form-errors capabilities-summary"')[1].split("</div>")[0]
    assert f'href="#capabilities-{section.split("_")[0]}"' in summary
    helper.refresh_from_db()
    assert helper.name == "Helper"  # the draft's own change went back with the refusal
    assert capabilities_of(acme, helper) is None
    assert (
        not AuditEvent.objects.for_tenant(acme)
        .filter(action__startswith="agent.")
        .exclude(action="agent.create")
    )


def test_hosted_tools_are_refused_for_a_provider_that_cannot_run_them(
    admin: Client, acme: Tenant
) -> None:
    agent = agent_create(tenant=acme, slug="offline", name="Offline", model="demo")

    page = admin.get(url("agent_edit", agent="offline")).content.decode()
    hint = page.split("data-provider-refusal>")[1].split("</p>")[0]
    assert "this agent uses the offline demo model" in hint
    response = admin.post(
        url("agent_edit", agent="offline"), edit_form(agent, web_search="on", code_interpreter="on")
    )

    assert response.status_code == 400
    refusal = section_errors(response, "hosted_tools")
    assert "web_search, code_interpreter: OpenAI's hosted tools need a provider" in refusal
    assert "the offline demo model" in refusal
    assert capabilities_of(acme, agent) is None


def test_hosted_tools_are_saved_for_an_openai_provider(
    admin: Client, acme: Tenant, helper: Agent
) -> None:
    response = admin.post(
        url("agent_edit", agent="helper"),
        edit_form(
            helper,
            web_search="on",
            web_search_context="high",
            file_search="on",
            file_search_ids="vs_abc\nvs_def, vs_abc",
            file_search_max="5",
            image_generation="on",
        ),
    )

    assert response.status_code == 302
    row = capabilities_of(acme, helper)
    assert row is not None
    assert row.hosted_tools == [
        {"type": "web_search", "search_context_size": "high"},
        {"type": "file_search", "vector_store_ids": ["vs_abc", "vs_def"], "max_num_results": 5},
        {"type": "image_generation"},
    ]


def test_a_publish_the_provider_cannot_serve_is_refused_clearly(
    admin: Client, acme: Tenant, helper: Agent
) -> None:
    agent_capabilities_set(
        tenant=acme, agent_id=helper.pk, changes={"hosted_tools": [{"type": "web_search"}]}
    )
    agent_update(
        tenant=acme, agent_id=helper.pk,
        changes={"model": "demo", "provider_credential_id": None},
    )  # fmt: skip

    response = admin.post(url("agent_publish", agent="helper"), {"note": "offline now"})

    assert response.status_code == 400
    page = response.content.decode()
    assert "Cannot publish: hosted tools: web_search: OpenAI&#x27;s hosted tools need" in page
    assert not AgentVersion.objects.for_tenant(acme).filter(agent_id=helper.pk).exists()


def test_handoffs_go_to_published_agents_of_the_tenant(
    admin: Client, acme: Tenant, helper: Agent, openai: ProviderCredential
) -> None:
    billing = agent_create(
        tenant=acme, slug="billing", name="Billing", model="gpt-4.1-mini",
        provider_credential_id=openai.pk,
    )  # fmt: skip
    draft_only = agent_create(tenant=acme, slug="drafty", name="Drafty")
    field = f"handoff_{billing.pk}"

    refused = admin.post(
        url("agent_edit", agent="helper"),
        edit_form(helper, **{field: "on", f"{field}_description": "Invoices"}),
    )
    assert refused.status_code == 400
    assert "agent billing is not published: publish it first" in section_errors(refused, "handoffs")
    agent_publish(tenant=acme, agent_id=billing.pk)
    undescribed = admin.post(url("agent_edit", agent="helper"), edit_form(helper, **{field: "on"}))
    assert "needs a description" in section_errors(undescribed, "handoffs")

    saved = admin.post(
        url("agent_edit", agent="helper"),
        edit_form(helper, **{field: "on", f"{field}_description": " Invoices and refunds "}),
    )

    assert saved.status_code == 302
    row = capabilities_of(acme, helper)
    assert row is not None
    assert row.handoffs == [{"agent_id": billing.pk, "description": "Invoices and refunds"}]
    assert draft_only.pk not in [entry["agent_id"] for entry in row.handoffs]


def test_an_unchanged_editor_saves_nothing(admin: Client, acme: Tenant, helper: Agent) -> None:
    response = admin.post(url("agent_edit", agent="helper"), edit_form(helper), follow=True)

    assert [str(m) for m in response.context["messages"]] == ["Nothing changed."]
    assert capabilities_of(acme, helper) is None
    assert not AuditEvent.objects.for_tenant(acme).filter(action="agent.set_capabilities")


def test_another_tenants_servers_and_agents_cannot_be_named(
    admin: Client, acme: Tenant, globex: Tenant, helper: Agent, loopback_mcp: LoopbackMcp
) -> None:
    theirs = mcp_server_create(tenant=globex, name="weather", url=loopback_mcp.url())
    mcp_server_refresh_tools(tenant=globex, server_id=theirs.pk)
    their_agent = agent_create(tenant=globex, slug="billing", name="Billing")
    agent_publish(tenant=globex, agent_id=their_agent.pk)

    page = admin.get(url("agent_edit", agent="helper")).content.decode()
    response = admin.post(
        url("agent_edit", agent="helper"),
        edit_form(
            helper,
            **{
                f"mcp_{theirs.pk}_forecast": "auto",
                f"handoff_{their_agent.pk}": "on",
                f"handoff_{their_agent.pk}_description": "Bills",
            },
        ),
    )

    assert f"mcp_{theirs.pk}_" not in page and 'data-handoff="billing"' not in page
    assert response.status_code == 302
    assert capabilities_of(acme, helper) is None  # the foreign fields are no fields at all


# --------------------------------------------------------------------------- pages


def test_versions_show_their_capabilities_and_the_diff_their_changes(
    admin: Client, acme: Tenant, helper: Agent, weather: McpServer
) -> None:
    agent_publish(tenant=acme, agent_id=helper.pk)
    agent_update(tenant=acme, agent_id=helper.pk, changes={"tool_approvals": {"calculator": "ask"}})
    agent_capabilities_set(
        tenant=acme, agent_id=helper.pk,
        changes={
            "mcp_servers": [{"server_id": weather.pk, "allowed_tools": ["forecast"],
                             "approval_tools": ["forecast"]}],
            "guardrails": {"input": [{"kind": "pii", "action": "block", "types": ["iban"]}]},
        },
    )  # fmt: skip
    agent_publish(tenant=acme, agent_id=helper.pk)

    page = admin.get(url("agent_version", agent="helper", version=2)).content.decode()
    server = page.split('data-shown-server="weather"')[1].split("</div>")[0]
    assert '<code>forecast</code> <span class="badge warn">asks the user</span>' in server
    assert "delete_everything" not in server
    tool = page.split('data-shown-tool="calculator"')[1].split("</dd>")[0]
    assert "asks the user" in tool
    assert "Personal data (IBAN): block" in page
    diff = admin.get(url("agent_diff", agent="helper") + "?from=1&to=2").context["changes"]
    labels = [change.label for change in diff]
    assert labels == ["tool calculator", "MCP server weather", "guardrails"]
    first = admin.get(url("agent_version", agent="helper", version=1)).content.decode()
    assert first.split('class="shown-mcp"')[1].split("</dd>")[0].count("none") == 1


def test_the_agent_page_shows_the_drafts_capabilities(
    admin: Client, acme: Tenant, helper: Agent, weather: McpServer, openai: ProviderCredential
) -> None:
    billing = agent_create(
        tenant=acme, slug="billing", name="Billing", model="gpt-4.1-mini",
        provider_credential_id=openai.pk,
    )  # fmt: skip
    agent_publish(tenant=acme, agent_id=billing.pk)
    agent_capabilities_set(
        tenant=acme, agent_id=helper.pk,
        changes={
            "mcp_servers": [{"server_id": weather.pk, "allowed_tools": ["forecast"]}],
            "handoffs": [{"agent_id": billing.pk, "description": "Invoices"}],
            "hosted_tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}],
        },
    )  # fmt: skip

    page = admin.get(url("agent", agent="helper")).content.decode()

    server = page.split('data-shown-server="weather"')[1].split("</div>")[0]
    assert "<code>forecast</code>" in server and "asks the user" not in server
    assert "Billing</a>: Invoices" in page.split('data-shown-handoff="billing"')[1]
    assert "File search in vs_1" in page
    assert url("agent_edit", agent="helper") + "#capabilities-mcp" in page


def test_a_new_agent_takes_its_tool_approvals(admin: Client, acme: Tenant) -> None:
    response = admin.post(
        url("agent_new"),
        {
            "slug": "asker", "name": "Asker", "model": "demo",
            "code_tools": ["calculator"], "approval_calculator": "ask",
        },
    )  # fmt: skip

    assert response.status_code == 302
    assert Agent.objects.for_tenant(acme).get(slug="asker").tool_approvals == {"calculator": "ask"}


def test_a_tool_the_server_no_longer_lists_is_shown_and_kept(
    admin: Client, acme: Tenant, helper: Agent, weather: McpServer
) -> None:
    agent_capabilities_set(
        tenant=acme, agent_id=helper.pk,
        changes={"mcp_servers": [{"server_id": weather.pk, "allowed_tools": ["forecast", "gone"],
                                  "approval_tools": ["gone"]}]},
    )  # fmt: skip
    row = capabilities_of(acme, helper)

    page = admin.get(url("agent_edit", agent="helper")).content.decode()
    gone = page.split('data-mcp-tool="gone"')[1].split("</tr>")[0]
    assert "no longer listed by the server" in gone
    assert '<option value="ask" selected>' in gone
    response = admin.post(
        url("agent_edit", agent="helper"),
        edit_form(
            helper, **{f"mcp_{weather.pk}_forecast": "auto", f"mcp_{weather.pk}_gone": "ask"}
        ),
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == ["Nothing changed."]
    assert capabilities_of(acme, helper) == row


def test_guardrails_set_elsewhere_with_two_of_a_kind_are_shown_merged(
    admin: Client, acme: Tenant, helper: Agent
) -> None:
    agent_capabilities_set(
        tenant=acme, agent_id=helper.pk,
        changes={"guardrails": {"input": [
            {"kind": "blocklist", "patterns": ["alpha"]},
            {"kind": "pii", "action": "redact", "types": ["iban"]},
            {"kind": "blocklist", "patterns": ["beta"]},
        ]}},
    )  # fmt: skip

    form = admin.get(url("agent_edit", agent="helper")).context["capabilities"]

    assert form["input_blocklist"].value() == "alpha\nbeta"
    assert form["input_pii"].value() == "redact"
    assert form["input_pii_types"].value() == ["iban"]
    assert form["output_pii"].value() in ("", None)


def test_the_diff_names_each_capability_that_changed() -> None:
    before = {"name": "A", "tools": [], "capabilities": {
        "handoffs": [{"agent_id": 2, "slug": "billing", "name": "Billing", "version": 1,
                      "description": "Bills", "tool_name": "transfer_to_billing",
                      "config": {"instructions": "old"}}],
    }}  # fmt: skip
    after = {"name": "A", "tools": [], "capabilities": {
        "handoffs": [{**before["capabilities"]["handoffs"][0], "version": 2,  # type: ignore[index]
                      "config": {"instructions": "new"}}],
        "hosted_tools": [{"type": "code_interpreter"}],
    }}  # fmt: skip

    changes = config_field_diffs(before, after)

    assert [change.label for change in changes] == ["OpenAI's hosted tools", "handoff to billing"]
    handoff = "\n".join(line.text for line in changes[1].lines if line.kind != "context")
    assert '"version": 2' in handoff and "instructions" not in handoff  # its config left out
