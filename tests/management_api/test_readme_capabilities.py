"""The README's capability examples run as written against a live server: every curl call
of the section answers 2xx (its MCP server on loopback), the published version freezes each
capability, and its YAML snippets are valid definitions."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hosted_agents.services import agent_create, agent_publish, http_tool_create
from hosted_agents.services.definitions import AgentDefinition, CapabilitiesDefinition
from tenants.models import Tenant
from tenants.services import provider_credential_create
from tests.hosted_agents.capabilities.conftest import LoopbackMcp, loopback_mcp, mcp_transport

__all__ = ["loopback_mcp", "mcp_transport"]

pytestmark = pytest.mark.live

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLE_URL = "https://mcp.example.com/mcp"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"^## Agent capabilities\n(.*?)^## ", text, re.S | re.M)
    assert found is not None
    return found.group(1)


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", _section(), re.S)


def _calls() -> list[tuple[str, str, Any]]:
    """Return (method, path under /api/v1, JSON body or None) of each curl of the section."""
    calls = []
    for block in _blocks("sh"):
        words = shlex.split(block.replace("\\\n", " "), comments=True)
        starts = [i for i, word in enumerate(words) if word == "curl"]
        for start, end in zip(starts, [*starts[1:], len(words)], strict=True):
            calls.append(_call(words[start:end]))
    return calls


def _call(words: list[str]) -> tuple[str, str, Any]:
    body = json.loads(words[words.index("--json") + 1]) if "--json" in words else None
    method = words[words.index("-X") + 1] if "-X" in words else "POST" if body else "GET"
    [url] = [word for word in words if word.startswith("$BASE/api/v1/")]
    return method, url.removeprefix("$BASE/api/v1"), body


def _tenant_for_the_examples(tenant: Tenant) -> None:
    credential = provider_credential_create(
        tenant=tenant, name="local", kind="openai_compatible", secret="sk-local-123456",
        base_url="http://127.0.0.1:9/v1",
    )  # fmt: skip
    weather = http_tool_create(
        tenant=tenant, name="weather", description="Weather", url_template="http://127.0.0.1:9/w"
    )
    agent_create(tenant=tenant, slug="support", name="Support", http_tools=[weather.pk],
                 provider_credential_id=credential.pk)  # fmt: skip
    billing = agent_create(
        tenant=tenant, slug="billing", name="Billing", provider_credential_id=credential.pk
    )
    agent_publish(tenant=tenant, agent_id=billing.pk)


def test_every_capability_example_runs_and_is_frozen_at_publish(
    acme_api: httpx.Client, acme: Tenant, loopback_mcp: LoopbackMcp
) -> None:
    _tenant_for_the_examples(acme)
    calls = [call for call in _calls() if "/threads/" not in call[1]]  # traces need a thread
    assert len(calls) == 7
    server_id: int | None = None
    for method, path, body in calls:
        text = json.dumps(body).replace(EXAMPLE_URL, loopback_mcp.url())
        if server_id is not None:
            path = path.replace("/mcp-servers/1/", f"/mcp-servers/{server_id}/")
            text = text.replace('"server_id": 1', f'"server_id": {server_id}')
        response = acme_api.request(method, path, json=json.loads(text))
        assert response.is_success, (method, path, response.text)
        if path == "/mcp-servers":
            server_id = response.json()["id"]
    published = acme_api.post("/agents/support/publish", json={})
    assert published.status_code == 201, published.text
    config = published.json()["config"]
    frozen = config["capabilities"]
    assert set(frozen) == {"mcp_servers", "guardrails", "hosted_tools", "handoffs"}
    assert [t["name"] for t in frozen["mcp_servers"][0]["tools"]] == ["forecast"]
    assert [t.get("approval") for t in config["tools"]] == ["ask"]
    assert [h["slug"] for h in frozen["handoffs"]] == ["billing"]


def test_the_trace_example_and_the_yaml_snippets_are_valid() -> None:
    assert [path for _, path, _ in _calls() if "/threads/" in path] == ["/threads/$THREAD/traces"]
    snippets = [yaml.safe_load(block) for block in _blocks("yaml")]
    assert len(snippets) == 2
    for snippet in snippets:
        if set(snippet) == {"capabilities"}:
            CapabilitiesDefinition.model_validate(snippet["capabilities"])
        else:
            AgentDefinition.model_validate(snippet)
