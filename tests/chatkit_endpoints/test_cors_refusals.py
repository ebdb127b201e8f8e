"""Refusals a browser page can read: CORS headers on 401, 403, 404, 413 and 429.

Without `Access-Control-Allow-Origin` a cross-origin refusal reaches the page as a network
error; an allowed origin gets the header on every refusal, a refused origin on none.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from hosted_agents.models import Agent
from tenants.models import Tenant
from tenants.services import IssuedApiKey, api_key_create, tenant_update
from tests.chatkit_endpoints.client import Endpoint
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

ALLOWED = "https://shop.acme.com"
EVIL = "https://evil.example"
LIST = {"type": "threads.list", "params": {}}


@pytest.fixture
def page(
    daphne: LiveServer, acme: Tenant, assistant: Agent, chat_key: IssuedApiKey
) -> Iterator[Endpoint]:
    """A client whose requests come from a page on the tenant's allowed origin."""
    tenant_update(tenant=acme, changes={"allowed_origins": [ALLOWED, "https://*.preview.acme.com"]})
    client = Endpoint(daphne, "acme", assistant.slug, chat_key.raw, origin=ALLOWED)
    yield client
    client.close()


def readable(response: httpx.Response, origin: str = ALLOWED) -> str:
    """Return the error code of a refusal the page may read (it names its origin)."""
    assert response.headers.get("access-control-allow-origin") == origin, response.headers
    assert response.headers["content-type"] == "application/json"
    code: str = response.json()["error"]["code"]
    return code


def test_a_bad_or_missing_credential_is_readable_by_an_allowed_origin(page: Endpoint) -> None:
    bad = page.clone(token="ckp_live_not-a-key").post(LIST)
    missing = page.clone(token=None).post(LIST)
    wildcard = page.clone(token="ckcs_gone", origin="https://pr-7.preview.acme.com").post(LIST)

    assert (bad.status_code, readable(bad)) == (401, "invalid_credential")
    assert (missing.status_code, readable(missing)) == (401, "invalid_credential")
    assert wildcard.status_code == 401
    assert readable(wildcard, "https://pr-7.preview.acme.com") == "invalid_credential"


def test_a_refused_origin_gets_no_cors_header_on_any_refusal(page: Endpoint) -> None:
    bad = page.clone(token="ckp_live_not-a-key", origin=EVIL).post(LIST)
    refused = page.clone(origin=EVIL).post(LIST)

    assert bad.status_code == 401
    assert "access-control-allow-origin" not in bad.headers
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers
    error = refused.json()["error"]
    assert error["code"] == "origin_not_allowed" and error["origin"] == EVIL
    assert "allowed origins" in error["message"] and "'acme'" in error["message"]


def test_a_credential_for_another_tenant_is_a_readable_403(page: Endpoint, globex: Tenant) -> None:
    globex_key = api_key_create(tenant=globex, name="theirs", scopes=["chat"])

    mismatch = page.clone(token=globex_key.raw).post(LIST)

    assert mismatch.status_code == 403
    assert readable(mismatch) == "credential_mismatch"


def test_missing_agents_and_threads_are_readable_404s(page: Endpoint) -> None:
    no_agent = page.clone(agent="nobody").post(LIST)
    no_thread = page.post({"type": "threads.get_by_id", "params": {"thread_id": "thr_none"}})
    no_stream = page.client.get(
        page.server.url("/t/acme/agents/assistant/threads/thr_none/stream"),
        headers={k: v for k, v in page.headers().items() if k != "content-type"},
    )

    assert (no_agent.status_code, readable(no_agent)) == (404, "agent_not_found")
    assert (no_thread.status_code, readable(no_thread)) == (404, "not_found")
    assert (no_stream.status_code, readable(no_stream)) == (404, "not_found")


def test_an_oversized_body_is_a_readable_413(page: Endpoint) -> None:
    too_big = page.post(b'{"type": "threads.list", "params": {}, "pad": "' + b"x" * 70_000 + b'"}')

    assert too_big.status_code == 413
    assert readable(too_big) == "request_too_large"


def test_an_exhausted_rate_limit_is_a_readable_429(page: Endpoint, acme: Tenant) -> None:
    tenant_update(tenant=acme, changes={"requests_per_minute": 1})

    answers = [page.clone(user=f"user-{n}").post(LIST) for n in range(3)]

    [limited, *_] = [answer for answer in answers if answer.status_code == 429]
    assert readable(limited) == "rate_limited"
    assert "retry-after" in limited.headers["access-control-expose-headers"]
