"""PlatformChatKitServer end to end, in-process through `process()`, against the loopback
OpenAI stub (real `openai` clients, real openai-agents runs) and against the demo model.

The harness here is shared by the other runtime test files of this folder.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError, connection

from chatkit_core.server import StreamingResult
from chatkit_core.store import NotFoundError
from hosted_agents.demo_model import DEMO_MARKER
from hosted_agents.metering import usage_record
from hosted_agents.models import Agent, UsageDaily
from hosted_agents.runtime import PlatformChatKitServer, RequestContext, redact
from hosted_agents.services import agent_create, agent_publish, agent_update
from tenants.models import AuditEvent, ProviderCredential, Tenant, Thread, ThreadItem
from tenants.services import provider_credential_create, tenant_set_status, tenant_update
from tests.support.openai_stub import HTTPError, OpenAIStub, Turn
from tests.support.sse import collect_events, parse_sse

pytestmark = pytest.mark.django_db(transaction=True)

ACME_KEY = "sk-acme-0123456789abcdef"
GLOBEX_KEY = "sk-globex-0123456789abcdef"


# --------------------------------------------------------------------------- harness


class Chat:
    """Drive a PlatformChatKitServer with protocol requests, as a ChatKit client would."""

    def __init__(self, context: RequestContext, **options: Any) -> None:
        options.setdefault("model_max_retries", 0)
        self.context = context
        self.server = PlatformChatKitServer.for_request(context, **options)

    async def stream(self, type_: str, **params: Any) -> list[dict[str, Any]]:
        body = json.dumps({"type": type_, "params": params}).encode()
        result = await self.server.process(body, self.context)
        assert isinstance(result, StreamingResult)
        return await collect_events(result)

    async def create(self, text: str) -> list[dict[str, Any]]:
        return await self.stream("threads.create", input=user_input(text))

    async def send(self, thread_id: str, text: str) -> list[dict[str, Any]]:
        return await self.stream(
            "threads.add_user_message", thread_id=thread_id, input=user_input(text)
        )

    async def open(self, thread_id: str, text: str) -> OpenStream:
        """Send a message to the thread; return its answer unread."""
        params = {"thread_id": thread_id, "input": user_input(text)}
        body = json.dumps({"type": "threads.add_user_message", "params": params}).encode()
        result = await self.server.process(body, self.context)
        assert isinstance(result, StreamingResult)
        return OpenStream(result)

    async def items(self, thread_id: str) -> list[dict[str, Any]]:
        body = json.dumps(
            {"type": "items.list", "params": {"thread_id": thread_id, "limit": 100, "order": "asc"}}
        )
        result = await self.server.process(body, self.context)
        assert not isinstance(result, StreamingResult)
        data: list[dict[str, Any]] = json.loads(result.json)["data"]
        return data


class OpenStream:
    """A streamed answer read a few events at a time, so that two runs can interleave.

    The server stores each item before it sends the item's event, and the runtime's
    bookkeeping runs once the stream is read to its end.
    """

    def __init__(self, result: StreamingResult) -> None:
        self._chunks = aiter(result)
        self.events: list[dict[str, Any]] = []

    async def read_until(self, kind: str) -> dict[str, Any]:
        """Read events up to the first of `kind` (as `kinds` names it); return it."""
        async for chunk in self._chunks:
            [event] = [sse.json() for sse in parse_sse(chunk.decode())]
            self.events.append(event)
            if kinds([event]) == [kind]:
                return event
        raise AssertionError(f"the stream ended without {kind}: {kinds(self.events)}")

    async def read_to_end(self) -> list[dict[str, Any]]:
        async for chunk in self._chunks:
            self.events += [sse.json() for sse in parse_sse(chunk.decode())]
        return self.events


def user_input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


def kinds(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for event in events:
        item = event.get("item")
        if event["type"] == "thread.item.updated":
            out.append(event["update"]["type"])
        else:
            out.append(f"{event['type']}:{item['type']}" if item else event["type"])
    return out


def thread_id_of(events: list[dict[str, Any]]) -> str:
    thread_id: str = events[0]["thread"]["id"]
    return thread_id


def errors(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == "error"]


def assistant_text(events: list[dict[str, Any]]) -> str:
    done = [
        e["item"] for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
    ]  # fmt: skip
    return "".join(part["text"] for item in done for part in item["content"])


@database_sync_to_async
def stored_rows(thread_id: str) -> list[ThreadItem]:
    return list(ThreadItem.unscoped.filter(thread__public_id=thread_id).order_by("id"))


@database_sync_to_async
def audit_actions(tenant: Tenant, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_tenant(tenant).filter(action=action).order_by("id"))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def openai_stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as stub:
        yield stub


@pytest.fixture(autouse=True)
def no_platform_key(settings: Any) -> None:
    """The platform-wide key is an operator setting; tests start without one."""
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""


def make_credential(
    tenant: Tenant, base_url: str, api: str = "responses", secret: str = ACME_KEY
) -> ProviderCredential:
    return provider_credential_create(
        tenant=tenant,
        name=f"stub {api} {secret[:8]}",
        kind=ProviderCredential.Kind.OPENAI_COMPATIBLE,
        secret=secret,
        base_url=base_url,
        api=api,
    )


def publish(tenant: Tenant, slug: str = "support", **draft: Any) -> Agent:
    """Create an agent with `draft` and publish it; return it with its published version."""
    draft.setdefault("name", slug.title())
    agent = agent_create(tenant=tenant, slug=slug, **draft)
    agent_publish(tenant=tenant, agent_id=agent.pk)
    return (
        Agent.objects.for_tenant(tenant)
        .select_related("tenant", "published_version")
        .get(pk=agent.pk)
    )


def chat_for(agent: Agent, end_user: str = "end-user-1", **options: Any) -> Chat:
    context = RequestContext(tenant=agent.tenant, agent=agent, end_user_id=end_user)
    return Chat(context, **options)


@pytest.fixture
def stub_agent(acme: Tenant, openai_stub: OpenAIStub) -> Agent:
    return publish(
        acme,
        instructions="You are Acme's support agent. Be brief.",
        model="gpt-4.1-mini",
        model_settings={"temperature": 0.2, "top_p": 0.9, "max_output_tokens": 300},
        provider_credential_id=make_credential(acme, openai_stub.base_url).pk,
    )


# --------------------------------------------------------------------------- tests


async def test_the_published_instructions_model_settings_and_tenant_key_reach_the_provider(
    stub_agent: Agent, openai_stub: OpenAIStub
) -> None:
    openai_stub.add("Hello from Acme.")

    events = await chat_for(stub_agent).create("Hi there")

    assert assistant_text(events) == "Hello from Acme."
    request = openai_stub.last_request
    assert request.path == "/v1/responses"
    assert request.api_key == ACME_KEY
    body = request.body
    assert body["model"] == "gpt-4.1-mini"
    assert body["instructions"] == "You are Acme's support agent. Be brief."
    assert (body["temperature"], body["top_p"], body["max_output_tokens"]) == (0.2, 0.9, 300)
    assert body["stream"] is True
    assert body["input"][-1]["content"][-1]["text"] == "Hi there"


async def test_chat_completions_credentials_use_the_chat_completions_endpoint(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    credential = await database_sync_to_async(make_credential)(
        acme, openai_stub.base_url, "chat_completions"
    )
    agent = await database_sync_to_async(publish)(
        acme,
        instructions="Answer in French.",
        model="my-local-model",
        model_settings={"temperature": 0.5},
        provider_credential_id=credential.pk,
    )
    openai_stub.add("Bonjour.")

    events = await chat_for(agent).create("Hello")

    assert assistant_text(events) == "Bonjour."
    request = openai_stub.last_request
    assert request.path == "/v1/chat/completions"
    assert request.api_key == ACME_KEY
    assert request.body["model"] == "my-local-model"
    assert request.body["temperature"] == 0.5
    assert request.body["messages"][0] == {"role": "system", "content": "Answer in French."}


async def test_streamed_text_arrives_as_chatkit_events_and_is_stored(
    stub_agent: Agent, openai_stub: OpenAIStub
) -> None:
    openai_stub.add("One two three four.")
    chat = chat_for(stub_agent)

    events = await chat.create("Count to four")

    updates = [e for e in events if e["type"] == "thread.updated"]
    assert [e for e in kinds(events) if e != "thread.updated"] == [
        "thread.created",
        "thread.item.done:user_message",
        "stream_options",
        "thread.item.added:assistant_message",
        "assistant_message.content_part.added",
        *["assistant_message.content_part.text_delta"] * 4,
        "assistant_message.content_part.done",
        "thread.item.done:assistant_message",
    ]
    # The first user message names the thread, announced once.
    assert [e["thread"]["title"] for e in updates] == ["Count to four"]
    thread_id = thread_id_of(events)
    stored = await chat.items(thread_id)
    assert [item["type"] for item in stored] == ["user_message", "assistant_message"]


async def test_each_agent_item_records_the_version_and_model_that_produced_it(
    stub_agent: Agent, openai_stub: OpenAIStub
) -> None:
    openai_stub.add("First answer.")
    chat = chat_for(stub_agent)
    thread_id = thread_id_of(await chat.create("Hello"))
    await database_sync_to_async(agent_update)(
        tenant=stub_agent.tenant, agent_id=stub_agent.pk, changes={"model": "gpt-4.1"}
    )
    await database_sync_to_async(agent_publish)(tenant=stub_agent.tenant, agent_id=stub_agent.pk)
    openai_stub.add("Second answer.")

    await chat.send(thread_id, "Again")

    rows = await stored_rows(thread_id)
    assert [(r.type, r.agent_version, r.model) for r in rows] == [
        ("user_message", None, None),
        ("assistant_message", 1, "gpt-4.1-mini"),
        ("user_message", None, None),
        ("assistant_message", 2, "gpt-4.1"),
    ]


async def test_two_runs_at_once_on_one_thread_each_stamp_only_their_own_items(
    acme: Tenant,
) -> None:
    agent = await database_sync_to_async(publish)(acme)  # the demo model, version 1
    first_chat, second_chat = chat_for(agent), chat_for(agent)
    thread_id = thread_id_of(await first_chat.create("Hello"))
    first = await first_chat.open(thread_id, "First question")
    await first.read_until("thread.item.added:assistant_message")  # running on version 1
    await database_sync_to_async(agent_publish)(tenant=acme, agent_id=agent.pk)

    second = await second_chat.open(thread_id, "Second question")
    await second.read_until("thread.item.done:assistant_message")  # stored, run still open
    await first.read_to_end()  # the first run ends while the second is still running
    await second.read_to_end()

    rows = await stored_rows(thread_id)
    answers = {
        row.data["content"][0]["text"].split('"')[1]: row.agent_version
        for row in rows
        if row.type == "assistant_message"
    }
    assert answers == {"Hello": 1, "First question": 1, "Second question": 2}
    assert [r.agent_version for r in rows if r.type == "user_message"] == [None] * 3


async def test_the_thread_history_is_sent_on_the_next_turn(
    stub_agent: Agent, openai_stub: OpenAIStub
) -> None:
    openai_stub.add("Nice to meet you, Ada.")
    openai_stub.add("Your name is Ada.")
    chat = chat_for(stub_agent)
    thread_id = thread_id_of(await chat.create("My name is Ada"))

    await chat.send(thread_id, "What is my name?")

    sent = openai_stub.last_request.body["input"]
    texts = [
        (m["role"], m["content"] if isinstance(m["content"], str) else m["content"][0]["text"])
        for m in sent
    ]
    assert texts == [
        ("user", "My name is Ada"),
        ("assistant", "Nice to meet you, Ada."),
        ("user", "What is my name?"),
    ]


async def test_the_demo_model_answers_end_to_end_without_any_key(acme: Tenant) -> None:
    agent = await database_sync_to_async(publish)(acme, instructions="Be helpful.")
    chat = chat_for(agent)

    events = await chat.create("Hello demo")

    text = assistant_text(events)
    assert text.startswith(DEMO_MARKER)
    assert "Hello demo" in text
    assert not errors(events)
    rows = await stored_rows(thread_id_of(events))
    assert (rows[-1].agent_version, rows[-1].model) == (1, "demo")


async def test_the_platform_key_is_used_when_the_agent_has_no_credential(
    acme: Tenant, openai_stub: OpenAIStub, settings: Any
) -> None:
    settings.OPENAI_API_KEY = "sk-platform-0123456789"
    settings.OPENAI_BASE_URL = openai_stub.base_url
    agent = await database_sync_to_async(publish)(acme, model="gpt-4o-mini")
    openai_stub.add("From the platform key.")

    events = await chat_for(agent).create("Hi")

    assert assistant_text(events) == "From the platform key."
    assert openai_stub.last_request.api_key == "sk-platform-0123456789"


async def test_an_unpublished_agent_answers_with_a_clear_error_and_no_model_call(
    acme: Tenant, openai_stub: OpenAIStub
) -> None:
    agent = await database_sync_to_async(agent_create)(tenant=acme, slug="draft", name="Draft")

    events = await chat_for(agent).create("Hello")

    [error] = errors(events)
    assert error["code"] == "custom"
    assert "not been published" in error["message"]
    assert openai_stub.requests == []


async def test_a_suspended_tenant_is_refused_before_any_model_call(
    stub_agent: Agent, openai_stub: OpenAIStub
) -> None:
    await database_sync_to_async(tenant_set_status)(tenant=stub_agent.tenant, status="suspended")

    events = await chat_for(stub_agent).create("Hello")

    [error] = errors(events)
    assert "suspended" in error["message"]
    assert openai_stub.requests == []


# --------------------------------------------------------------------------- provider errors


@pytest.mark.parametrize(
    ("script", "expected", "error_class", "status", "allow_retry"),
    [
        (HTTPError.bad_key(), "rejected this agent's API key", "AuthenticationError", 401, False),
        (HTTPError.rate_limit(), "too many requests", "RateLimitError", 429, True),
        (HTTPError.server_error(), "an error (HTTP 500)", "InternalServerError", 500, True),
        (Turn([], headers_delay=3.0), "did not answer in time", "APITimeoutError", None, True),
    ],
    ids=["401", "429", "500", "timeout"],
)
async def test_provider_failures_become_a_clear_error_event_and_an_audit_event(
    stub_agent: Agent,
    openai_stub: OpenAIStub,
    script: Any,
    expected: str,
    error_class: str,
    status: int | None,
    allow_retry: bool,
) -> None:
    openai_stub.add_turn(script)
    chat = chat_for(stub_agent, model_timeout_seconds=0.5)

    events = await chat.create("Hello")

    [error] = errors(events)
    assert error["code"] == "custom"
    assert expected in error["message"]
    assert error["allow_retry"] is allow_retry
    [audit] = await audit_actions(stub_agent.tenant, "agent.run_failed")
    assert (audit.target_type, audit.target_id) == ("agent", str(stub_agent.pk))
    assert audit.after["error"] == error_class
    assert audit.after["status"] == status
    assert audit.after["version"] == 1
    assert audit.actor_label == "end_user:end-user-1"
    # The thread keeps the user's message, and only that: it can be retried as it is.
    thread_id = thread_id_of(events)
    assert [item["type"] for item in await chat.items(thread_id)] == ["user_message"]


async def test_keys_in_a_provider_error_are_redacted_from_the_audit_event_and_the_log(
    stub_agent: Agent, openai_stub: OpenAIStub, caplog: pytest.LogCaptureFixture
) -> None:
    openai_stub.add_turn(
        HTTPError(
            401,
            f"Incorrect API key provided: {ACME_KEY}. Masked: sk-proj-ab12****wxyz; "
            "sent as Authorization: Bearer tok_0123456789abcdef.",
            "invalid_request_error",
            "invalid_api_key",
        )
    )

    with caplog.at_level(logging.INFO):
        events = await chat_for(stub_agent).create("Hello")

    assert "rejected this agent's API key" in errors(events)[0]["message"]
    [audit] = await audit_actions(stub_agent.tenant, "agent.run_failed")
    message = audit.after["message"]
    assert "Incorrect API key provided: [redacted]. Masked: sk-[redacted]" in message
    assert "Bearer [redacted]" in message
    for secret in (ACME_KEY, "ab12****wxyz", "tok_0123456789abcdef"):
        assert secret not in message
        assert secret not in caplog.text


def test_redact_removes_the_given_secrets_and_anything_shaped_like_a_key() -> None:
    text = "key abc123secret, sk-live_0123456789 and bearer eyJhbGciOi.x.y; sk is fine"

    assert redact(text, ["abc123secret", ""]) == (
        "key [redacted], sk-[redacted] and Bearer [redacted]; sk is fine"
    )


async def test_a_failure_in_the_middle_of_an_answer_removes_the_half_streamed_message(
    stub_agent: Agent, openai_stub: OpenAIStub
) -> None:
    from tests.support.openai_stub import StreamError, Text

    openai_stub.add(Text("This answer never ends", unfinished=True), StreamError())
    chat = chat_for(stub_agent)

    events = await chat.create("Hello")

    added = [e["item"]["id"] for e in events if e["type"] == "thread.item.added"]
    removed = [e["item_id"] for e in events if e["type"] == "thread.item.removed"]
    # Under load openai-agents may drop the queued partial message when the stream fails,
    # so the client sees it or not; whatever it saw is taken back.
    assert removed == added
    assert len(errors(events)) == 1
    assert [item["type"] for item in await chat.items(thread_id_of(events))] == ["user_message"]


async def test_a_thread_can_go_on_after_a_provider_failure(
    stub_agent: Agent, openai_stub: OpenAIStub
) -> None:
    openai_stub.add_error(429)
    openai_stub.add("Back again.")
    chat = chat_for(stub_agent)
    thread_id = thread_id_of(await chat.create("Hello"))

    events = await chat.send(thread_id, "Hello?")

    assert assistant_text(events) == "Back again."
    assert [i["type"] for i in await chat.items(thread_id)] == [
        "user_message",
        "user_message",
        "assistant_message",
    ]


# --------------------------------------------------------------------------- usage and quota


async def test_token_usage_is_recorded_per_tenant_agent_and_day(
    stub_agent: Agent, openai_stub: OpenAIStub
) -> None:
    openai_stub.add("One.")  # the stub reports 11 input and 7 output tokens per turn
    openai_stub.add("Two.")
    chat = chat_for(stub_agent)
    thread_id = thread_id_of(await chat.create("Hello"))
    await chat.send(thread_id, "Again")

    rows = await database_sync_to_async(list)(UsageDaily.objects.for_tenant(stub_agent.tenant_id))

    [row] = rows
    assert (row.agent_id, row.day) == (stub_agent.pk, datetime.now(UTC).date())
    assert (row.runs, row.input_tokens, row.output_tokens) == (2, 22, 14)


async def test_an_exhausted_quota_is_refused_before_any_model_call(
    stub_agent: Agent, openai_stub: OpenAIStub
) -> None:
    tenant = stub_agent.tenant
    await database_sync_to_async(tenant_update)(tenant=tenant, changes={"monthly_token_quota": 100})
    await database_sync_to_async(usage_record)(
        tenant_id=tenant.pk, agent_id=stub_agent.pk, input_tokens=60, output_tokens=40
    )
    openai_stub.add("Never sent.")

    events = await chat_for(stub_agent).create("Hello")

    [error] = errors(events)
    assert "used all of its tokens for this month" in error["message"]
    assert openai_stub.requests == []


async def test_a_run_under_the_quota_is_served(stub_agent: Agent, openai_stub: OpenAIStub) -> None:
    tenant = stub_agent.tenant
    await database_sync_to_async(tenant_update)(tenant=tenant, changes={"monthly_token_quota": 100})
    await database_sync_to_async(usage_record)(
        tenant_id=tenant.pk, agent_id=stub_agent.pk, input_tokens=60, output_tokens=39
    )
    openai_stub.add("Still fine.")

    events = await chat_for(stub_agent).create("Hello")

    assert assistant_text(events) == "Still fine."


@pytest.mark.parametrize(
    ("configured", "quota", "used", "sent"),
    [
        (300, 1000, 960, 40),
        (300, 100_000, 0, 300),
        (None, 1000, 960, 40),
        (None, 10**9, 0, None),  # above QUOTA_CAP_FLOOR: the model's own limit applies
    ],
    ids=["quota-lowers-the-cap", "smaller-cap-kept", "quota-is-the-cap", "large-quota-no-cap"],
)
async def test_the_output_tokens_sent_to_the_model_are_capped_at_the_quota_left(
    acme: Tenant,
    openai_stub: OpenAIStub,
    configured: int | None,
    quota: int,
    used: int,
    sent: int | None,
) -> None:
    settings = {"max_output_tokens": configured} if configured else {}
    credential = await database_sync_to_async(make_credential)(acme, openai_stub.base_url)
    agent = await database_sync_to_async(publish)(
        acme, model="gpt-4.1", model_settings=settings, provider_credential_id=credential.pk
    )
    await database_sync_to_async(tenant_update)(tenant=acme, changes={"monthly_token_quota": quota})
    await database_sync_to_async(usage_record)(
        tenant_id=acme.pk, agent_id=agent.pk, input_tokens=used, output_tokens=0
    )
    openai_stub.add("Short.")

    await chat_for(agent).create("Hello")

    assert openai_stub.last_request.body.get("max_output_tokens") == sent


async def test_a_failed_usage_write_is_retried_once(
    stub_agent: Agent, openai_stub: OpenAIStub
) -> None:
    openai_stub.add("Counted.")
    calls: list[int] = []

    def flaky(**usage: Any) -> None:
        calls.append(usage["output_tokens"])
        if len(calls) == 1:
            raise OperationalError("the database went away")
        usage_record(**usage)

    with mock.patch("hosted_agents.metering.usage_record", autospec=True, side_effect=flaky):
        events = await chat_for(stub_agent).create("Hello")

    assert assistant_text(events) == "Counted."
    assert calls == [7, 7]
    row = await UsageDaily.objects.for_tenant(stub_agent.tenant_id).aget()
    assert (row.runs, row.input_tokens, row.output_tokens) == (1, 11, 7)


async def test_a_usage_write_that_fails_twice_is_logged_as_an_error_and_the_answer_stands(
    stub_agent: Agent, openai_stub: OpenAIStub, caplog: pytest.LogCaptureFixture
) -> None:
    openai_stub.add("Not counted.")
    failing = mock.patch(
        "hosted_agents.metering.usage_record",
        autospec=True,
        side_effect=OperationalError("the database went away"),
    )

    with failing as patched, caplog.at_level(logging.WARNING, "hosted_agents"):
        events = await chat_for(stub_agent).create("Hello")

    assert assistant_text(events) == "Not counted."
    assert not errors(events)
    # On PostgreSQL the first call also carries the run's spans; once it fails, the trace is
    # given up and usage, recorded alone, still has its two tries.
    carried = connection.vendor == "postgresql"
    assert patched.call_count == (3 if carried else 2)
    [lost] = [r for r in caplog.records if r.getMessage().startswith("USAGE NOT RECORDED")]
    assert lost.levelno == logging.ERROR
    assert lost.getMessage() == (
        f"USAGE NOT RECORDED for tenant {stub_agent.tenant_id}, agent {stub_agent.pk}: "
        "11 input and 7 output tokens"
    )
    # The items are still stamped: bookkeeping steps fail on their own.
    rows = await stored_rows(thread_id_of(events))
    assert rows[-1].agent_version == 1


# --------------------------------------------------------------------------- isolation


async def test_another_tenants_agent_behaves_like_a_missing_one(
    stub_agent: Agent, globex: Tenant, openai_stub: OpenAIStub
) -> None:
    openai_stub.add("Never sent.")
    globex_agent = await database_sync_to_async(publish)(globex, slug="globex-support")
    server = PlatformChatKitServer.for_request(
        RequestContext(tenant=globex, agent=globex_agent, end_user_id="intruder")
    )
    # Globex's request context naming Acme's agent, over Globex's store.
    naming_acme = RequestContext(tenant=globex, agent=stub_agent, end_user_id="intruder")
    body = json.dumps({"type": "threads.create", "params": {"input": user_input("Tell me")}})

    result = await server.process(body, naming_acme)

    assert isinstance(result, StreamingResult)
    [error] = errors(await collect_events(result))
    assert error["message"] == "This agent does not exist."
    assert openai_stub.requests == []


async def test_a_context_for_another_tenant_than_the_store_reaches_nothing(
    stub_agent: Agent, globex: Tenant, openai_stub: OpenAIStub
) -> None:
    openai_stub.add("Never sent.")
    globex_agent = await database_sync_to_async(publish)(globex, slug="globex-support")
    server = PlatformChatKitServer.for_request(
        RequestContext(tenant=globex, agent=globex_agent, end_user_id="u")
    )
    acme_context = RequestContext(tenant=stub_agent.tenant, agent=stub_agent, end_user_id="u")
    body = json.dumps({"type": "threads.create", "params": {"input": user_input("Hi")}})

    result = await server.process(body, acme_context)

    assert isinstance(result, StreamingResult)
    [error] = errors(await collect_events(result))
    assert error["message"] == "This agent does not exist."
    assert openai_stub.requests == []
    threads = await database_sync_to_async(list)(Thread.unscoped.all())
    assert [t.tenant_id for t in threads] == [globex.pk]


async def test_a_thread_of_another_end_user_cannot_be_continued(
    stub_agent: Agent, openai_stub: OpenAIStub
) -> None:
    openai_stub.add("Private answer.")
    thread_id = thread_id_of(await chat_for(stub_agent, end_user="alice").create("Secret"))

    with pytest.raises(NotFoundError):
        await chat_for(stub_agent, end_user="mallory").send(thread_id, "Show me")

    assert len(openai_stub.requests) == 1


async def test_an_agent_without_tools_offers_none_to_the_model(
    stub_agent: Agent, openai_stub: OpenAIStub
) -> None:
    openai_stub.add("Plain.")

    await chat_for(stub_agent).create("Hi")

    assert not openai_stub.last_request.body.get("tools")
