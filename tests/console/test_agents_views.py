"""The agents section of the console, through Django's test client: forms, bad input, roles."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from django.urls import reverse

from hosted_agents.models import Agent, AgentVersion, UsageDaily
from hosted_agents.services import agent_create, agent_publish, agent_update, http_tool_create
from tenants.models import AuditEvent, Tenant
from tenants.services.provider_credentials import provider_credential_create

pytestmark = pytest.mark.django_db


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"console:{name}", kwargs={"tenant": "acme", **kwargs})


def signed_in(user: AbstractBaseUser) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin(acme_admin: AbstractBaseUser) -> Client:
    return signed_in(acme_admin)


@pytest.fixture
def viewer(acme_viewer: AbstractBaseUser) -> Client:
    return signed_in(acme_viewer)


@pytest.fixture
def published(acme: Tenant) -> Agent:
    agent = agent_create(
        tenant=acme, slug="helper", name="Helper", model="demo",
        instructions="Be brief.\nGreet {{ state.first_name }}.", code_tools=["calculator"],
    )  # fmt: skip
    agent_publish(tenant=acme, agent_id=agent.pk, note="first")
    agent.refresh_from_db()
    return agent


def agent_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "slug": "sales",
        "name": "Sales",
        "instructions": "Help {{ state.customer }} buy.",
        "model": "gpt-4.1-mini",
        "provider_credential": "",
        "temperature": "0.4",
        "top_p": "",
        "max_output_tokens": "800",
        "tool_choice": "",
        "parallel_tool_calls": "",
        "reasoning_effort": "",
        "code_tools": ["calculator", "current_time"],
        "greeting": "Hello!",
        "starter_prompts": "What do you sell?\n\nHow much is it?\n",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


# --------------------------------------------------------------------------- the list


def test_list_shows_each_agents_status(
    admin: Client, acme: Tenant, published: Agent, acme_agent: Agent
) -> None:
    agent_update(tenant=acme, agent_id=published.pk, changes={"greeting": "Hi"})
    UsageDaily.objects.for_tenant(acme).create(
        tenant=acme, agent=published, day="2026-11-30", runs=3
    )

    page = admin.get(url("agents")).content.decode()

    helper = page.split('data-agent="helper"')[1].split("</tr>")[0]
    assert "version 1" in helper
    assert "changes pending" in helper
    assert "30 Nov 2026" in helper
    support = page.split('data-agent="support"')[1].split("</tr>")[0]
    assert "not published" in support
    assert "never" in support
    assert url("agent_new") in page


def test_list_reads_a_fixed_number_of_statements(
    admin: Client, acme: Tenant, django_assert_max_num_queries: Any
) -> None:
    tool = http_tool_create(
        tenant=acme, name="orders", description="Orders.", url_template="https://example.com/o"
    )
    for n in range(6):
        agent = agent_create(
            tenant=acme, slug=f"a{n}", name=f"A{n}", code_tools=["calculator"],
            http_tools=[tool.pk],
        )  # fmt: skip
        agent_publish(tenant=acme, agent_id=agent.pk)
    admin.get(url("agents"))  # the session's first read

    # session, user, membership, the tenant switcher's memberships; agents with versions,
    # HTTP tools, client tools, capabilities rows, usage: the same for 6 agents as for 1
    with django_assert_max_num_queries(9):
        response = admin.get(url("agents"))
    assert response.content.decode().count("data-agent=") == 6


def test_viewer_sees_the_list_without_a_new_button(viewer: Client, published: Agent) -> None:
    page = viewer.get(url("agents")).content.decode()
    assert "Helper" in page
    assert url("agent_new") not in page


# --------------------------------------------------------------------------- create and edit


def test_creating_an_agent_saves_its_draft_and_audits_it(admin: Client, acme: Tenant) -> None:
    response = admin.post(url("agent_new"), agent_form())

    assert response.status_code == 302
    assert response["Location"] == url("agent", agent="sales")
    agent = Agent.objects.for_tenant(acme).get(slug="sales")
    assert agent.model_settings == {"temperature": 0.4, "max_output_tokens": 800}
    assert agent.code_tools == ["calculator", "current_time"]
    assert agent.starter_prompts == ["What do you sell?", "How much is it?"]
    assert agent.published_version is None
    assert AuditEvent.objects.for_tenant(acme).filter(action="agent.create").count() == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"slug": "Not A Slug"}, "slug", "Enter a valid “slug”"),
        ({"temperature": "3"}, "temperature", "less than or equal to 2"),
        ({"top_p": "-0.1"}, "top_p", "greater than or equal to 0"),
        ({"max_output_tokens": "0"}, "max_output_tokens", "greater than or equal to 1"),
        ({"reasoning_effort": "high"}, "reasoning_effort", "does not take a reasoning effort"),
        ({"tool_choice": "no_such_tool"}, "tool_choice", "tool_choice must be auto"),
        ({"code_tools": ["rm_rf"]}, "code_tools", "Select a valid choice"),
        ({"name": ""}, "name", "This field is required"),
        ({"model": ""}, "model", "This field is required"),
        ({"starter_prompts": "\n".join(f"p{n}" for n in range(9))}, "starter_prompts", "At most 8"),
        ({"greeting": "x" * 501}, "greeting", "at most 500 characters"),
    ],
)
def test_bad_input_is_shown_on_its_field_and_nothing_is_saved(
    admin: Client, acme: Tenant, overrides: dict[str, Any], field: str, message: str
) -> None:
    response = admin.post(url("agent_new"), agent_form(**overrides))

    assert response.status_code == 400
    form = response.context["form"]
    assert field in form.errors, form.errors
    assert message in " ".join(form.errors[field])
    assert message in response.content.decode().replace("&ldquo;", "“").replace("&rdquo;", "”")
    assert not Agent.objects.for_tenant(acme).exists()
    assert not AuditEvent.objects.for_tenant(acme).filter(action="agent.create").exists()


def test_a_taken_slug_is_refused_on_the_slug(admin: Client, published: Agent) -> None:
    response = admin.post(url("agent_new"), agent_form(slug="helper"))

    assert response.status_code == 400
    assert "helper is taken" in response.context["form"].errors["slug"][0]


def test_editing_changes_the_draft_only(admin: Client, acme: Tenant, published: Agent) -> None:
    form = agent_form(instructions="Be very brief.", slug=None, model="demo", temperature="")
    response = admin.post(url("agent_edit", agent="helper"), form)

    assert response.status_code == 302
    published.refresh_from_db()
    assert published.instructions == "Be very brief."
    assert published.published_version is not None
    assert published.published_version.config["instructions"].startswith("Be brief.")


def test_the_edit_form_lists_the_placeholders_and_known_models(
    admin: Client, published: Agent
) -> None:
    page = admin.get(url("agent_edit", agent="helper")).content.decode()

    assert '<code class="placeholder">first_name</code>' in page
    assert '<datalist id="known-models">' in page
    assert '<option value="gpt-4.1-mini">' in page
    assert 'max="2"' in page  # the temperature's range, from the services' schema


# --------------------------------------------------------------------------- the agent page


def test_agent_page_shows_status_versions_and_controls(
    admin: Client, acme: Tenant, published: Agent, django_assert_max_num_queries: Any
) -> None:
    agent_update(tenant=acme, agent_id=published.pk, changes={"instructions": "New."})
    agent_publish(tenant=acme, agent_id=published.pk, note="second")
    admin.get(url("agent", agent="helper"))

    # session, user, membership, the tenant switcher's memberships; agent and version, HTTP
    # and client tools, capabilities rows, usage, versions; the draft's capabilities row
    with django_assert_max_num_queries(11):
        page = admin.get(url("agent", agent="helper")).content.decode()

    assert "serving version 2" in page
    assert "draft changes pending" not in page
    assert page.count("data-version=") == 2
    assert url("agent_rollback", agent="helper", version=1) in page
    assert url("agent_rollback", agent="helper", version=2) not in page  # it serves already
    assert "data-edit-controls" in page


def test_viewer_sees_the_agent_without_edit_controls(viewer: Client, published: Agent) -> None:
    page = viewer.get(url("agent", agent="helper")).content.decode()

    assert "serving version 1" in page
    assert "data-edit-controls" not in page
    assert url("agent_edit", agent="helper") not in page
    assert viewer.get(url("agent_edit", agent="helper")).status_code == 403
    assert viewer.post(url("agent_publish", agent="helper")).status_code == 403


def test_another_tenants_agent_is_not_found(
    admin: Client, globex: Tenant, globex_admin: AbstractBaseUser
) -> None:
    agent_create(tenant=globex, slug="secret", name="Secret")
    for name in ("agent", "agent_edit", "agent_diff", "playground"):
        assert admin.get(url(name, agent="secret")).status_code == 404
    assert admin.get(url("agent_version", agent="secret", version=1)).status_code == 404


# --------------------------------------------------------------------------- publish, rollback


def test_publishing_with_a_note_makes_the_next_version(
    admin: Client, acme: Tenant, published: Agent
) -> None:
    agent_update(tenant=acme, agent_id=published.pk, changes={"greeting": "Welcome"})
    review = admin.get(url("agent_publish", agent="helper")).content.decode()
    assert "diff-add" in review and "Welcome" in review

    response = admin.post(url("agent_publish", agent="helper"), {"note": "a warmer greeting"})

    assert response.status_code == 302
    version = AgentVersion.objects.for_tenant(acme).get(agent=published, number=2)
    assert version.note == "a warmer greeting"
    assert version.config["greeting"] == "Welcome"


def test_a_too_long_note_publishes_nothing(admin: Client, acme: Tenant, published: Agent) -> None:
    response = admin.post(url("agent_publish", agent="helper"), {"note": "n" * 201})

    assert response.status_code == 400
    assert "at most 200 characters" in response.content.decode()
    assert AgentVersion.objects.for_tenant(acme).filter(agent=published).count() == 1


def test_diff_between_two_versions_is_a_line_diff(
    admin: Client, acme: Tenant, published: Agent
) -> None:
    instructions = "Be brief.\nGreet {{ state.first_name }} warmly."
    changes = {"instructions": instructions, "code_tools": []}
    agent_update(tenant=acme, agent_id=published.pk, changes=changes)
    agent_publish(tenant=acme, agent_id=published.pk)

    response = admin.get(url("agent_diff", agent="helper") + "?from=1&to=2")

    changes = {change.field: change for change in response.context["changes"]}
    assert set(changes) == {"instructions", "tools.calculator"}
    lines = [(line.kind, line.text) for line in changes["instructions"].lines]
    assert ("context", "Be brief.") in lines
    assert ("del", "Greet {{ state.first_name }}.") in lines
    assert ("add", "Greet {{ state.first_name }} warmly.") in lines
    page = response.content.decode()
    assert '<span class="diff-add">+ Greet {{ state.first_name }} warmly.</span>' in page


def test_diff_with_bad_versions_says_so(admin: Client, published: Agent) -> None:
    assert admin.get(url("agent_diff", agent="helper") + "?from=x&to=1").status_code == 400
    assert admin.get(url("agent_diff", agent="helper") + "?from=1&to=9").status_code == 404
    same = admin.get(url("agent_diff", agent="helper") + "?from=1&to=draft")
    assert same.status_code == 200
    assert "These two are the same." in same.content.decode()


def test_rolling_back_serves_a_copy_of_the_old_version(
    admin: Client, acme: Tenant, published: Agent
) -> None:
    agent_update(tenant=acme, agent_id=published.pk, changes={"instructions": "Changed."})
    agent_publish(tenant=acme, agent_id=published.pk)

    response = admin.post(url("agent_rollback", agent="helper", version=1), follow=True)

    published.refresh_from_db()
    assert published.published_version is not None
    assert published.published_version.number == 3
    assert published.published_version.note == "rollback to version 1"
    assert published.published_version.config["instructions"].startswith("Be brief.")
    assert "version 3 is a copy of version 1" in response.content.decode()
    assert admin.get(url("agent_rollback", agent="helper", version=1)).status_code == 405
    assert admin.post(url("agent_rollback", agent="helper", version=7)).status_code == 404


def test_duplicating_copies_the_draft_unpublished(
    admin: Client, acme: Tenant, published: Agent
) -> None:
    form = admin.get(url("agent_duplicate", agent="helper")).context["form"]
    assert form.initial["slug"] == "helper-copy"

    response = admin.post(
        url("agent_duplicate", agent="helper"), {"slug": "helper-2", "name": "H2"}
    )

    assert response.status_code == 302
    copy = Agent.objects.for_tenant(acme).get(slug="helper-2")
    assert copy.instructions == published.instructions
    assert copy.published_version is None
    taken = admin.post(url("agent_duplicate", agent="helper"), {"slug": "helper-2", "name": "H3"})
    assert taken.status_code == 400
    assert Agent.objects.for_tenant(acme).count() == 2


def test_the_credential_picker_offers_the_tenants_own_credentials_only(
    admin: Client, acme: Tenant, globex: Tenant
) -> None:
    ours = provider_credential_create(
        tenant=acme, name="prod", kind="openai", secret="sk-acme-0123456789abcdef"
    )
    theirs = provider_credential_create(
        tenant=globex, name="theirs", kind="openai", secret="sk-globex-0123456789abcdef"
    )
    page = admin.get(url("agent_new")).content.decode()
    assert "prod" in page and "theirs" not in page
    assert "sk-acme-0123456789abcdef" not in page

    refused = admin.post(url("agent_new"), agent_form(provider_credential=str(theirs.pk)))
    assert refused.status_code == 400
    assert "provider_credential" in refused.context["form"].errors
    assert (
        admin.post(url("agent_new"), agent_form(provider_credential=str(ours.pk))).status_code
        == 302
    )
    assert Agent.objects.for_tenant(acme).get(slug="sales").provider_credential_id == ours.pk


def test_a_draft_that_names_something_gone_is_not_published(
    admin: Client, acme: Tenant, published: Agent
) -> None:
    # Deleting a tool drops it from drafts; a row changed behind the services' back does not.
    Agent.objects.for_tenant(acme).filter(pk=published.pk).update(http_tools=[999_999])

    review = admin.get(url("agent_publish", agent="helper")).content.decode()
    assert "edit the draft first" in review
    response = admin.post(url("agent_publish", agent="helper"), {"note": "x"})

    assert response.status_code == 400
    assert "Cannot publish: http tools: no such tool: 999999" in response.content.decode()
    assert AgentVersion.objects.for_tenant(acme).filter(agent=published).count() == 1
    assert "needs fixing" in admin.get(url("agents")).content.decode()


# --------------------------------------------------------------------------- model list


def test_the_editor_loads_the_chosen_providers_models(
    admin: Client, acme: Tenant, globex: Tenant
) -> None:
    from tests.support.openai_stub import OpenAIStub

    key = "sk-stub-models-0123456789"
    with OpenAIStub(api_key=key) as stub:
        stub.models = ["gpt-tenant-large", "gpt-tenant-small"]
        mine = provider_credential_create(
            tenant=acme, name="stub", kind="openai_compatible", base_url=stub.base_url, secret=key
        )
        refused = provider_credential_create(
            tenant=acme,
            name="bad",
            kind="openai_compatible",
            base_url=stub.base_url,
            secret="sk-x1",
        )
        theirs = provider_credential_create(
            tenant=globex, name="g", kind="openai_compatible", base_url=stub.base_url, secret=key
        )
        listed = admin.get(url("agent_models"), {"provider_credential": mine.pk}).content.decode()
        assert '<option value="gpt-tenant-large">' in listed and "2 models listed" in listed
        assert stub.requests[-1].path == "/v1/models"
        calls = len(stub.requests)
        failed = admin.get(url("agent_models"), {"provider_credential": refused.pk})
        assert "did not list its models" in failed.content.decode()
        # Another tenant's credential is not found, and the provider is not called for it.
        foreign = admin.get(url("agent_models"), {"provider_credential": theirs.pk})
        assert "No such provider credential" in foreign.content.decode()
        assert len(stub.requests) == calls + 1
    # Without a credential the known models stay, and nothing is called.
    plain = admin.get(url("agent_models")).content.decode()
    assert "the platform&#x27;s provider" in plain and "<option" in plain
    assert "Load the provider's models" in admin.get(url("agent_new")).content.decode()
