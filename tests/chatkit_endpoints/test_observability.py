"""Operations through a live server: the request id, JSON log lines naming the request,
tenant, agent and run, and /metrics summed over processes (multiprocess mode)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hosted_agents.models import Agent
from tenants.services import IssuedApiKey
from tests.chatkit_endpoints.client import Endpoint, read_stream, user_input
from tests.chatkit_endpoints.conftest import live_env
from tests.support.live_server import LiveServer
from tests.support.openai_stub import OpenAIStub

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def observed(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory, stub: OpenAIStub
) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("observed")
    metrics_dir = tmp / "prometheus"
    metrics_dir.mkdir()
    env = {**live_env(stub), "LOG_FORMAT": "json", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    server = LiveServer.start("daphne", tmp, env=env)
    yield server
    server.stop()


@pytest.fixture
def endpoint(observed: LiveServer, assistant: Agent, chat_key: IssuedApiKey) -> Iterator[Endpoint]:
    client = Endpoint(observed, "acme", assistant.slug, chat_key.raw)
    yield client
    client.close()


def _stream(endpoint: Endpoint, text: str, **headers: str) -> Any:
    body = json.dumps({"type": "threads.create", "params": {"input": user_input(text)}})
    with endpoint.client.stream(
        "POST", endpoint.server.url(endpoint.path), content=body,
        headers=endpoint.headers(**headers),
    ) as response:  # fmt: skip
        return read_stream(response)


def _json_lines(server: LiveServer) -> list[dict[str, Any]]:
    lines = []
    for line in server.log(tail=200_000).splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def _sample(text: str, name: str, **labels: str) -> float:
    """Return the value of the series `name` with (at least) these labels; 0 if absent."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}\{{(.*)\}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            total += float(match.group(2))
    return total


def test_a_turn_echoes_the_request_id_and_its_log_line_names_everything(
    endpoint: Endpoint, observed: LiveServer
) -> None:
    stream = _stream(endpoint, "Hello", **{"x-request-id": "req-observe-1"})
    assert stream.status == 200
    assert stream.headers["x-request-id"] == "req-observe-1"

    deadline = time.monotonic() + 60
    while True:
        finished = [
            line for line in _json_lines(observed)
            if line.get("request_id") == "req-observe-1" and "run finished" in line["message"]
        ]  # fmt: skip
        if finished:
            break
        assert time.monotonic() < deadline, observed.log()
        time.sleep(0.1)
    line = finished[0]
    assert line["tenant"] == "acme" and line["agent"] == "assistant"
    assert re.fullmatch(r"[0-9a-f]{32}", line["run_id"])
    assert line["level"] == "INFO" and line["logger"] == "hosted_agents.runtime"
    assert "time" in line


def test_a_request_without_an_id_gets_a_new_one_and_a_bad_one_is_replaced(
    observed: LiveServer,
) -> None:
    made = httpx.get(observed.url("/healthz")).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    replaced = httpx.get(observed.url("/healthz"), headers={"x-request-id": "bad id\x7f"})
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["x-request-id"])


def test_metrics_count_requests_streams_and_tokens(
    endpoint: Endpoint, observed: LiveServer
) -> None:
    before = httpx.get(observed.url("/metrics")).text
    assert _stream(endpoint, "Count me").status == 200
    httpx.get(observed.url("/healthz"))

    answer = httpx.get(observed.url("/metrics"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    route = "/t/{tenant}/agents/{agent}/chatkit"
    chatkit = {"route": route, "method": "POST", "status": "200"}
    assert _sample(text, "chatkit_http_requests_total", **chatkit) == (
        _sample(before, "chatkit_http_requests_total", **chatkit) + 1
    )
    assert _sample(text, "chatkit_http_requests_total", route="/healthz", status="200") >= 1
    streams = _sample(text, "chatkit_stream_duration_seconds_count", endpoint="chatkit")
    assert (
        streams == _sample(before, "chatkit_stream_duration_seconds_count", endpoint="chatkit") + 1
    )
    assert _sample(text, "chatkit_stream_first_event_seconds_count", endpoint="chatkit") >= 1
    assert _sample(text, "chatkit_active_streams", endpoint="chatkit") == 0
    tokens = _sample(text, "chatkit_tokens_total", tenant="acme", direction="input")
    assert tokens > _sample(before, "chatkit_tokens_total", tenant="acme", direction="input")
    assert 'chatkit_celery_queue_length{queue="platform"}' in text
