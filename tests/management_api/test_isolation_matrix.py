"""The isolation and scope matrix, generated from the live OpenAPI schema.

Every operation with an id in its path, called with globex's key on acme's object, answers
exactly what it answers for an id that does not exist (404, same body but the id), and
changes nothing of acme's. A read-only key cannot call a write; a chat key cannot call any.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tenants.models import AuditEvent, Tenant
from tests.management_api.conftest import Seeded, assert_error, seed

pytestmark = pytest.mark.live

# Bodies that pass the schema, so that the answer comes from the lookup, not validation.
BODIES: dict[tuple[str, str], Any] = {
    ("post", "/agents/{slug}/rollback"): {"number": 1},
    ("post", "/agents/{slug}/duplicate"): {"slug": "copy-of-support"},
    ("put", "/agents/{slug}/definition"): {"name": "Support"},
    ("post", "/end-users/forget"): {"user": "user-1"},
    ("put", "/allowed-origins"): {"origins": []},
    ("post", "/agents"): {"slug": "new-agent", "name": "New"},
    ("post", "/tools/http"): {"name": "t", "description": "d", "url_template": "http://x.test/"},
    ("post", "/tools/client"): {"name": "t", "description": "d"},
    ("post", "/provider-credentials"): {"name": "p", "kind": "openai", "secret": "sk-1234567"},
    ("post", "/api-keys"): {"name": "k", "scopes": ["chat"]},
    ("post", "/mcp-servers"): {"name": "m", "url": "http://x.test/mcp"},
}
# Operations whose path names an object that a missing id cannot name: the definition PUT
# creates the agent it names, as PUT does.
CREATES_AT_PATH = {("put", "/agents/{slug}/definition")}


@pytest.fixture
def schema(live_server: Any) -> dict[str, Any]:
    response = httpx.get(f"{live_server.url}/api/v1/openapi.json", timeout=30)
    assert response.status_code == 200
    return dict(response.json())


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for path, methods in schema["paths"].items():
        for method in methods:
            yield method, path.removeprefix("/api/v1")


def _values(seeded: Seeded, path: str) -> dict[str, str]:
    tool = seeded.http_tool if "/tools/http/" in path else seeded.client_tool
    return {"slug": seeded.agent, "number": "1", "first": "1", "second": "2",
            "tool_id": str(tool), "credential_id": str(seeded.credential),
            "key_id": str(seeded.api_key), "thread_id": seeded.thread,
            "server_id": str(seeded.mcp_server)}  # fmt: skip


MISSING = {"slug": "no-such-agent", "number": "99", "first": "98", "second": "99",
           "tool_id": "999999", "credential_id": "999999", "key_id": "999999",
           "thread_id": "thr_missing", "server_id": "999999"}  # fmt: skip


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def _call(api: httpx.Client, method: str, path: str, url: str) -> httpx.Response:
    body = BODIES.get((method, path), {} if method in ("post", "put", "patch") else None)
    return api.request(method.upper(), url, json=body)


def test_every_operation_on_another_tenants_object_answers_like_a_missing_one(
    schema: dict[str, Any], acme: Tenant, globex: Tenant, globex_api: httpx.Client
) -> None:
    acme_objects = seed(acme)
    seed(globex, prefix="g-")  # globex has objects of its own, under other ids
    before = AuditEvent.objects.for_tenant(acme).count()
    checked = 0
    for method, path in operations(schema):
        if "{" not in path or (method, path) in CREATES_AT_PATH:
            continue
        real = _values(acme_objects, path)
        theirs = _call(globex_api, method, path, _fill(path, real))
        absent = _call(globex_api, method, path, _fill(path, MISSING))
        assert theirs.status_code == 404, (method, path, theirs.text)
        assert_error(theirs, 404)
        assert absent.status_code == 404, (method, path, absent.text)
        shown = theirs.json()["error"]["message"]
        for name in re.findall(r"\{(\w+)\}", path):
            value = real[name]
            shown = shown.replace(f"'{value}'", f"'{MISSING[name]}'")
        assert shown == absent.json()["error"]["message"], (method, path)
        checked += 1
    assert checked >= 20
    assert AuditEvent.objects.for_tenant(acme).count() == before


def _every_call(schema: dict[str, Any], seeded: Seeded) -> Iterator[tuple[str, str, str]]:
    for method, path in operations(schema):
        yield method, path, _fill(path, _values(seeded, path))


@pytest.mark.parametrize("which", ["chat", "read"])
def test_keys_without_the_scope_get_401_on_every_operation_they_may_not_call(
    schema: dict[str, Any],
    acme: Tenant,
    acme_chat_api: httpx.Client,
    acme_read_api: httpx.Client,
    which: str,
) -> None:
    api = acme_chat_api if which == "chat" else acme_read_api
    seeded = seed(acme)
    before = AuditEvent.objects.for_tenant(acme).count()
    refused = 0
    for method, path, url in _every_call(schema, seeded):
        response = _call(api, method, path, url)
        if which == "read" and method == "get":
            assert response.status_code == 200, (method, path, response.text)
            continue
        error = assert_error(response, 401)
        assert error["code"] == "invalid_api_key"
        refused += 1
    assert refused >= 15
    assert AuditEvent.objects.for_tenant(acme).count() == before


def test_the_docs_page_uses_our_own_static_files(live_server: Any) -> None:
    page = httpx.get(f"{live_server.url}/api/v1/docs", timeout=30)
    assert page.status_code == 200
    assert "/static/ninja/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
