"""Agent drafts, publishing, rollback and tool definitions, through the services and
selectors; every lookup is by tenant, and another tenant's row looks missing."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hosted_agents.exceptions import (
    AlreadyExists,
    ImmutableVersionError,
    InvalidInput,
    ObjectNotFound,
    QuotaExhausted,
)
from hosted_agents.metering import quota_check, usage_record
from hosted_agents.models import Agent, AgentVersion, HttpTool, UsageDaily
from hosted_agents.selectors import (
    agent_get,
    agent_version_get,
    agent_version_list,
    client_tool_get,
    http_tool_get,
    http_tool_headers,
    usage_tokens_since,
)
from hosted_agents.services import (
    agent_create,
    agent_delete,
    agent_publish,
    agent_rollback,
    agent_update,
    client_tool_create,
    client_tool_delete,
    client_tool_update,
    http_tool_create,
    http_tool_delete,
    http_tool_update,
)
from hosted_agents.tools import registry
from tenants.models import AuditEvent, Tenant
from tenants.services import provider_credential_create, provider_credential_delete, tenant_update

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


def weather(tenant: Tenant, name: str = "weather") -> HttpTool:
    return http_tool_create(
        tenant=tenant,
        name=name,
        description="Weather for a city.",
        url_template="https://api.example.com/weather/{city}",
        headers={"X-Api-Key": "weather-key-0123456789"},
        args_schema=WEATHER_SCHEMA,
    )


# --------------------------------------------------------------------------- drafts


def test_a_new_agent_is_an_unpublished_draft(acme: Tenant) -> None:
    agent = agent_create(tenant=acme, slug="support", name="Support", instructions="Help.")

    assert agent.published_version is None
    assert agent_get(tenant=acme, slug="support").instructions == "Help."
    assert AuditEvent.objects.for_tenant(acme).filter(action="agent.create").exists()


def test_agent_slugs_are_unique_per_tenant_only(acme: Tenant, globex: Tenant) -> None:
    agent_create(tenant=acme, slug="support", name="Support")
    agent_create(tenant=globex, slug="support", name="Support")

    with pytest.raises(AlreadyExists):
        agent_create(tenant=acme, slug="support", name="Other")


@pytest.mark.parametrize(
    ("draft", "field"),
    [
        ({"slug": "Not A Slug"}, "slug"),
        ({"model_settings": {"temperature": 3}}, "model_settings"),
        ({"model_settings": {"seed": 1}}, "model_settings"),
        ({"model_settings": {"reasoning_effort": "high"}}, "model_settings"),
        ({"model_settings": {"tool_choice": "calculator"}}, "model_settings"),
        ({"code_tools": ["no_such_tool"]}, "code_tools"),
        ({"http_tools": [987654]}, "http_tools"),
        ({"starter_prompts": ["ok", ""]}, "starter_prompts"),
        ({"colour": "blue"}, "colour"),
    ],
    ids=lambda value: str(value),
)
def test_an_invalid_draft_is_refused_naming_its_field(
    acme: Tenant, draft: dict[str, object], field: str
) -> None:
    fields = {"slug": "support", "name": "Support", "model": "gpt-4.1"} | draft

    with pytest.raises(InvalidInput) as refused:
        agent_create(tenant=acme, **fields)  # type: ignore[arg-type]

    assert refused.value.field == field


def test_reasoning_effort_is_accepted_for_reasoning_models(acme: Tenant) -> None:
    agent = agent_create(
        tenant=acme,
        slug="thinker",
        name="Thinker",
        model="o4-mini",
        model_settings={"reasoning_effort": "low", "temperature": None},
    )

    assert agent.model_settings == {"reasoning_effort": "low"}


def test_an_agent_cannot_use_another_tenants_credential_or_tools(
    acme: Tenant, globex: Tenant
) -> None:
    credential = provider_credential_create(
        tenant=globex, name="globex", kind="openai", secret="sk-globex-0123456789abcdef"
    )
    globex_tool = weather(globex)

    with pytest.raises(InvalidInput, match="no such provider credential"):
        agent_create(tenant=acme, slug="a", name="A", provider_credential_id=credential.pk)
    with pytest.raises(InvalidInput, match="no such tool"):
        agent_create(tenant=acme, slug="b", name="B", http_tools=[globex_tool.pk])


def test_two_selected_tools_with_one_name_are_refused(acme: Tenant) -> None:
    tool = client_tool_create(tenant=acme, name="calculator", description="Client calculator.")

    with pytest.raises(InvalidInput, match="two selected tools are named 'calculator'"):
        agent_create(
            tenant=acme, slug="a", name="A", code_tools=["calculator"], client_tools=[tool.pk]
        )


# --------------------------------------------------------------------------- publish, rollback


def test_publishing_freezes_the_whole_draft_with_its_tools_resolved(acme: Tenant) -> None:
    tool = weather(acme)
    agent = agent_create(
        tenant=acme,
        slug="support",
        name="Support",
        instructions="v1",
        model="gpt-4.1",
        model_settings={"temperature": 0.1},
        code_tools=["calculator"],
        http_tools=[tool.pk],
        greeting="Hello!",
        starter_prompts=["Weather in Paris?"],
    )

    version = agent_publish(tenant=acme, agent_id=agent.pk)

    assert version.number == 1
    config = version.config
    assert (config["instructions"], config["model"]) == ("v1", "gpt-4.1")
    assert config["model_settings"] == {"temperature": 0.1}
    assert (config["greeting"], config["starter_prompts"]) == ("Hello!", ["Weather in Paris?"])
    code, http = config["tools"]
    assert (code["kind"], code["name"], code["long_running"]) == ("code", "calculator", False)
    assert http == {
        "kind": "http",
        "id": tool.pk,
        "name": "weather",
        "description": "Weather for a city.",
        "method": "GET",
        "url_template": "https://api.example.com/weather/{city}",
        "args_schema": WEATHER_SCHEMA,
        "time_limit_seconds": 10.0,
        "max_response_bytes": 65536,
        "header_names": ["X-Api-Key"],
    }
    assert "weather-key" not in str(config)  # header values stay in the tool's row
    agent.refresh_from_db()
    assert agent.published_version_id == version.pk
    [audit] = AuditEvent.objects.for_tenant(acme).filter(action="agent.publish")
    assert audit.after == {"version": 1, "model": "gpt-4.1"}


def test_editing_the_draft_does_not_change_the_published_version(acme: Tenant) -> None:
    agent = agent_create(tenant=acme, slug="support", name="Support", instructions="v1")
    agent_publish(tenant=acme, agent_id=agent.pk)

    agent_update(tenant=acme, agent_id=agent.pk, changes={"instructions": "v2 draft"})

    agent.refresh_from_db()
    assert agent.instructions == "v2 draft"
    assert agent.published_version is not None
    assert agent.published_version.config["instructions"] == "v1"


def test_a_saved_version_cannot_be_changed(acme: Tenant) -> None:
    agent = agent_create(tenant=acme, slug="support", name="Support")
    version = agent_publish(tenant=acme, agent_id=agent.pk)
    version.config = {"instructions": "tampered"}

    with pytest.raises(ImmutableVersionError):
        version.save()
    with pytest.raises(ImmutableVersionError):
        version.save(update_fields=["config"])
    assert AgentVersion.objects.for_tenant(acme).get(pk=version.pk).config["instructions"] == ""


def test_rollback_publishes_a_copy_of_the_earlier_version_as_the_newest(acme: Tenant) -> None:
    agent = agent_create(tenant=acme, slug="support", name="Support", instructions="v1")
    agent_publish(tenant=acme, agent_id=agent.pk)
    agent_update(tenant=acme, agent_id=agent.pk, changes={"instructions": "v2"})
    agent_publish(tenant=acme, agent_id=agent.pk)

    version = agent_rollback(tenant=acme, agent_id=agent.pk, number=1)

    assert (version.number, version.note, version.config["instructions"]) == (
        3,
        "rollback to version 1",
        "v1",
    )
    agent.refresh_from_db()
    assert agent.published_version_id == version.pk
    assert agent.instructions == "v2"  # the draft is left alone
    numbers = list(agent_version_list(tenant=acme, agent=agent).values_list("number", flat=True))
    assert numbers == [3, 2, 1]
    [audit] = AuditEvent.objects.for_tenant(acme).filter(action="agent.rollback")
    assert audit.after == {"version": 3, "copied_from": 1}


def test_rollback_to_an_unknown_version_is_refused(acme: Tenant) -> None:
    agent = agent_create(tenant=acme, slug="support", name="Support")
    agent_publish(tenant=acme, agent_id=agent.pk)

    with pytest.raises(ObjectNotFound):
        agent_rollback(tenant=acme, agent_id=agent.pk, number=7)


def _remove_credential(tenant: Tenant, agent: Agent) -> None:
    assert agent.provider_credential_id is not None
    provider_credential_delete(tenant=tenant, credential_id=agent.provider_credential_id)


@pytest.mark.parametrize(
    ("remove", "reason"),
    [
        (_remove_credential, "no such provider credential"),
        (lambda t, a: http_tool_delete(tenant=t, tool_id=a.http_tools[0]), "no such tool"),
        (lambda t, a: client_tool_delete(tenant=t, tool_id=a.client_tools[0]), "no such tool"),
        (lambda t, a: registry._registry.pop("calculator"), "no code tool is named 'calculator'"),
    ],
    ids=["credential", "http_tool", "client_tool", "code_tool"],
)
def test_rollback_to_a_version_naming_something_gone_is_refused_like_a_publish(
    acme: Tenant, remove: Any, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    credential = provider_credential_create(
        tenant=acme, name="key", kind="openai", secret="sk-acme-0123456789abcdef"
    )
    agent = agent_create(
        tenant=acme,
        slug="support",
        name="Support",
        provider_credential_id=credential.pk,
        code_tools=["calculator"],
        http_tools=[weather(acme).pk],
        client_tools=[client_tool_create(tenant=acme, name="pick", description="Pick.").pk],
    )
    agent_publish(tenant=acme, agent_id=agent.pk)
    current = agent_update(
        tenant=acme,
        agent_id=agent.pk,
        changes={"provider_credential_id": None, "code_tools": [], "http_tools": [],
                 "client_tools": []},
    )  # fmt: skip
    current_version = agent_publish(tenant=acme, agent_id=agent.pk)
    remove(acme, agent)

    with pytest.raises(InvalidInput) as refused:
        agent_rollback(tenant=acme, agent_id=agent.pk, number=1)

    assert refused.value.field == "number"
    assert refused.value.message.startswith("version 1 cannot be published again")
    assert reason in refused.value.message
    current.refresh_from_db()
    assert current.published_version_id == current_version.pk
    assert AgentVersion.objects.for_tenant(acme).filter(agent=agent).count() == 2


def test_rollback_to_a_version_with_settings_no_longer_valid_is_refused(acme: Tenant) -> None:
    agent = agent_create(tenant=acme, slug="support", name="Support", model="o4-mini")
    first = agent_publish(tenant=acme, agent_id=agent.pk)
    # A version written before a rule was added (here: a setting no longer accepted).
    AgentVersion(
        tenant=acme, agent=agent, number=2, config=first.config | {"model_settings": {"seed": 1}}
    ).save()

    with pytest.raises(InvalidInput, match="model_settings"):
        agent_rollback(tenant=acme, agent_id=agent.pk, number=2)


# --------------------------------------------------------------------------- isolation


def test_another_tenants_agent_version_and_tools_look_missing(acme: Tenant, globex: Tenant) -> None:
    agent = agent_create(tenant=acme, slug="support", name="Support")
    agent_publish(tenant=acme, agent_id=agent.pk)
    http = weather(acme)
    client = client_tool_create(tenant=acme, name="pick", description="Pick.")

    with pytest.raises(ObjectNotFound):
        agent_get(tenant=globex, slug="support")
    with pytest.raises(ObjectNotFound):
        agent_version_get(tenant=globex, agent=agent, number=1)
    with pytest.raises(ObjectNotFound):
        http_tool_get(tenant=globex, tool_id=http.pk)
    with pytest.raises(ObjectNotFound):
        http_tool_headers(tenant=globex, tool_id=http.pk)
    with pytest.raises(ObjectNotFound):
        client_tool_get(tenant=globex, tool_id=client.pk)
    with pytest.raises(ObjectNotFound):
        agent_publish(tenant=globex, agent_id=agent.pk)
    with pytest.raises(ObjectNotFound):
        agent_update(tenant=globex, agent_id=agent.pk, changes={"name": "Hijacked"})
    with pytest.raises(ObjectNotFound):
        http_tool_delete(tenant=globex, tool_id=http.pk)


# --------------------------------------------------------------------------- tools


def test_http_tool_headers_are_encrypted_and_only_hinted(acme: Tenant) -> None:
    tool = weather(acme)

    assert "weather-key" not in tool.headers_encrypted
    assert tool.header_hints == {"X-Api-Key": "wea...6789"}
    assert http_tool_headers(tenant=acme, tool_id=tool.pk) == {
        "X-Api-Key": "weather-key-0123456789"
    }
    [audit] = AuditEvent.objects.for_tenant(acme).filter(action="http_tool.create")
    assert "weather-key" not in str(audit.after)


def test_updating_an_http_tool_without_headers_keeps_them(acme: Tenant) -> None:
    tool = weather(acme)

    http_tool_update(tenant=acme, tool_id=tool.pk, changes={"description": "New.", "headers": None})

    assert http_tool_headers(tenant=acme, tool_id=tool.pk) == {
        "X-Api-Key": "weather-key-0123456789"
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"url_template": "ftp://example.com/{city}"}, "url_template"),
        ({"url_template": "https://example.com/{country}"}, "url_template"),
        ({"url_template": "https://example.com/{city"}, "url_template"),
        ({"name": "has spaces"}, "name"),
        ({"method": "TRACE"}, "method"),
        ({"args_schema": {"type": "array"}}, "args_schema"),
        ({"args_schema": {"type": "object", "properties": {"a": {"type": 5}}}}, "args_schema"),
        ({"time_limit_seconds": 600}, "time_limit_seconds"),
        ({"max_response_bytes": 10}, "max_response_bytes"),
        ({"headers": {"Host": "evil.example"}}, "headers"),
    ],
    ids=lambda value: str(value),
)
def test_an_invalid_http_tool_is_refused_naming_its_field(
    acme: Tenant, changes: dict[str, object], field: str
) -> None:
    tool = weather(acme)

    with pytest.raises(InvalidInput) as refused:
        http_tool_update(tenant=acme, tool_id=tool.pk, changes=changes)

    assert refused.value.field == field


CITY_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


@pytest.mark.parametrize(
    "url_template",
    [
        "https://{city}/weather",
        "{city}://api.example.com/weather",
        "https://api.example.com:{city}/weather",
        "https://{city}.example.com/weather",
        "https://api.example.com{city}",
        "https://user:{city}@api.example.com/weather",
        "https://api.example.com/weather#{city}",
    ],
)
def test_an_http_tool_whose_model_could_choose_where_it_calls_is_refused(
    acme: Tenant, url_template: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        http_tool_create(
            tenant=acme, name="w", description="Weather.", url_template=url_template,
            args_schema=CITY_SCHEMA,
        )  # fmt: skip
    assert refused.value.field == "url_template"
    assert not HttpTool.objects.for_tenant(acme).exists()


@pytest.mark.parametrize(
    "url_template",
    [
        "https://api.example.com/weather/{city}",
        "https://api.example.com:8443/w/{city}/today",
        "https://api.example.com?city={city}",
        "http://api.example.com/search?q={city}&units=metric",
    ],
)
def test_placeholders_in_the_path_and_the_query_are_accepted(
    acme: Tenant, url_template: str
) -> None:
    tool = http_tool_create(
        tenant=acme, name="w", description="Weather.", url_template=url_template,
        args_schema=CITY_SCHEMA,
    )  # fmt: skip
    assert tool.url_template == url_template


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Clé": "value"},
        {"X Key": "value"},
        {"X-Key:": "value"},
        {"X-Key": "line one\r\nX-Injected: yes"},
        {"X-Key": "line one\nmore"},
        {"X-Key": "nul\0byte"},
    ],
    ids=["non-ascii-name", "space-in-name", "colon-in-name", "crlf", "lf", "nul"],
)
def test_malformed_header_names_and_values_are_refused_at_save(
    acme: Tenant, headers: dict[str, str]
) -> None:
    tool = weather(acme)
    with pytest.raises(InvalidInput) as refused:
        http_tool_update(tenant=acme, tool_id=tool.pk, changes={"headers": headers})
    assert refused.value.field == "headers"
    with pytest.raises(InvalidInput):
        http_tool_create(
            tenant=acme, name="other", description="Other.",
            url_template="https://api.example.com/x", headers=headers,
        )  # fmt: skip


def test_tool_names_are_unique_per_tenant(acme: Tenant, globex: Tenant) -> None:
    weather(acme)
    weather(globex)

    with pytest.raises(AlreadyExists):
        weather(acme)


# Each case: the pre-check to make miss (as when another request saves the same name between
# that check and this save), and a call that then hits the unique constraint.
RACES = {
    "agent_create": (
        "tenants.services.common._taken_before_save",
        lambda tenant: agent_create(tenant=tenant, slug="taken", name="Second"),
    ),
    "http_tool_create": (
        "tenants.services.common._taken_before_save",
        lambda t: weather(t, "taken"),
    ),
    "http_tool_update": (
        "tenants.services.common._taken_before_save",
        lambda t: http_tool_update(
            tenant=t, tool_id=weather(t, "other").pk, changes={"name": "taken"}
        ),
    ),
    "client_tool_create": (
        "tenants.services.common._taken_before_save",
        lambda t: client_tool_create(tenant=t, name="taken", description="Second."),
    ),
    "client_tool_update": (
        "tenants.services.common._taken_before_save",
        lambda t: client_tool_update(
            tenant=t,
            tool_id=client_tool_create(tenant=t, name="other", description="Other.").pk,
            changes={"name": "taken"},
        ),
    ),
}


@pytest.mark.parametrize("service", sorted(RACES))
def test_a_name_taken_by_a_concurrent_request_is_already_exists_not_an_integrity_error(
    acme: Tenant, service: str
) -> None:
    agent_create(tenant=acme, slug="taken", name="First")
    weather(acme, "taken")
    client_tool_create(tenant=acme, name="taken", description="First.")
    pre_check, call = RACES[service]

    with (
        mock.patch(pre_check, autospec=True, return_value=False) as missed,
        pytest.raises(AlreadyExists) as refused,
    ):
        call(acme)

    assert missed.called
    assert refused.value.identifier == "taken"
    # The savepoint kept the transaction usable: the service's caller can go on.
    assert Agent.objects.for_tenant(acme).filter(slug="taken").count() == 1


def test_deleting_a_tool_removes_it_from_drafts_but_not_from_published_versions(
    acme: Tenant,
) -> None:
    tool = client_tool_create(tenant=acme, name="pick", description="Pick a colour.")
    agent = agent_create(tenant=acme, slug="support", name="Support", client_tools=[tool.pk])
    version = agent_publish(tenant=acme, agent_id=agent.pk)

    client_tool_delete(tenant=acme, tool_id=tool.pk)

    agent.refresh_from_db()
    assert agent.client_tools == []
    version.refresh_from_db()
    assert [t["name"] for t in version.config["tools"]] == ["pick"]


# --------------------------------------------------------------------------- metering


def test_usage_adds_up_per_tenant_agent_and_day(acme: Tenant, globex: Tenant) -> None:
    support = agent_create(tenant=acme, slug="support", name="Support")
    sales = agent_create(tenant=acme, slug="sales", name="Sales")
    other = agent_create(tenant=globex, slug="support", name="Support")
    day = date(2031, 5, 17)

    usage_record(tenant_id=acme.pk, agent_id=support.pk, input_tokens=10, output_tokens=5, day=day)
    usage_record(tenant_id=acme.pk, agent_id=support.pk, input_tokens=1, output_tokens=2, day=day)
    usage_record(tenant_id=acme.pk, agent_id=sales.pk, input_tokens=100, output_tokens=0, day=day)
    usage_record(tenant_id=globex.pk, agent_id=other.pk, input_tokens=7, output_tokens=7, day=day)

    rows = UsageDaily.objects.for_tenant(acme).order_by("agent_id")
    assert [(r.agent_id, r.runs, r.input_tokens, r.output_tokens) for r in rows] == [
        (support.pk, 2, 11, 7),
        (sales.pk, 1, 100, 0),
    ]
    assert usage_tokens_since(tenant=acme, since=date(2031, 5, 1)) == 118
    assert usage_tokens_since(tenant=globex, since=date(2031, 5, 1)) == 14


def test_the_quota_counts_this_calendar_month_only(acme: Tenant) -> None:
    agent = agent_create(tenant=acme, slug="support", name="Support")
    tenant_update(tenant=acme, changes={"monthly_token_quota": 50})
    usage_record(
        tenant_id=acme.pk,
        agent_id=agent.pk,
        input_tokens=90,
        output_tokens=0,
        day=date(2031, 4, 30),
    )
    usage_record(
        tenant_id=acme.pk,
        agent_id=agent.pk,
        input_tokens=30,
        output_tokens=19,
        day=date(2031, 5, 2),
    )

    quota_check(tenant=acme, today=date(2031, 5, 20))  # 49 of 50
    usage_record(
        tenant_id=acme.pk, agent_id=agent.pk, input_tokens=0, output_tokens=1, day=date(2031, 5, 3)
    )
    with pytest.raises(QuotaExhausted):
        quota_check(tenant=acme, today=date(2031, 5, 20))


@pytest.mark.django_db(transaction=True)
def test_concurrent_usage_records_lose_no_tokens(acme: Tenant) -> None:
    agent = agent_create(tenant=acme, slug="support", name="Support")
    day = date(2031, 6, 1)
    barrier = threading.Barrier(4)

    def record() -> None:
        barrier.wait()
        try:
            for _ in range(5):
                usage_record(
                    tenant_id=acme.pk, agent_id=agent.pk, input_tokens=3, output_tokens=1, day=day
                )
        finally:
            connection.close()

    threads = [threading.Thread(target=record) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    row = UsageDaily.objects.for_tenant(acme).get(agent=agent, day=day)
    assert (row.runs, row.input_tokens, row.output_tokens) == (20, 60, 20)


def test_every_agent_lookup_of_the_run_is_scoped(acme: Tenant) -> None:
    with pytest.raises(Exception, match="tenant-owned"):
        list(Agent.objects.all())


@pytest.mark.parametrize("kind", ["agent", "http_tool", "client_tool", "provider_credential"])
def test_a_delete_locks_its_row_before_auditing_it(acme: Tenant, kind: str) -> None:
    """Like agent deletes, tool and credential deletes read their row FOR UPDATE, so a
    concurrent update cannot change it between the audit's snapshot and the delete."""
    if kind == "agent":
        pk, delete = agent_create(tenant=acme, slug="a", name="A").pk, agent_delete
        table, key = "hosted_agents_agent", "agent_id"
    elif kind == "http_tool":
        pk, delete = weather(acme).pk, http_tool_delete
        table, key = "hosted_agents_httptool", "tool_id"
    elif kind == "client_tool":
        pk = client_tool_create(tenant=acme, name="pick", description="Pick.").pk
        delete, table, key = client_tool_delete, "hosted_agents_clienttool", "tool_id"
    else:
        credential = provider_credential_create(tenant=acme, name="p", kind="openai", secret="k")
        pk, delete = credential.pk, provider_credential_delete
        table, key = "tenants_providercredential", "credential_id"

    with CaptureQueriesContext(connection) as queries:
        delete(tenant=acme, **{key: pk})

    [first_read] = [q["sql"] for q in queries if q["sql"].startswith("SELECT")][:1]
    assert f'FROM "{table}"' in first_read
    # SQLite has no row locks: Django leaves the clause out there.
    assert ("FOR UPDATE" in first_read) is connection.features.has_select_for_update
