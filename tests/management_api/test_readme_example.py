"""The README's management example runs as written against a live server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from hosted_agents.models import Agent
from tenants.models import ApiKey, ClientSession, Tenant
from tenants.services import api_key_create

pytestmark = pytest.mark.live

README = Path(__file__).resolve().parents[2] / "README.md"


def _example() -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- management-example -->\n```python\n(.*?)```", text, re.S)
    assert found is not None
    return found.group(1)


def test_the_five_line_example_publishes_an_agent_and_mints_a_session(
    live_server: Any, acme: Tenant
) -> None:
    source = _example()
    assert len([line for line in source.splitlines() if line.strip()]) == 6  # import + five
    key = api_key_create(tenant=acme, name="readme", scopes=list(ApiKey.Scope.values)).raw
    namespace: dict[str, Any] = {"BASE": live_server.url, "KEY": key}
    try:
        exec(compile(source, f"{README}::management-example", "exec"), namespace)
    finally:
        for client in ("api", "chatkit"):
            if client in namespace:
                namespace[client].close()
    assert namespace["secret"].startswith("ckcs_")
    agent = Agent.objects.for_tenant(acme).get(slug="support")
    assert agent.published_version is not None
    assert ClientSession.objects.for_tenant(acme).filter(agent_id=agent.pk).count() == 1
