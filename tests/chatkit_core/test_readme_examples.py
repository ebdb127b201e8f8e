"""Every `python` block of chatkit_core/README.md runs as written.

Each block is extracted from the README and executed on its own, in a fresh namespace
(so it must be self-contained). The blocks that define an HTTP endpoint are then driven
like a client would, with model calls going to the loopback OpenAI stub. Editing the
README so that an example no longer runs fails these tests.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from agents.models import _openai_shared
from openai import AsyncOpenAI

import chatkit_core
from tests.support.openai_stub import FunctionCall, OpenAIStub
from tests.support.sse import parse_sse

README = Path(chatkit_core.__file__).parent / "README.md"
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def python_blocks() -> list[str]:
    return _PYTHON_BLOCK.findall(README.read_text(encoding="utf-8"))


def block_defining(marker: str) -> str:
    [block] = [block for block in python_blocks() if marker in block]
    return block


def run_block(source: str, name: str = "readme_example") -> dict[str, Any]:
    """Execute one README block as a module of its own and return its namespace."""
    namespace: dict[str, Any] = {"__name__": name}
    exec(compile(source, f"{README}::{name}", "exec"), namespace)
    return namespace


def user_input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


class Client:
    """Posts protocol requests to an ASGI app in process."""

    def __init__(self, app: Any) -> None:
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    async def post(self, body: Any) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await self.http.post("/chatkit", content=content)

    async def stream(self, type_: str, **params: Any) -> list[dict[str, Any]]:
        response = await self.post({"type": type_, "params": params})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        return [event.json() for event in parse_sse(response.text)]

    async def json(self, type_: str, **params: Any) -> httpx.Response:
        return await self.post({"type": type_, "params": params})


def done_items(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event["item"] for event in events if event["type"] == "thread.item.done"]


def with_default_model_client(stub: OpenAIStub, drive: Callable[[], Awaitable[None]]) -> None:
    """Run `drive` with the default OpenAI client (used by `model="gpt-4.1-mini"`) on the stub."""

    async def main() -> None:
        previous = _openai_shared.get_default_openai_client()
        client = AsyncOpenAI(base_url=stub.base_url, api_key="test-key", max_retries=0)
        _openai_shared.set_default_openai_client(client)
        try:
            await drive()
        finally:
            _openai_shared._default_openai_client = previous
            await client.close()

    asyncio.run(main())


# --- the tests ----------------------------------------------------------------------------


def test_the_readme_has_the_four_examples_these_tests_drive() -> None:
    blocks = python_blocks()
    assert len(blocks) == 4
    for marker in ("async def chatkit_endpoint", "Starlette(routes=", "with OpenAIStub()"):
        assert len([block for block in blocks if marker in block]) == 1, marker


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_each_readme_example_runs_on_its_own(index: int) -> None:
    # Defining the backend calls no model; the stub example starts its own stub and
    # asserts on what the model call returned, so a broken example raises here.
    namespace = run_block(python_blocks()[index], f"readme_example_{index}")
    assert namespace["__name__"] == f"readme_example_{index}"


def test_the_complete_backend_example_serves_chatkit_over_asgi(openai_stub: OpenAIStub) -> None:
    app = run_block(block_defining("async def chatkit_endpoint"))
    assert app["server"].store is app["store"]

    async def drive() -> None:
        client = Client(app["chatkit_endpoint"])
        openai_stub.add("Hello there")
        created = await client.stream("threads.create", input=user_input("Hi"))
        thread_id = created[0]["thread"]["id"]
        assert done_items(created)[-1]["content"][0]["text"] == "Hello there"
        assert openai_stub.last_request.body["model"] == "gpt-4.1-mini"

        for tool_id, output in [("missing-7", "None"), ("a1", "success")]:
            openai_stub.add(FunctionCall("risky_tool", {"id": tool_id}))
            openai_stub.add("Noted.")
            events = await client.stream(
                "threads.add_user_message", thread_id=thread_id, input=user_input("Risky")
            )
            assert done_items(events)[-1]["content"][0]["text"] == "Noted."
            sent = openai_stub.last_request.body["input"]
            outputs = [i["output"] for i in sent if i.get("type") == "function_call_output"]
            assert output in outputs[-1]

        listed = await client.json("items.list", thread_id=thread_id)
        assert listed.status_code == 200
        assert listed.headers["content-type"] == "application/json"
        assert len(listed.json()["data"]) == 6

        unknown = await client.json("threads.get_by_id", thread_id="thr_unknown")
        assert (unknown.status_code, unknown.json()) == (404, {"error": "not_found"})
        garbage = await client.post(b"garbage")
        assert (garbage.status_code, garbage.json()["error"]) == (400, "invalid_json")
        upload = await client.json(
            "attachments.create", name="a.png", size=1, mime_type="image/png"
        )
        assert (upload.status_code, upload.json()["error"]) == (501, "unsupported_operation")
        wrong_path = await client.http.get("/elsewhere")
        assert wrong_path.status_code == 404

    with_default_model_client(openai_stub, drive)


def test_the_starlette_example_streams_and_maps_errors_to_status_codes() -> None:
    app = run_block(block_defining("Starlette(routes="))

    async def drive() -> None:
        client = Client(app["app"])
        events = await client.stream("threads.create", input=user_input("hi"))
        assert [event["type"] for event in events] == [
            "thread.created",
            "thread.item.done",
            "stream_options",
            "thread.item.done",
        ]
        assert done_items(events)[-1]["content"][0]["text"] == "You said: hi"
        thread_id = events[0]["thread"]["id"]

        listed = await client.json("items.list", thread_id=thread_id)
        assert listed.status_code == 200 and len(listed.json()["data"]) == 2
        unknown = await client.json("threads.update", thread_id="thr_unknown", title="x")
        assert (unknown.status_code, unknown.json()) == (404, {"error": "not_found"})
        invalid = await client.post({"type": "threads.list", "params": {"limit": -1}})
        assert (invalid.status_code, invalid.json()["error"]) == (400, "invalid_params")
        dictation = await client.json("input.transcribe", audio_base64="", mime_type="audio/ogg")
        assert (dictation.status_code, dictation.json()["error"]) == (501, "unsupported_operation")

    asyncio.run(drive())


def test_the_stub_example_scripts_a_tool_call_and_a_rate_limit() -> None:
    block = block_defining("with OpenAIStub()")
    namespace = run_block(block)
    assert namespace["get_weather"].name == "get_weather"
    assert "stub.add_error(429)" in block and "openai.RateLimitError" in block
