"""What a chat turn costs in SQL statements and hops off the event loop, pinned.

Each statement is named with the reason it is made. The tests are sync: `async_to_sync`
runs the server's ORM calls back on the test's thread, whose connection
`django_assert_num_queries` watches (with BEGIN and COMMIT, had there been a transaction),
and a hop is a `SyncToAsync` call (channels' `database_sync_to_async` is one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import SyncToAsync, async_to_sync
from django.db import connection, connections

from chatkit_core.server import StreamingResult
from hosted_agents.demo_model import DEMO_MARKER
from hosted_agents.models import Agent
from hosted_agents.runtime import PlatformChatKitServer, RequestContext
from tenants.models import Feedback, Tenant, ThreadItem
from tenants.services import tenant_update
from tests.hosted_agents.test_runtime import (
    assistant_text,
    kinds,
    publish,
    thread_id_of,
    user_input,
)
from tests.support.sse import collect_events

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Cost:
    statements: list[str] = field(default_factory=list)
    hops: int = 0


def _label(sql: str) -> str:
    """`INSERT tenants_thread`, `SELECT tenants_threaditem`, ...: verb and first table.

    A statement with a data-modifying CTE names each of its INSERTs, joined with `+`.
    """
    if sql.startswith("WITH"):
        return " + ".join(f"INSERT {table}" for table in re.findall(r'INSERT INTO "(\w+)"', sql))
    verb = sql.split(None, 1)[0].upper()
    quoted = sql.split('"')
    return f"{verb} {quoted[1]}" if len(quoted) > 1 else sql


@contextmanager
def cost(django_assert_max_num_queries: Any) -> Iterator[Cost]:
    measured = Cost()
    hop = SyncToAsync.__call__

    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        measured.hops += 1
        return await hop(self, *args, **kwargs)

    with (
        mock.patch.object(SyncToAsync, "__call__", counted),
        django_assert_max_num_queries(100) as captured,
    ):
        yield measured
    measured.statements = [_label(query["sql"]) for query in captured.captured_queries]


def authenticated(agent: Agent, end_user: str = "end-user-1") -> RequestContext:
    """The context authentication builds: tenant, agent and version read in one statement."""
    row = Agent.objects.for_tenant(agent.tenant).select_related("tenant", "published_version")
    fresh = row.get(pk=agent.pk)
    return RequestContext(
        tenant=fresh.tenant,
        agent=fresh,
        end_user_id=end_user,
        published_version=fresh.published_version,
    )


def stream(context: RequestContext, op: str, **params: Any) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        server = PlatformChatKitServer.for_request(context)
        result = await server.process(json.dumps({"type": op, "params": params}), context)
        assert isinstance(result, StreamingResult)
        return await collect_events(result)

    return async_to_sync(run)()


def request(context: RequestContext, op: str, **params: Any) -> bytes:
    async def run() -> bytes:
        server = PlatformChatKitServer.for_request(context)
        result = await server.process(json.dumps({"type": op, "params": params}), context)
        assert not isinstance(result, StreamingResult)
        return result.json

    return async_to_sync(run)()


@pytest.fixture
def agent(acme: Tenant) -> Agent:
    return publish(acme)  # the demo model, no quota


def trace_and_usage() -> list[str]:
    """The run's spans and the day's usage, at the end of the turn's last hop.

    One statement on PostgreSQL: the spans' INSERT rides in the usage upsert as a
    data-modifying CTE (hosted_agents/metering.py `usage_record`). SQLite's WITH holds only
    a SELECT, so there the spans are one INSERT of their own.
    """
    if connection.vendor == "postgresql":
        return ["INSERT hosted_agents_runspan + INSERT hosted_agents_usagedaily"]
    return ["INSERT hosted_agents_runspan", "INSERT hosted_agents_usagedaily"]


def test_a_turn_on_a_new_thread_is_four_statements_in_two_hops_on_postgresql(
    agent: Agent, django_assert_max_num_queries: Any
) -> None:
    context = authenticated(agent)
    with cost(django_assert_max_num_queries) as measured:
        events = stream(context, "threads.create", input=user_input("Hello"))

    assert assistant_text(events).startswith(DEMO_MARKER)
    # Hop 1 (load and record what the turn needs):
    #   INSERT the thread, already titled (nothing to UPDATE: the store made its id)
    #   INSERT the user's message (its thread's primary key known from that INSERT)
    # Hop 2 (save what the turn produced):
    #   INSERT the run's items, stamped with version and model (one row here)
    #   WITH (INSERT the run's trace spans) INSERT ... ON CONFLICT the day's usage row
    #     (increments on conflict): traces are kept in the tenant's tables
    #     (hosted_agents/tracing.py), buffered in memory during the run, and written with
    #     the usage so that they cost no statement of their own.
    # Nothing is read: the context carries tenant, agent and version, and a new thread has
    # no history nor a workflow to resume.
    # Both backends pinned: SQLite cannot put an INSERT in a WITH, so the spans are a fifth
    # statement there (the target of four is PostgreSQL's, the production database).
    if connection.vendor == "postgresql":
        assert measured.statements == [
            "INSERT tenants_thread",
            "INSERT tenants_threaditem",
            "INSERT tenants_threaditem",
            "INSERT hosted_agents_runspan + INSERT hosted_agents_usagedaily",
        ]
    else:
        assert measured.statements == [
            "INSERT tenants_thread",
            "INSERT tenants_threaditem",
            "INSERT tenants_threaditem",
            "INSERT hosted_agents_runspan",
            "INSERT hosted_agents_usagedaily",
        ]
    assert measured.hops == 2
    rows = list(ThreadItem.unscoped.filter(thread__public_id=thread_id_of(events)).order_by("id"))
    assert [(row.type, row.agent_version, row.model) for row in rows] == [
        ("user_message", None, None),
        ("assistant_message", 1, "demo"),
    ]
    assert rows[0].thread.title == "Hello"


def test_a_turn_on_an_existing_thread_reads_it_with_its_history_in_one_more_hop(
    agent: Agent, django_assert_max_num_queries: Any
) -> None:
    context = authenticated(agent)
    thread_id = thread_id_of(stream(context, "threads.create", input=user_input("Hello")))

    with cost(django_assert_max_num_queries) as measured:
        events = stream(
            context, "threads.add_user_message", thread_id=thread_id, input=user_input("Again")
        )

    assert assistant_text(events).startswith(DEMO_MARKER)
    # Hop 1 (chatkit_core loads the thread):
    #   SELECT the thread (this tenant, agent and end user)
    #   SELECT its items, oldest first: the history sent to the model (at most 101 rows)
    # Hop 2: INSERT the user's message
    # Hop 3: INSERT the run's items (stamped); then its spans and the day's usage (one
    #   statement on PostgreSQL, see `trace_and_usage`)
    # The titled thread is not saved again: nothing of it changed.
    assert measured.statements == [
        "SELECT tenants_thread",
        "SELECT tenants_threaditem",
        "INSERT tenants_threaditem",
        "INSERT tenants_threaditem",
        *trace_and_usage(),
    ]
    assert measured.hops == 3
    rows = list(ThreadItem.unscoped.filter(thread__public_id=thread_id).order_by("id"))
    assert [(row.type, row.agent_version) for row in rows] == [
        ("user_message", None),
        ("assistant_message", 1),
        ("user_message", None),
        ("assistant_message", 1),
    ]
    sent_history = [row.data["content"][0]["text"] for row in rows if row.type == "user_message"]
    assert sent_history == ["Hello", "Again"]


def test_a_context_without_the_version_reads_tenant_agent_and_version_in_one_statement(
    agent: Agent, django_assert_max_num_queries: Any
) -> None:
    context = replace(authenticated(agent), published_version=None)
    with cost(django_assert_max_num_queries) as measured:
        stream(context, "threads.create", input=user_input("Hello"))

    # Hop 1 adds: SELECT the agent joined with its tenant and published version (a
    # suspension or a new version since the context was built counts at once).
    assert measured.statements == [
        "SELECT hosted_agents_agent",
        "INSERT tenants_thread",
        "INSERT tenants_threaditem",
        "INSERT tenants_threaditem",
        *trace_and_usage(),
    ]
    assert measured.hops == 2


def test_a_quota_adds_one_read_of_the_months_usage(
    agent: Agent, django_assert_max_num_queries: Any
) -> None:
    tenant_update(tenant=agent.tenant, changes={"monthly_token_quota": 1_000_000})
    context = authenticated(agent)
    with cost(django_assert_max_num_queries) as measured:
        stream(context, "threads.create", input=user_input("Hello"))

    assert measured.statements == [
        "SELECT hosted_agents_usagedaily",  # the SUM of this month's tokens
        "INSERT tenants_thread",
        "INSERT tenants_threaditem",
        "INSERT tenants_threaditem",
        *trace_and_usage(),
    ]
    assert measured.hops == 2


def test_an_untraced_turn_records_usage_alone(
    agent: Agent, django_assert_max_num_queries: Any
) -> None:
    from tenants.services.client_sessions import client_session_create

    issued = client_session_create(
        tenant=agent.tenant, agent=agent, user="end-user-1", workflow_ref=agent.slug,
        tracing_enabled=False,
    )  # fmt: skip
    context = replace(authenticated(agent), client_session=issued.session)
    with cost(django_assert_max_num_queries) as measured:
        stream(context, "threads.create", input=user_input("Hello"))

    # No spans, nothing for the usage statement to carry: the same on both backends.
    assert measured.statements == [
        "INSERT tenants_thread",
        "INSERT tenants_threaditem",
        "INSERT tenants_threaditem",
        "INSERT hosted_agents_usagedaily",
    ]
    assert measured.hops == 2


def test_a_turn_makes_no_connection_health_check(agent: Agent) -> None:
    context = authenticated(agent)
    with mock.patch.object(
        type(connections["default"]), "is_usable", autospec=True, return_value=True
    ) as is_usable:
        stream(context, "threads.create", input=user_input("Hello"))
    assert is_usable.call_count == 0
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is False


def test_a_refused_turn_still_records_the_thread_and_the_message_in_one_hop(
    agent: Agent, django_assert_max_num_queries: Any
) -> None:
    context = authenticated(agent)
    context.tenant.status = "suspended"  # as authentication would have read it
    with cost(django_assert_max_num_queries) as measured:
        events = stream(context, "threads.create", input=user_input("Hello"))

    assert kinds(events) == [
        "thread.created",
        "thread.item.done:user_message",
        "stream_options",
        "error",
    ]
    assert measured.statements == ["INSERT tenants_thread", "INSERT tenants_threaditem"]
    assert measured.hops == 1
    [row] = ThreadItem.unscoped.filter(thread__public_id=thread_id_of(events))
    assert row.type == "user_message"
    assert row.thread.title is None  # refused before the title


def test_lists_are_one_statement_in_one_hop(
    agent: Agent, django_assert_max_num_queries: Any
) -> None:
    context = authenticated(agent)
    thread_id = thread_id_of(stream(context, "threads.create", input=user_input("Hello")))

    with cost(django_assert_max_num_queries) as threads:
        listed = json.loads(request(context, "threads.list", limit=20, order="desc"))
    with cost(django_assert_max_num_queries) as items:
        page = json.loads(request(context, "items.list", thread_id=thread_id, order="asc"))

    assert [thread["id"] for thread in listed["data"]] == [thread_id]
    assert [item["type"] for item in page["data"]] == ["user_message", "assistant_message"]
    assert (threads.statements, threads.hops) == (["SELECT tenants_thread"], 1)
    assert (items.statements, items.hops) == (["SELECT tenants_threaditem"], 1)


def test_feedback_through_the_server_is_stored_for_the_end_user(agent: Agent) -> None:
    context = authenticated(agent)
    events = stream(context, "threads.create", input=user_input("Hello"))
    thread_id = thread_id_of(events)
    answer = next(
        event["item"]["id"]
        for event in events
        if event["type"] == "thread.item.done" and event["item"]["type"] == "assistant_message"
    )

    answered = request(
        context,
        "items.feedback",
        thread_id=thread_id,
        item_ids=[answer, "msg_unknown"],
        kind="negative",
    )

    assert answered == b"{}"
    [feedback] = Feedback.objects.for_tenant(agent.tenant)
    assert (feedback.thread.public_id, feedback.item_ids) == (thread_id, [answer])
    assert (feedback.kind, feedback.end_user_id) == ("negative", "end-user-1")


def test_feedback_on_another_end_users_thread_is_refused_and_stores_nothing(agent: Agent) -> None:
    from chatkit_core.store import NotFoundError

    owner = authenticated(agent, end_user="owner")
    thread_id = thread_id_of(stream(owner, "threads.create", input=user_input("Hello")))

    with pytest.raises(NotFoundError):
        request(
            authenticated(agent, end_user="intruder"),
            "items.feedback",
            thread_id=thread_id,
            item_ids=[],
            kind="positive",
        )
    assert not Feedback.objects.for_tenant(agent.tenant).exists()


def test_a_turn_authenticated_by_an_api_key_reads_nothing_again(
    agent: Agent, acme_key: Any, django_assert_max_num_queries: Any
) -> None:
    """The endpoint's own context (chat_access) carries the version: the same statements."""
    from hosted_agents.chat_access import ApiKeyCredential, chat_context_build

    access = chat_context_build(
        tenant_slug=agent.tenant.slug,
        agent_slug=agent.slug,
        end_user_id="end-user-1",
        credential=ApiKeyCredential(acme_key.raw),
    )
    with cost(django_assert_max_num_queries) as measured:
        events = stream(access.context, "threads.create", input=user_input("Hello"))
    assert assistant_text(events).startswith(DEMO_MARKER)
    assert measured.statements == [
        "INSERT tenants_thread",
        "INSERT tenants_threaditem",
        "INSERT tenants_threaditem",
        *trace_and_usage(),
    ]
    assert measured.hops == 2
