"""Print the demo's sign-in again (what `demo_setup` made); `--wait` waits for the services.

`make run` calls it with `--wait` once it has started daphne and the workers, so the
banner comes after their start-up lines rather than scrolling away under them.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import httpx
from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from chatkit_platform.management.commands.demo_setup import (
    ADMIN_USERNAME,
    AGENT_SLUG,
    TENANT_SLUG,
    banner,
)
from hosted_agents.models import Agent
from tenants.exceptions import ApiKeyRejected
from tenants.models import ApiKey, Tenant
from tenants.services.api_keys import api_key_authenticate

WAIT_SECONDS = 180.0


class Command(BaseCommand):
    help = "Print the demo tenant's URLs, sign-in and API key again."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument(
            "--wait", action="store_true", help="first wait until /readyz and the workers answer"
        )
        parser.add_argument(
            "--workers", default="", help="comma-separated worker names to wait for (--wait)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        base = f"http://{options['host']}:{options['port']}"
        if options["wait"]:
            logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per poll otherwise
            workers = [name for name in options["workers"].split(",") if name]
            _wait_for_services(base, workers, WAIT_SECONDS)
        text = banner(base, **_demo_parts(Path(settings.DATA_DIR)))
        if options["wait"]:
            access_log = Path(settings.DATA_DIR) / "log" / "access.log"
            text += f"  Access log:         {access_log}\n  Stop:               Ctrl-C\n"
        self.stdout.write(text)


def _demo_parts(data_dir: Path) -> dict[str, Any]:
    missing = CommandError("No demo yet: run `manage.py demo_setup` first (make run does).")
    try:
        password = (data_dir / "demo_admin_password").read_text().strip()
        key = (data_dir / "demo_api_key").read_text().strip()
    except FileNotFoundError:
        raise missing from None
    users = get_user_model()._default_manager
    tenant = Tenant.objects.filter(slug=TENANT_SLUG).first()
    if tenant is None or not users.filter(username=ADMIN_USERNAME).exists():
        raise missing
    agent = Agent.objects.for_tenant(tenant).filter(slug=AGENT_SLUG).first()
    if agent is None:
        raise missing
    try:
        api_key_authenticate(raw_key=key, required_scope=ApiKey.Scope.CHAT)
    except ApiKeyRejected:
        raise CommandError("The demo API key was revoked: run `manage.py demo_setup`.") from None
    return {"password": password, "tenant": tenant, "agent": agent, "key": key}


def _wait_for_services(base: str, workers: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _ready(f"{base}/readyz"):
        if time.monotonic() > deadline:
            raise CommandError(f"{base}/readyz did not answer 200 within {timeout:g}s")
        time.sleep(0.5)
    waiting = set(workers)
    while waiting:
        try:
            replies = current_app.control.ping(destination=sorted(waiting), timeout=1.0)
        except ValueError:
            # The file broker can hand a reply over before its writer has filled it.
            replies = []
        for reply in replies:
            waiting -= set(reply)
        if waiting and time.monotonic() > deadline:
            raise CommandError(f"no answer from {', '.join(sorted(waiting))} in {timeout:g}s")


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False
