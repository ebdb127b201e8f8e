"""The account pages and the account-level sections, through the test client.

Forms: CSRF enforced, bad input re-rendered with its errors and nothing written, secrets
never rendered back. Query counts of the tenant home and the keys page are pinned.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.core import mail
from django.core.cache import cache
from django.test import Client

from hosted_agents.models import Agent
from hosted_agents.services import agent_create, agent_publish
from tenants.models import ApiKey, AuditEvent, Membership, ProviderCredential, Tenant
from tenants.services import api_key_create, membership_invite, provider_credential_create
from tests.chatkit_platform.test_settings import GOOD_PRODUCTION, _manage
from tests.support.openai_stub import OpenAIStub

STUB_KEY = "sk-stub-console-0123456789"


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    # The sign-in throttle counts in the cache, which outlives a test (Redis too).
    cache.clear()
    yield
    cache.clear()


def signed_in(user: AbstractBaseUser, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def audit_count(tenant: Tenant) -> int:
    return AuditEvent.objects.for_tenant(tenant).count()


# --------------------------------------------------------------------------- sign-in


def test_sign_in_lands_on_the_members_tenant(acme: Tenant, acme_owner: AbstractBaseUser) -> None:
    client = Client()
    answer = client.post("/console/login/", {"username": "alice", "password": "pw-alice"})
    assert answer.status_code == 302 and answer["Location"] == "/console/"
    assert client.get("/console/")["Location"] == "/console/acme/"


def test_sign_out_takes_a_post(acme_owner: AbstractBaseUser) -> None:
    client = signed_in(acme_owner)
    assert client.get("/console/logout/").status_code == 405
    assert client.post("/console/logout/")["Location"] == "/console/login/"
    assert client.get("/console/")["Location"].startswith("/console/login/")


def test_sign_in_is_throttled_per_username(settings: Any, acme_owner: AbstractBaseUser) -> None:
    settings.CONSOLE_LOGIN_FAILURES_PER_USER = 3
    client = Client()
    for _ in range(3):
        wrong = client.post("/console/login/", {"username": "alice", "password": "nope"})
        assert wrong.status_code == 200 and b"correct username" in wrong.content
    # Even the right password is not checked now, with a message that says why.
    blocked = client.post("/console/login/", {"username": "ALICE", "password": "pw-alice"})
    assert blocked.status_code == 429
    assert b"Too many failed sign-in attempts" in blocked.content
    assert "_auth_user_id" not in client.session


def test_sign_in_is_throttled_per_address(settings: Any, acme_owner: AbstractBaseUser) -> None:
    settings.CONSOLE_LOGIN_FAILURES_PER_IP = 4
    client = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(4):
        client.post("/console/login/", {"username": f"guess{n}", "password": "x"})
    blocked = client.post("/console/login/", {"username": "alice", "password": "pw-alice"})
    assert blocked.status_code == 429
    # Another address is not affected.
    elsewhere = Client(REMOTE_ADDR="203.0.113.10")
    answer = elsewhere.post("/console/login/", {"username": "alice", "password": "pw-alice"})
    assert answer.status_code == 302


def test_password_reset_mails_a_link_that_sets_a_new_password(acme_owner: AbstractBaseUser) -> None:
    client = Client()
    answer = client.post("/console/password/reset/", {"email": "alice@example.com"})
    assert answer["Location"] == "/console/password/reset/sent/"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.com"]
    link = re.search(r"http://testserver(/console/password/reset/\S+/)", mail.outbox[0].body)
    assert link is not None
    form = client.get(link.group(1), follow=True)
    assert b"Choose a new password" in form.content
    new = {"new_password1": "a-much-longer-secret-77", "new_password2": "a-much-longer-secret-77"}
    done = client.post(form.redirect_chain[-1][0], new)
    assert done["Location"] == "/console/password/reset/complete/"
    assert Client().login(username="alice", password="a-much-longer-secret-77")


def test_password_change_checks_the_old_password(acme_owner: AbstractBaseUser) -> None:
    client = signed_in(acme_owner)
    bad = {
        "old_password": "wrong",
        "new_password1": "x-Long-enough-9",
        "new_password2": "x-Long-enough-9",
    }
    assert (
        b"Your old password was entered incorrectly"
        in client.post("/console/password/", bad).content
    )
    good = {**bad, "old_password": "pw-alice"}
    assert client.post("/console/password/", good)["Location"] == "/console/password/done/"


# --------------------------------------------------------------------------- security


def test_console_pages_carry_a_csp_without_inline_scripts(
    acme: Tenant, acme_owner: AbstractBaseUser
) -> None:
    answer = signed_in(acme_owner).get("/console/acme/")
    policy = answer["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert b"<script>" not in answer.content and b" onclick=" not in answer.content


def test_forms_refuse_a_post_without_the_csrf_token(
    acme: Tenant, acme_owner: AbstractBaseUser
) -> None:
    client = signed_in(acme_owner, enforce_csrf_checks=True)
    before = audit_count(acme)
    answer = client.post("/console/acme/keys/new/", {"name": "x", "scopes": ["chat"]})
    assert answer.status_code == 403
    assert not ApiKey.objects.for_tenant(acme).exists() and audit_count(acme) == before
    # The page's own form carries the token, and then the same post works.
    page = client.get("/console/acme/keys/new/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert token is not None
    data = {"name": "x", "scopes": ["chat"], "csrfmiddlewaretoken": token.group(1).decode()}
    assert client.post("/console/acme/keys/new/", data).status_code == 201


def test_session_and_csrf_cookies_are_secure_in_production(tmp_path: Any) -> None:
    code = "from django.conf import settings\nprint(settings.SESSION_COOKIE_SECURE)\n" + (
        "print(settings.CSRF_COOKIE_SECURE)"
    )
    result = _manage(["shell", "--no-imports", "-c", code], GOOD_PRODUCTION, tmp_path)
    assert result.stdout.split() == ["True", "True"], result.stderr


# --------------------------------------------------------------------------- home


def test_tenant_home_shows_the_month_in_bounded_queries(
    acme: Tenant, acme_owner: AbstractBaseUser, django_assert_max_num_queries: Any
) -> None:
    agent = agent_create(tenant=acme, slug="helper", name="Helper", model="demo")
    agent_publish(tenant=acme, agent_id=agent.pk)
    acme.monthly_token_quota = 1000
    acme.save()
    client = signed_in(acme_owner)
    client.get("/console/acme/")  # the session is read once per request: warm nothing else
    with django_assert_max_num_queries(9):
        answer = client.get("/console/acme/")
    html = answer.content.decode()
    assert '<span class="value">1</span>' in html and "agents, 1 published" in html
    assert "agent.publish" in html  # recent activity
    assert "of 1,000 (0%)" in html


# --------------------------------------------------------------------------- keys


def test_new_key_is_shown_once_and_the_list_never_shows_it(
    acme: Tenant, acme_admin: AbstractBaseUser
) -> None:
    client = signed_in(acme_admin)
    answer = client.post(
        "/console/acme/keys/new/",
        {"name": "shop backend", "scopes": ["chat", "management:read"], "expires_in_days": "30"},
    )
    assert answer.status_code == 201
    assert "no-store" in answer["Cache-Control"]
    raw = re.search(r"<code id=\"new-key\" data-secret>([^<]+)</code>", answer.content.decode())
    assert raw is not None
    key = ApiKey.objects.for_tenant(acme).get()
    assert key.scopes == ["chat", "management:read"] and key.expires_at is not None
    assert key.created_by == acme_admin
    listing = client.get("/console/acme/keys/").content.decode()
    assert key.display in listing and raw.group(1) not in listing


def test_invalid_key_form_is_shown_again_with_errors_and_writes_nothing(
    acme: Tenant, acme_admin: AbstractBaseUser
) -> None:
    before = audit_count(acme)
    answer = signed_in(acme_admin).post(
        "/console/acme/keys/new/", {"name": "", "scopes": ["root"], "expires_in_days": "9"}
    )
    assert answer.status_code == 400
    errors = answer.context["form"].errors
    assert set(errors) == {"name", "scopes", "expires_in_days"}
    assert b"field-error" in answer.content
    assert not ApiKey.objects.for_tenant(acme).exists() and audit_count(acme) == before


def test_keys_page_lists_many_keys_in_bounded_queries(
    acme: Tenant, acme_owner: AbstractBaseUser, django_assert_max_num_queries: Any
) -> None:
    for n in range(15):
        api_key_create(tenant=acme, name=f"key {n}", scopes=["chat"])
    client = signed_in(acme_owner)
    with django_assert_max_num_queries(6):
        answer = client.get("/console/acme/keys/")
    assert answer.content.decode().count("Revoke</a>") == 15


def test_revoke_asks_first_then_revokes(acme: Tenant, acme_admin: AbstractBaseUser) -> None:
    key = api_key_create(tenant=acme, name="old", scopes=["chat"]).api_key
    client = signed_in(acme_admin)
    assert b"Revoke the key" in client.get(f"/console/acme/keys/{key.pk}/revoke/").content
    key.refresh_from_db()
    assert key.revoked_at is None
    assert client.post(f"/console/acme/keys/{key.pk}/revoke/").status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_viewer_sees_no_edit_controls(
    acme: Tenant, acme_viewer: AbstractBaseUser, acme_key: Any
) -> None:
    client = signed_in(acme_viewer)
    keys = client.get("/console/acme/keys/").content
    assert b"New key" not in keys and b"Revoke" not in keys
    assert b"Invite someone" not in client.get("/console/acme/members/").content
    assert (
        client.post("/console/acme/keys/new/", {"name": "x", "scopes": ["chat"]}).status_code == 403
    )


# --------------------------------------------------------------------------- providers


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub(api_key=STUB_KEY) as server:
        server.models = ["gpt-stub-large", "gpt-stub-mini"]
        yield server


def test_provider_key_is_never_rendered_back(acme: Tenant, acme_admin: AbstractBaseUser) -> None:
    client = signed_in(acme_admin)
    secret = "sk-very-secret-value-424242"
    data = {"name": "main", "kind": "openai", "api": "responses", "secret": secret, "base_url": ""}
    assert client.post("/console/acme/providers/new/", data).status_code == 302
    credential = ProviderCredential.objects.for_tenant(acme).get()
    for page in ("/console/acme/providers/", f"/console/acme/providers/{credential.pk}/"):
        html = client.get(page).content.decode()
        assert secret not in html and credential.secret_hint in html
    # Editing without a new key keeps the stored one.
    edit = {"name": "renamed", "api": "chat_completions", "secret": "", "base_url": ""}
    assert client.post(f"/console/acme/providers/{credential.pk}/", edit).status_code == 302
    credential.refresh_from_db()
    assert credential.name == "renamed" and credential.secret_hint
    assert AuditEvent.objects.for_tenant(acme).filter(action="provider_credential.update").exists()


def test_invalid_provider_is_refused_with_its_error_and_nothing_written(
    acme: Tenant, acme_admin: AbstractBaseUser
) -> None:
    before = audit_count(acme)
    data = {"name": "gw", "kind": "openai_compatible", "api": "responses", "secret": "sk-x-123456",
            "base_url": ""}  # fmt: skip
    answer = signed_in(acme_admin).post("/console/acme/providers/new/", data)
    assert answer.status_code == 400
    assert "base_url" in answer.context["form"].errors
    assert b"sk-x-123456" not in answer.content  # the password field is not filled back
    assert not ProviderCredential.objects.for_tenant(acme).exists() and audit_count(acme) == before


def test_test_connection_lists_the_providers_models(
    acme: Tenant, acme_admin: AbstractBaseUser, stub: OpenAIStub
) -> None:
    good = provider_credential_create(
        tenant=acme, name="stub", kind="openai_compatible", base_url=stub.base_url, secret=STUB_KEY
    )
    bad = provider_credential_create(
        tenant=acme, name="bad", kind="openai_compatible", base_url=stub.base_url, secret="sk-no"
    )
    client = signed_in(acme_admin)
    panel = client.post(f"/console/acme/providers/{good.pk}/test/", HTTP_HX_REQUEST="true")
    html = panel.content.decode()
    assert "Connected" in html and "<li>gpt-stub-large</li>" in html and "<html" not in html
    assert stub.requests[-1].path == "/v1/models"
    page = client.post(f"/console/acme/providers/{bad.pk}/test/").content.decode()
    assert "Not connected" in page and "key_refused" in page and "<html" in page


# --------------------------------------------------------------------------- endpoints


@pytest.fixture
def support(acme: Tenant) -> Agent:
    agent = agent_create(tenant=acme, slug="support", name="Support", model="demo")
    agent_publish(tenant=acme, agent_id=agent.pk)
    agent.refresh_from_db()
    return agent


def test_endpoints_page_gives_the_url_the_workflow_and_snippets(
    acme: Tenant, acme_viewer: AbstractBaseUser, support: Agent
) -> None:
    html = signed_in(acme_viewer).get("/console/acme/endpoints/").content.decode()
    assert "http://testserver/t/acme/agents/support/chatkit" in html
    assert support.workflow_id in html
    assert "client.beta.chatkit.sessions.create(" in html
    assert 'base_url="http://testserver/v1"' in html
    assert "domainKey" in html and "Bearer ${await clientSecret(force)}" in html


def test_origins_are_validated_and_saved(
    acme: Tenant, acme_admin: AbstractBaseUser, support: Agent
) -> None:
    client = signed_in(acme_admin)
    url = "/console/acme/endpoints/support/origins/"
    bad = client.post(url, {"origins": "https://ok.example.com\nftp://nope\nhttps://a.*.b.com"})
    assert bad.status_code == 400 and len(bad.context["form"].errors["origins"]) == 2
    support.refresh_from_db()
    assert support.allowed_origins == []
    good = client.post(
        url, {"origins": "https://*.preview.example.com\n\nhttps://Shop.example.com/"}
    )
    assert good.status_code == 302
    support.refresh_from_db()
    assert support.allowed_origins == ["https://*.preview.example.com", "https://shop.example.com"]
    tenant_form = client.post(
        "/console/acme/endpoints/origins/", {"origins": "https://app.example.com"}
    )
    assert tenant_form.status_code == 302
    acme.refresh_from_db()
    assert acme.allowed_origins == ["https://app.example.com"]


# --------------------------------------------------------------------------- members


def test_invitation_mail_leads_a_new_person_into_the_tenant(
    acme: Tenant, acme_owner: AbstractBaseUser
) -> None:
    owner = signed_in(acme_owner)
    answer = owner.post(
        "/console/acme/members/invite/", {"email": "Nina@Example.com", "role": "admin"}
    )
    assert answer.status_code == 302
    link = re.search(r"http://testserver(/console/invite/\S+/)", mail.outbox[0].body)
    assert link is not None and mail.outbox[0].to == ["nina@example.com"]
    newcomer = Client()
    page = newcomer.get(link.group(1))
    assert b"Join Acme Corp" in page.content
    weak = newcomer.post(link.group(1), {"username": "nina", "password1": "1", "password2": "1"})
    assert (
        weak.status_code == 400
        and not Membership.objects.for_tenant(acme).filter(user__username="nina").exists()
    )
    data = {"username": "nina", "password1": "Nina-long-pass-31", "password2": "Nina-long-pass-31"}
    joined = newcomer.post(link.group(1), data)
    assert joined["Location"] == "/console/acme/"
    membership = Membership.objects.for_tenant(acme).get(user__username="nina")
    assert membership.role == "admin" and membership.user.email == "nina@example.com"
    actions = set(AuditEvent.objects.for_tenant(acme).values_list("action", flat=True))
    assert {"membership.invite", "membership.add"} <= actions


def test_an_invitation_is_for_its_address_only(
    acme: Tenant, globex_owner: AbstractBaseUser
) -> None:
    token = membership_invite(tenant=acme, email="someone@example.com", role="viewer").token
    client = signed_in(globex_owner)  # greta@example.com
    answer = client.post(f"/console/invite/{token}/")
    assert answer.status_code == 400 and b"someone@example.com" in answer.content
    assert not Membership.objects.for_tenant(acme).filter(user=globex_owner).exists()
    assert Client().get(f"/console/invite/{token}x/").status_code == 404


def test_an_invitation_expires(settings: Any, acme: Tenant) -> None:
    token = membership_invite(tenant=acme, email="late@example.com", role="viewer").token
    settings.INVITE_MAX_AGE_SECONDS = -1
    answer = Client().get(f"/console/invite/{token}/")
    assert answer.status_code == 404 and b"expired" in answer.content


def test_owner_changes_roles_but_the_last_owner_stays(
    acme: Tenant, acme_owner: AbstractBaseUser, acme_viewer: AbstractBaseUser
) -> None:
    client = signed_in(acme_owner)
    members = Membership.objects.for_tenant(acme)
    viewer = members.get(user=acme_viewer)
    owner = members.get(user=acme_owner)
    assert (
        client.post(f"/console/acme/members/{viewer.pk}/role/", {"role": "admin"}).status_code
        == 302
    )
    viewer.refresh_from_db()
    assert viewer.role == "admin"
    refused = client.post(f"/console/acme/members/{owner.pk}/role/", {"role": "viewer"})
    assert refused.status_code == 400 and b"last owner" in refused.content
    owner.refresh_from_db()
    assert owner.role == "owner"
    assert client.post(f"/console/acme/members/{owner.pk}/remove/").status_code == 400
    assert client.post(f"/console/acme/members/{viewer.pk}/remove/").status_code == 302
    assert not members.filter(pk=viewer.pk).exists()
