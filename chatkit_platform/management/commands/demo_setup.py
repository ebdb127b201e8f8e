"""Create (or reuse) the demo tenant that `make run` shows a newcomer.

Idempotent: a second run finds the tenant, the admin user, the agent and the key
it made the first time and prints them again. Development only: it refuses to run
with PLATFORM_ENV=production, because it keeps the demo password and key in
files under the data directory so that it can print them again.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chatkit_platform.env import write_private
from hosted_agents.demo_model import DEMO_MODEL_LABEL, DEMO_MODEL_NAME
from hosted_agents.models import Agent
from hosted_agents.services import agent_create, agent_publish
from tenants.actors import Actor
from tenants.exceptions import ApiKeyRejected
from tenants.models import ApiKey, Tenant
from tenants.services.api_keys import api_key_authenticate, api_key_create
from tenants.services.tenants import tenant_create

# The README shows the same command (a test keeps the two equal).
TRY_IT = '.venv/bin/python manage.py chat demo assistant "what is (6*7)+1? use the calculator"'
TENANT_SLUG = "demo"
AGENT_SLUG = "assistant"
ADMIN_USERNAME = "demo-admin"
DEMO_TOOLS = ["calculator", "current_time", "show_table", "switch_theme", "analyze_text"]
INSTRUCTIONS = (
    "You are the demo assistant of a self-hosted ChatKit platform. Answer briefly. "
    "Use the calculator for arithmetic, current_time for the time, show_table to show "
    "tabular data, switch_theme to change the page theme and analyze_text for long texts."
)


class Command(BaseCommand):
    help = "Create or reuse the demo tenant, its admin user, a demo agent and an API key."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument(
            "--quiet", action="store_true", help="do not print the sign-in (see demo_info)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("demo_setup is for development; it refuses PLATFORM_ENV=production")
        data_dir = Path(settings.DATA_DIR)
        with transaction.atomic():
            user, password = self._admin(data_dir)
            tenant = self._tenant(user)
            agent = self._agent(tenant, user)
        raw_key = self._api_key(tenant, data_dir)
        if options["quiet"]:
            self.stdout.write("Demo tenant ready; its sign-in follows once the services are up.")
            return
        base = f"http://{options['host']}:{options['port']}"
        self.stdout.write(banner(base, password=password, tenant=tenant, agent=agent, key=raw_key))

    def _admin(self, data_dir: Path) -> tuple[Any, str]:
        users = get_user_model()._default_manager
        password_file = data_dir / "demo_admin_password"
        user = users.filter(username=ADMIN_USERNAME).first()
        if user is not None and password_file.exists():
            return user, password_file.read_text().strip()
        password = secrets.token_urlsafe(12)
        if user is None:
            user = users.create_user(username=ADMIN_USERNAME, email="admin@demo.invalid")
        user.set_password(password)
        user.is_staff = user.is_superuser = True
        user.save()
        write_private(password_file, password)
        return user, password

    def _tenant(self, user: Any) -> Tenant:
        tenant = Tenant.objects.filter(slug=TENANT_SLUG).first()
        if tenant is None:
            tenant = tenant_create(slug=TENANT_SLUG, name="Demo organisation", owner=user)
        return tenant

    def _agent(self, tenant: Tenant, user: Any) -> Agent:
        agent = Agent.objects.for_tenant(tenant).filter(slug=AGENT_SLUG).first()
        if agent is None:
            agent = agent_create(
                tenant=tenant,
                slug=AGENT_SLUG,
                name="Demo assistant",
                actor=Actor.for_user(user),
                instructions=INSTRUCTIONS,
                model=DEMO_MODEL_NAME,
                code_tools=DEMO_TOOLS,
                greeting="Hi! I run on the offline demo model: no key needed.",
                starter_prompts=["What is 12*7? Use the calculator", "show table", "switch theme"],
            )
        if agent.published_version_id is None:
            agent_publish(
                tenant=tenant, agent_id=agent.pk, actor=Actor.for_user(user), note="demo setup"
            )
            agent.refresh_from_db()
        return agent

    def _api_key(self, tenant: Tenant, data_dir: Path) -> str:
        key_file = data_dir / "demo_api_key"
        if key_file.exists():
            raw = key_file.read_text().strip()
            try:
                api_key_authenticate(raw_key=raw, required_scope=ApiKey.Scope.CHAT)
                return raw
            except ApiKeyRejected:
                pass  # revoked or from an older database: issue a new one
        issued = api_key_create(
            tenant=tenant, name="demo key", scopes=[ApiKey.Scope.CHAT, ApiKey.Scope.MANAGEMENT_READ]
        )
        write_private(key_file, issued.raw)
        return issued.raw


def banner(base: str, *, password: str, tenant: Tenant, agent: Agent, key: str) -> str:
    """Return the text that tells a newcomer where to go and how to sign in."""
    return "\n".join(
        [
            "",
            "Demo ready.",
            f"  Console:            {base}/console/{tenant.slug}/",
            f"  Playground:         {base}/console/{tenant.slug}/agents/{agent.slug}/playground/",
            f"  Admin (operators):  {base}/admin/",
            f"  Readiness:          {base}/readyz",
            f"  Sign in:            {ADMIN_USERNAME} / {password}",
            f"  Tenant:             {tenant.slug}",
            f"  Agent:              {agent.slug} on the {DEMO_MODEL_LABEL}",
            f"  Demo API key:       {key}",
            f"  Try it:             {TRY_IT}",
            "  Again:              .venv/bin/python manage.py demo_info",
            "",
        ]
    )
