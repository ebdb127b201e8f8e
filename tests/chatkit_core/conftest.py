import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Literal

import pytest
from agents import (
    Agent,
    Model,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
)
from openai import AsyncOpenAI

from chatkit_core.agents import AgentContext, simple_to_agent_input, stream_agent_response
from chatkit_core.server import ChatKitServer, StreamingResult
from chatkit_core.store import MemoryStore
from chatkit_core.types import ThreadMetadata, ThreadStreamEvent, UserMessageItem
from tests.support.openai_stub import OpenAIStub
from tests.support.sse import collect_events

# openai-agents exports nothing here: the platform's app config installs only its own
# in-memory trace processor (hosted_agents/tracing.py; test_runtime_traces.py checks it).

ModelKind = Literal["responses", "chat"]
Context = dict[str, Any]


@pytest.fixture
def openai_stub() -> Iterator[OpenAIStub]:
    """A started OpenAI-compatible stub server on loopback (see tests/support/openai_stub.py)."""
    with OpenAIStub() as stub:
        yield stub


@pytest.fixture
async def openai_client(openai_stub: OpenAIStub) -> AsyncIterator[AsyncOpenAI]:
    """A real OpenAI client pointed at the stub (no retries, so errors surface at once)."""
    client = AsyncOpenAI(base_url=openai_stub.base_url, api_key="test-key", max_retries=0)
    yield client
    await client.close()


@pytest.fixture(params=["responses", "chat"])
def model_kind(request: pytest.FixtureRequest) -> ModelKind:
    """Run the test once with the Responses model and once with Chat Completions."""
    kind: ModelKind = request.param
    return kind


@pytest.fixture
def make_model(openai_client: AsyncOpenAI, model_kind: ModelKind) -> Callable[[str], Model]:
    def make(name: str = "gpt-test") -> Model:
        if model_kind == "responses":
            return OpenAIResponsesModel(model=name, openai_client=openai_client)
        return OpenAIChatCompletionsModel(model=name, openai_client=openai_client)

    return make


class AgentServer(ChatKitServer[Context]):
    """A ChatKit server whose respond runs `agent` streamed over the whole thread history."""

    def __init__(self, agent: Agent[AgentContext[Context]], store: MemoryStore | None = None):
        super().__init__(store or MemoryStore())
        self.agent = agent
        self.contexts: list[AgentContext[Context]] = []

    async def respond(
        self, thread: ThreadMetadata, item: UserMessageItem | None, context: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        agent_context = AgentContext[Context](
            thread=thread, store=self.store, request_context=context
        )
        self.contexts.append(agent_context)
        page = await self.store.load_thread_items(thread.id, None, 100, "asc", context)
        input_items = await simple_to_agent_input(page.data)
        result = Runner.run_streamed(self.agent, input_items, context=agent_context)
        async for event in stream_agent_response(agent_context, result):
            yield event


class Harness:
    """Drive a ChatKit server with protocol requests, as a client would."""

    def __init__(self, server: ChatKitServer[Context], context: Context | None = None):
        self.server = server
        self.context = context if context is not None else {"user": "u1"}

    async def stream(self, type_: str, **params: Any) -> list[dict[str, Any]]:
        body = json.dumps({"type": type_, "params": params}).encode()
        result = await self.server.process(body, self.context)
        assert isinstance(result, StreamingResult)
        return await collect_events(result)

    async def json(self, type_: str, **params: Any) -> Any:
        body = json.dumps({"type": type_, "params": params}).encode()
        result = await self.server.process(body, self.context)
        assert not isinstance(result, StreamingResult)
        return json.loads(result.json)

    async def create(self, text: str) -> list[dict[str, Any]]:
        return await self.stream("threads.create", input=user_input(text))

    async def send(self, thread_id: str, text: str) -> list[dict[str, Any]]:
        return await self.stream(
            "threads.add_user_message", thread_id=thread_id, input=user_input(text)
        )

    async def items(self, thread_id: str) -> list[dict[str, Any]]:
        page = await self.json("items.list", thread_id=thread_id, order="asc", limit=100)
        data: list[dict[str, Any]] = page["data"]
        return data

    async def stored(self, thread_id: str) -> list[Any]:
        """Every stored item, hidden ones included, oldest first."""
        page = await self.server.store.load_thread_items(thread_id, None, 100, "asc", self.context)
        return list(page.data)


def user_input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


def respond_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events after `stream_options`, i.e. what respond produced."""
    start = next(i for i, e in enumerate(events) if e["type"] == "stream_options")
    return events[start + 1 :]


def kinds(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for event in events:
        if event["type"] == "thread.item.updated":
            out.append(event["update"]["type"])
        elif "item" in event:
            out.append(f"{event['type']}:{event['item']['type']}")
        else:
            out.append(event["type"])
    return out


@pytest.fixture
def agent_harness() -> Callable[[Agent[AgentContext[Context]]], Harness]:
    """Build a `Harness` over an `AgentServer` (fresh MemoryStore) for an agent."""
    return lambda agent: Harness(AgentServer(agent))
