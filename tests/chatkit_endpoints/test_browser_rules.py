"""Allowed origins, CORS preflight, and the per-minute and monthly limits."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from hosted_agents.metering import usage_record
from hosted_agents.models import Agent
from hosted_agents.services import agent_set_allowed_origins
from tenants.models import Tenant, Thread
from tenants.models.tenancy import normalize_origin, origin_matches
from tenants.services import IssuedApiKey, tenant_update
from tests.chatkit_endpoints.client import Endpoint
from tests.support.live_server import LiveServer

LIST = {"type": "threads.list", "params": {}}
ALLOWED = ["https://shop.acme.com", "https://*.preview.acme.com"]


@pytest.fixture
def endpoint(daphne: LiveServer, assistant: Agent, chat_key: IssuedApiKey) -> Iterator[Endpoint]:
    client = Endpoint(daphne, "acme", assistant.slug, chat_key.raw)
    yield client
    client.close()


@pytest.fixture
def with_origins(acme: Tenant) -> Tenant:
    return tenant_update(tenant=acme, changes={"allowed_origins": ALLOWED})


def preflight(endpoint: Endpoint, origin: str, tenant: str = "acme") -> httpx.Response:
    return endpoint.client.options(
        endpoint.server.url(f"/t/{tenant}/agents/{endpoint.agent}/chatkit"),
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )


@pytest.mark.parametrize(
    ("origin", "pattern", "matches"),
    [
        ("https://shop.acme.com", "https://shop.acme.com", True),
        ("https://SHOP.acme.com/", "https://shop.acme.com", True),
        ("http://shop.acme.com", "https://shop.acme.com", False),
        ("https://pr-7.preview.acme.com", "https://*.preview.acme.com", True),
        ("https://preview.acme.com", "https://*.preview.acme.com", False),
        ("https://a.b.preview.acme.com", "https://*.preview.acme.com", False),
        ("https://pr-7.preview.acme.com:8443", "https://*.preview.acme.com", False),
        ("https://evilpreview.acme.com", "https://*.preview.acme.com", False),
        ("https://x.preview.acme.com.evil.io", "https://*.preview.acme.com", False),
    ],
)
def test_origin_patterns_match_exact_hosts_and_one_wildcard_label(
    origin: str, pattern: str, matches: bool
) -> None:
    assert origin_matches(origin, pattern) is matches


@pytest.mark.parametrize("bad", ["https://a*.acme.com", "https://*.com", "https://x.*.acme.com"])
def test_a_wildcard_anywhere_but_the_first_label_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="wildcard"):
        normalize_origin(bad)


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("origin", ["https://shop.acme.com", "https://pr-12.preview.acme.com"])
def test_a_preflight_from_an_allowed_origin_is_answered(
    endpoint: Endpoint, with_origins: Tenant, origin: str
) -> None:
    response = preflight(endpoint, origin)

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == origin
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"]
    assert response.headers["vary"] == "origin"


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_preflight_from_another_origin_or_for_an_unknown_tenant_is_refused(
    endpoint: Endpoint, with_origins: Tenant
) -> None:
    refused = preflight(endpoint, "https://evil.example")
    unknown = preflight(endpoint, "https://shop.acme.com", tenant="nobody")

    for response in (refused, unknown):
        assert response.status_code == 403
        assert "access-control-allow-origin" not in response.headers
        assert response.json()["error"]["code"] == "origin_not_allowed"
    message = refused.json()["error"]["message"]
    assert "https://evil.example" in message and "allowed origins" in message
    assert refused.json()["error"]["origin"] == "https://evil.example"


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_every_request_with_an_origin_is_checked(endpoint: Endpoint, with_origins: Tenant) -> None:
    allowed = endpoint.clone(origin="https://pr-3.preview.acme.com").post(LIST)
    refused = endpoint.clone(origin="https://evil.example").post(
        {"type": "threads.create", "params": {"input": {
            "content": [{"type": "input_text", "text": "hi"}],
            "attachments": [], "inference_options": {}}}}
    )  # fmt: skip
    server_side = endpoint.post(LIST)  # no Origin: a server, not a browser

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://pr-3.preview.acme.com"
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "origin_not_allowed"
    assert server_side.status_code == 200
    assert "access-control-allow-origin" not in server_side.headers
    assert Thread.unscoped.count() == 0


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_the_tenants_requests_per_minute_are_enforced_with_retry_after(
    endpoint: Endpoint, acme: Tenant
) -> None:
    tenant_update(tenant=acme, changes={"requests_per_minute": 2})
    answers = [endpoint.clone(user=f"user-{n}").post(LIST) for n in range(3)]

    assert [a.status_code for a in answers[:2]] == [200, 200]
    limited = answers[2]
    # The window might turn over between the requests; then the third passes.
    if limited.status_code == 200:
        limited = endpoint.post(LIST)
        limited = limited if limited.status_code == 429 else endpoint.post(LIST)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    body = limited.json()["error"]
    assert body["code"] == "rate_limited" and body["retry_after"] == int(
        limited.headers["retry-after"]
    )
    assert "2 per minute" in body["message"]


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_an_exhausted_monthly_quota_refuses_turns_but_not_reads(
    endpoint: Endpoint, acme: Tenant, assistant: Agent
) -> None:
    tenant_update(tenant=acme, changes={"monthly_token_quota": 100})
    usage_record(tenant_id=acme.pk, agent_id=assistant.pk, input_tokens=60, output_tokens=40)

    turn = endpoint.post(
        {"type": "threads.create", "params": {"input": {
            "content": [{"type": "input_text", "text": "hi"}],
            "attachments": [], "inference_options": {}}}}
    )  # fmt: skip

    assert turn.status_code == 429
    assert turn.json()["error"]["code"] == "quota_exhausted"
    assert int(turn.headers["retry-after"]) > 0
    assert endpoint.post(LIST).status_code == 200
    assert Thread.unscoped.count() == 0


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_an_agents_own_origins_replace_the_tenants(
    endpoint: Endpoint, with_origins: Tenant, assistant: Agent
) -> None:
    agent_set_allowed_origins(
        tenant=with_origins, agent_id=assistant.pk, origins=["https://*.kiosk.example"]
    )

    assert preflight(endpoint, "https://lobby.kiosk.example").status_code == 204
    assert endpoint.clone(origin="https://lobby.kiosk.example").post(LIST).status_code == 200
    refused = endpoint.clone(origin="https://shop.acme.com").post(LIST)
    assert refused.status_code == 403
    assert "agent 'assistant'" in refused.json()["error"]["message"]
    assert preflight(endpoint, "https://shop.acme.com").status_code == 403
