"""A run's spans and its usage, written at the end of the turn: together on PostgreSQL.

On PostgreSQL the spans' INSERT rides in the usage upsert as a data-modifying CTE
(hosted_agents/metering.py `usage_record`); on SQLite they are two statements. Either way
usage is recorded whatever happens to the trace, and a trace is written whole or not at all.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hosted_agents.metering import usage_record_or_log
from hosted_agents.models import Agent, RunSpan, UsageDaily
from hosted_agents.tracing import PlatformTraceProcessor, SpanRecord, run_spans_insert_sql
from tenants.models import Tenant, Thread
from tests.hosted_agents.test_runtime import (
    assistant_text,
    chat_for,
    make_credential,
    no_platform_key,
    openai_stub,
    publish,
    thread_id_of,
)
from tests.support.openai_stub import OpenAIStub

pytestmark = pytest.mark.django_db(transaction=True)

_ = (no_platform_key, openai_stub)  # fixtures shared with test_runtime.py

ON_POSTGRESQL = connection.vendor == "postgresql"


@pytest.fixture
def agent(acme: Tenant, openai_stub: OpenAIStub) -> Agent:
    return publish(
        acme, model="gpt-4.1", provider_credential_id=make_credential(acme, openai_stub.base_url).pk
    )


def span(span_id: str, **fields: Any) -> SpanRecord:
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    given: dict[str, Any] = {"kind": "other", "name": "extra", **fields}
    return SpanRecord(span_id=span_id, parent_id="", started_at=started, ended_at=started, **given)


def usage_of(tenant: Tenant) -> tuple[int, int, int]:
    row = UsageDaily.objects.for_tenant(tenant).get()
    return row.runs, row.input_tokens, row.output_tokens


def test_two_turns_write_their_spans_and_add_up_their_usage_in_one_statement_each(
    agent: Agent, openai_stub: OpenAIStub
) -> None:
    openai_stub.add("One.")
    openai_stub.add("Two.")
    chat = chat_for(agent)
    with CaptureQueriesContext(connection) as captured:
        first = async_to_sync(chat.create)("Hello")
        thread_id = thread_id_of(first)
        second = async_to_sync(chat.send)(thread_id, "Again")

    assert (assistant_text(first), assistant_text(second)) == ("One.", "Two.")
    combined = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("WITH")]
    spans_alone = [
        q["sql"] for q in captured.captured_queries
        if q["sql"].startswith('INSERT INTO "hosted_agents_runspan"')
    ]  # fmt: skip
    if ON_POSTGRESQL:
        assert (len(combined), spans_alone) == (2, [])
        assert all('INSERT INTO "hosted_agents_usagedaily"' in sql for sql in combined)
    else:
        assert (combined, len(spans_alone)) == ([], 2)
    # The second turn found the first one's row for the day: increments on conflict.
    assert usage_of(agent.tenant) == (2, 22, 14)
    thread = Thread.objects.for_tenant(agent.tenant).get(public_id=thread_id)
    spans = list(RunSpan.objects.for_tenant(agent.tenant).order_by("started_at"))
    assert {s.thread_id for s in spans} == {thread.pk}
    assert len({s.trace_id for s in spans}) == 2
    models = [s for s in spans if s.kind == "model"]
    assert [(s.model, s.input_tokens, s.output_tokens) for s in models] == [("gpt-4.1", 11, 7)] * 2
    assert [s.kind for s in spans] == ["agent", "model"] * 2


@pytest.mark.skipif(not ON_POSTGRESQL, reason="only PostgreSQL carries the spans' INSERT")
def test_spans_of_a_thread_known_only_by_its_id_are_carried_with_the_usage(
    agent: Agent, globex: Tenant, openai_stub: OpenAIStub
) -> None:
    openai_stub.add("One.")
    thread_id = thread_id_of(async_to_sync(chat_for(agent).create)("Hello"))
    # The same public id in another tenant must not be the one found.
    Thread.objects.for_tenant(globex).create(public_id=thread_id, created_at=datetime.now(UTC))
    RunSpan.objects.for_tenant(agent.tenant).delete()
    trace = run_spans_insert_sql(
        tenant=agent.tenant, thread_id=thread_id, thread_pk=None, trace_id="trace_x",
        item_id="msg_x", agent_version=1, spans=[span("span_1", data={"when": "now"})],
    )  # fmt: skip

    with CaptureQueriesContext(connection) as captured:
        recorded = usage_record_or_log(
            tenant_id=agent.tenant.pk, agent_id=agent.pk, input_tokens=5, output_tokens=3,
            trace=trace,
        )  # fmt: skip

    assert recorded and len(captured.captured_queries) == 1
    [row] = RunSpan.objects.for_tenant(agent.tenant)
    thread = Thread.objects.for_tenant(agent.tenant).get(public_id=thread_id)
    assert (row.thread_id, row.trace_id, row.data) == (thread.pk, "trace_x", {"when": "now"})
    assert row.started_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert usage_of(agent.tenant) == (2, 16, 10)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(span("span_bad", data={"value": object()}), id="unserialisable-data"),
        pytest.param(span("span_bad", kind="k" * 21), id="too-long-for-its-column"),
    ],
)
def test_a_span_the_table_refuses_loses_the_whole_trace_and_usage_is_still_recorded(
    agent: Agent, openai_stub: OpenAIStub, caplog: pytest.LogCaptureFixture, bad: SpanRecord
) -> None:
    if bad.kind != "other" and not ON_POSTGRESQL:
        pytest.skip("SQLite does not enforce a column's length")
    openai_stub.add("Counted.")
    released = PlatformTraceProcessor.release

    def with_a_bad_span(processor: PlatformTraceProcessor, trace_id: str) -> list[SpanRecord]:
        return [*released(processor, trace_id), bad]  # after the run's good spans

    release = mock.patch.object(
        PlatformTraceProcessor, "release", autospec=True, side_effect=with_a_bad_span
    )
    with release, caplog.at_level(logging.WARNING, "hosted_agents"):
        events = async_to_sync(chat_for(agent).create)("Hello")

    assert assistant_text(events) == "Counted."
    assert usage_of(agent.tenant) == (1, 11, 7)
    assert not RunSpan.objects.for_tenant(agent.tenant).exists()  # none of the good ones
    [lost] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert lost.getMessage().startswith(f"Recording the trace of a run of agent {agent.pk} failed")
    # On PostgreSQL the combined statement failed whole, and usage was then written alone.
    assert lost.getMessage().endswith("recording its usage alone") == ON_POSTGRESQL
    assert lost.exc_info is not None
