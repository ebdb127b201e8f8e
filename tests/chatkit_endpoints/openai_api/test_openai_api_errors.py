"""Every 4xx of /v1/chatkit/ answers in OpenAI's error shape, read over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from hosted_agents.models import Agent
from tenants.models import ClientSession, Tenant
from tenants.services import IssuedApiKey

pytestmark = pytest.mark.live

BETA = {"OpenAI-Beta": "chatkit_beta=v1"}


def _assert_error_shape(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) <= {"error", "errors"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == "invalid_request_error"
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


@pytest.fixture
def http(live_server: Any, acme_key: IssuedApiKey) -> Any:
    with httpx.Client(
        base_url=f"{live_server.url}/v1/chatkit",
        headers={"Authorization": f"Bearer {acme_key.raw}", **BETA},
        timeout=30,
    ) as client:
        yield client


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer x"},
    ],
)
def test_a_missing_or_bad_key_gets_401(live_server: Any, headers: dict[str, str]) -> None:
    response = httpx.get(f"{live_server.url}/v1/chatkit/threads", headers={**BETA, **headers})
    error = _assert_error_shape(response, 401)
    assert error["code"] == "invalid_api_key"
    assert response.headers["www-authenticate"] == "Bearer"


def test_the_beta_header_is_accepted_and_not_required(http: httpx.Client) -> None:
    assert http.get("/threads").status_code == 200
    assert http.get("/threads", headers={"OpenAI-Beta": ""}).status_code == 200


def test_malformed_json_gets_400_and_writes_nothing(
    acme: Tenant, http: httpx.Client, published: Agent
) -> None:
    for body in (b"{not json", b"[1, 2]", b'"text"'):
        response = http.post(
            "/sessions", content=body, headers={"Content-Type": "application/json"}
        )
        _assert_error_shape(response, 400)
    assert not ClientSession.objects.for_tenant(acme).exists()


def test_a_validation_error_names_the_field(http: httpx.Client, published: Agent) -> None:
    response = http.post("/sessions", json={"workflow": {"id": "support"}})
    error = _assert_error_shape(response, 400)
    assert (error["param"], error["code"]) == ("user", "missing_required_parameter")


def test_an_unknown_url_gets_404(http: httpx.Client) -> None:
    for path in ("/nothing", "/threads/thr_1/items/extra", "/sessions/cksess_1"):
        error = _assert_error_shape(http.get(path), 404)
        assert "Invalid URL" in error["message"]


def test_a_method_the_path_lacks_gets_405(http: httpx.Client) -> None:
    response = http.get("/sessions")
    _assert_error_shape(response, 405)
    assert response.headers["allow"] == "POST"
    assert _assert_error_shape(http.put("/threads/thr_1"), 405)


def test_a_missing_thread_gets_404(http: httpx.Client) -> None:
    error = _assert_error_shape(http.get("/threads/thr_missing"), 404)
    assert error["message"] == "No thread found with id 'thr_missing'."
