"""Agents as code: GET the definition as JSON or YAML, PUT it back idempotently, dry runs
and publishing in the same call, and `manage.py agent_apply`."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml
from django.core.management import CommandError, call_command

from hosted_agents.models import Agent, AgentVersion
from tenants.models import AuditEvent, Tenant
from tests.management_api.conftest import assert_error, seed

pytestmark = pytest.mark.live

DOCUMENT = {
    "name": "Support",
    "instructions": "Answer in one sentence.",
    "model": "gpt-4.1-mini",
    "model_settings": {"temperature": 0.2},
    "provider_credential": "local",
    "code_tools": [],
    "http_tools": ["weather"],
    "client_tools": ["pick"],
    "greeting": "Hello!",
    "starter_prompts": ["What can you do?"],
}


def test_a_definition_round_trips_as_json_and_yaml_without_secrets(
    acme_api: httpx.Client, acme: Tenant
) -> None:
    seed(acme)
    as_json = acme_api.get("/agents/support/definition").json()
    assert as_json["http_tools"] == ["weather"] and as_json["provider_credential"] == "local"
    assert "sk-local" not in str(as_json)
    as_yaml = acme_api.get("/agents/support/definition", headers={"Accept": "application/yaml"})
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.text) == as_json
    assert acme_api.get("/agents/support/definition?format=yaml").text == as_yaml.text
    again = acme_api.put("/agents/support/definition", json=as_json).json()
    assert again["changes"] == [] and again["created"] is False


def test_put_creates_then_changes_nothing_and_publishes_once(
    acme_api: httpx.Client, acme: Tenant
) -> None:
    seed(acme)
    text = yaml.safe_dump(DOCUMENT)
    yaml_type = {"Content-Type": "application/yaml"}
    first = acme_api.put("/agents/faq/definition?publish=true", content=text, headers=yaml_type)
    assert first.status_code == 200, first.text
    assert first.json()["created"] is True and first.json()["published_version"] == 1
    events = AuditEvent.objects.for_tenant(acme).count()
    second = acme_api.put("/agents/faq/definition?publish=true", json=DOCUMENT).json()
    assert second["changes"] == [] and second["published_version"] is None
    assert AuditEvent.objects.for_tenant(acme).count() == events
    agent = Agent.objects.for_tenant(acme).get(slug="faq")
    assert AgentVersion.objects.for_tenant(acme).filter(agent_id=agent.pk).count() == 1


def test_a_dry_run_answers_the_diff_and_writes_nothing(
    acme_api: httpx.Client, acme: Tenant
) -> None:
    seed(acme)
    events = AuditEvent.objects.for_tenant(acme).count()
    changed = {**DOCUMENT, "instructions": "Answer in French."}
    dry = acme_api.put("/agents/support/definition?dry_run=true&publish=true", json=changed)
    assert dry.status_code == 200, dry.text
    fields = {c["field"] for c in dry.json()["changes"]}
    assert fields == {"instructions", "greeting", "model_settings", "starter_prompts"}
    assert dry.json()["dry_run"] is True and dry.json()["published_version"] == 3
    assert Agent.objects.for_tenant(acme).get(slug="support").instructions == "v2"
    assert AuditEvent.objects.for_tenant(acme).count() == events


def test_a_bad_document_answers_400_naming_the_field(
    acme_api: httpx.Client, acme: Tenant, globex_api: httpx.Client
) -> None:
    seed(acme)
    unknown_tool = acme_api.put(
        "/agents/support/definition", json={**DOCUMENT, "http_tools": ["nope"]}
    )
    assert assert_error(unknown_tool, 400)["param"] == "http_tools"
    extra = acme_api.put("/agents/support/definition", json={**DOCUMENT, "secret": "x"})
    assert assert_error(extra, 400)["param"] == "secret"
    broken = acme_api.put(
        "/agents/support/definition", content="a: [", headers={"Content-Type": "text/yaml"}
    )
    assert_error(broken, 400)
    # Another tenant's tools are not found by name either.
    assert_error(globex_api.put("/agents/support/definition", json=DOCUMENT), 400)
    assert_error(globex_api.get("/agents/support/definition"), 404)


@pytest.mark.django_db(transaction=True)  # seed() writes through the async store
def test_agent_apply_deploys_a_file(acme: Tenant, tmp_path: Path) -> None:
    seed(acme)
    path = tmp_path / "faq.yaml"
    path.write_text(yaml.safe_dump({"slug": "faq", **DOCUMENT}))
    call_command("agent_apply", str(path), "--tenant", "acme", "--publish")
    agent = Agent.objects.for_tenant(acme).get(slug="faq")
    assert agent.published_version is not None and agent.greeting == "Hello!"
    event = AuditEvent.objects.for_tenant(acme).filter(action="agent.publish").last()
    assert event is not None and event.actor_label == "manage.py agent_apply"
    path.write_text(yaml.safe_dump({"slug": "faq", **DOCUMENT, "model_settings": {"x": 1}}))
    with pytest.raises(CommandError, match="model_settings"):
        call_command("agent_apply", str(path), "--tenant", "acme")


CAPABILITIES = {
    "guardrails": {"input": [{"kind": "pii", "action": "block", "types": ["card"]}]},
    "handoffs": [{"agent": "support", "description": "Anything about the product"}],
    "hosted_tools": [{"type": "web_search", "search_context_size": "medium"}],
}


def test_capabilities_are_set_by_name_frozen_at_publish_and_applied_once(
    acme_api: httpx.Client, acme: Tenant, globex_api: httpx.Client
) -> None:
    seed(acme)
    document = {**DOCUMENT, "capabilities": CAPABILITIES}

    first = acme_api.put("/agents/faq/definition?publish=true", json=document)
    second = acme_api.put("/agents/faq/definition?publish=true", json=document).json()

    assert first.status_code == 200, first.text
    shown = acme_api.get("/agents/faq/definition").json()["capabilities"]
    assert shown["guardrails"]["input"] == CAPABILITIES["guardrails"]["input"]
    assert shown["handoffs"] == CAPABILITIES["handoffs"] and shown["mcp_servers"] == []
    assert second["changes"] == [] and second["published_version"] is None
    config = AgentVersion.objects.for_tenant(acme).get(agent__slug="faq").config["capabilities"]
    assert config["hosted_tools"] == CAPABILITIES["hosted_tools"]
    assert [(h["slug"], h["tool_name"]) for h in config["handoffs"]] == [
        ("support", "transfer_to_support")
    ]
    cleared = acme_api.put("/agents/faq/definition", json=DOCUMENT).json()
    assert cleared["definition"]["capabilities"] is None
    # By name, within the tenant only: another tenant's agent and a missing server are not
    # found, and a bad part is refused by the capability's own check.
    missing_server = {"mcp_servers": [{"server": "nope", "allowed_tools": []}]}
    foreign = globex_api.put(
        "/agents/faq/definition", json={"name": "FAQ", "capabilities": CAPABILITIES}
    )
    assert assert_error(foreign, 400)["param"] == "handoffs"
    for capabilities, param in [
        (missing_server, "mcp_servers"),
        ({"hosted_tools": [{"type": "shell"}]}, "hosted_tools"),
    ]:
        body = {**document, "capabilities": capabilities}
        refused = acme_api.put("/agents/faq/definition", json=body)
        assert assert_error(refused, 400)["param"] == param


def test_a_definition_sets_approval_policies_frozen_into_the_published_version(
    acme_api: httpx.Client, acme: Tenant
) -> None:
    seed(acme)
    document = DOCUMENT | {"tool_approvals": {"weather": "ask", "pick": "auto"}}

    applied = acme_api.put("/agents/billing/definition?publish=true", json=document)

    assert applied.status_code == 200, applied.text
    assert applied.json()["definition"]["tool_approvals"] == {"weather": "ask"}
    version = AgentVersion.objects.for_tenant(acme).get(agent__slug="billing")
    asked = {tool["name"]: tool.get("approval", "auto") for tool in version.config["tools"]}
    assert asked == {"weather": "ask", "pick": "auto"}
    again = acme_api.put("/agents/billing/definition", json=document).json()
    assert again["changes"] == []
    # A client tool runs in the browser: the platform cannot hold it for approval.
    refused = acme_api.put(
        "/agents/billing/definition", json=DOCUMENT | {"tool_approvals": {"pick": "ask"}}
    )
    assert "client tool" in assert_error(refused, 400)["message"]
    bad = acme_api.put(
        "/agents/billing/definition", json=DOCUMENT | {"tool_approvals": {"weather": "later"}}
    )
    assert bad.status_code in (400, 422)
