"""Backup and restore, as deploy/README.md describes them: a dump of the database restored
into a fresh one serves the platform as before, with the same SECRET_KEY and ENCRYPTION_KEYS.

On PostgreSQL: `pg_dump --format=custom`, `pg_restore` into a new database. On the embedded
SQLite file: a copy made with SQLite's online backup API. Either way a daphne process on the
restored database answers the thread with its items to the tenant's API key, and the
provider credential's secret decrypts; with other encryption keys it does not.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from hosted_agents.models import Agent
from hosted_agents.services import agent_create, agent_publish
from tenants.models import ApiKey, Tenant
from tenants.services import IssuedApiKey, api_key_create, provider_credential_create
from tests.chatkit_endpoints.client import Endpoint
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_SECRET = "sk-proj-KeptThroughTheBackup0123456789"
ON_POSTGRES = connection.vendor == "postgresql"


def _pg_config() -> dict[str, Any]:
    config = connection.settings_dict
    return {"host": config["HOST"] or "127.0.0.1", "port": str(config["PORT"] or 5432),
            "user": config["USER"] or "postgres", "password": config["PASSWORD"] or ""}  # fmt: skip


def _pg_url(name: str) -> str:
    pg = _pg_config()
    auth = f"{pg['user']}:{pg['password']}" if pg["password"] else pg["user"]
    return f"postgres://{auth}@{pg['host']}:{pg['port']}/{name}"


def _pg_admin(sql: str) -> None:
    pg = _pg_config()
    with psycopg.connect(
        host=pg["host"], port=pg["port"], user=pg["user"], password=pg["password"] or None,
        dbname="postgres", autocommit=True,
    ) as admin:  # fmt: skip
        admin.execute(sql)  # type: ignore[arg-type]


def _pg_tool(*args: str) -> None:
    pg = _pg_config()
    env = {**os.environ, "PGPASSWORD": pg["password"]}
    command = [*args, "--host", pg["host"], "--port", pg["port"], "--username", pg["user"]]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def backup_and_restore(tmp_path: Path) -> Iterator[str]:
    """Dump the test database, restore it into a fresh one; yield the fresh one's URL."""
    if ON_POSTGRES:
        source = connection.settings_dict["NAME"]
        restored = f"{source}_restored_{os.getpid()}"
        dump = tmp_path / "platform.dump"
        _pg_tool("pg_dump", "--format=custom", "--no-owner", "--file", str(dump), source)
        _pg_admin(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
        _pg_admin(f'CREATE DATABASE "{restored}"')
        try:
            _pg_tool("pg_restore", "--no-owner", "--exit-on-error", "--dbname", restored,
                     str(dump))  # fmt: skip
            yield _pg_url(restored)
        finally:
            _pg_admin(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
        return
    copy = tmp_path / "restored.sqlite3"
    with sqlite3.connect(connection.settings_dict["NAME"]) as live, sqlite3.connect(copy) as fresh:
        live.backup(fresh)
    yield f"sqlite:///{copy}"


@pytest.fixture
def agent(acme: Tenant) -> Agent:
    created = agent_create(tenant=acme, slug="assistant", name="Assistant",
                           instructions="Answer briefly.")  # fmt: skip
    agent_publish(tenant=acme, agent_id=created.pk)
    return created


@pytest.fixture
def chat_key(acme: Tenant) -> IssuedApiKey:
    return api_key_create(tenant=acme, name="backend", scopes=[ApiKey.Scope.CHAT])


def _read_secret(database_url: str, tenant_id: int, credential_id: int, keys: str) -> str:
    code = (
        "from tenants.models import Tenant; from tenants.selectors import "
        "provider_credential_secret as s; "
        f"print(s(tenant=Tenant.objects.get(pk={tenant_id}), credential_id={credential_id}))"
    )
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": settings.SECRET_KEY,
           "ENCRYPTION_KEYS": keys}  # fmt: skip
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    # The shell may print a line of its own first (the models it imported).
    lines = result.stdout.strip().splitlines()
    return lines[-1] if result.returncode == 0 and lines else f"failed: {result.stderr}"


def test_a_restored_backup_serves_threads_keys_and_secrets(
    acme: Tenant, agent: Agent, chat_key: IssuedApiKey, tmp_path: Path, django_db_setup: None
) -> None:
    credential = provider_credential_create(
        tenant=acme, name="openai", kind="openai", secret=PROVIDER_SECRET
    )
    original = LiveServer.start("daphne", tmp_path)
    try:
        endpoint = Endpoint(original, "acme", agent.slug, chat_key.raw)
        thread_id = endpoint.create("Hello before the backup").thread_id()
        before = endpoint.call("items.list", thread_id=thread_id, limit=50, order="asc")
        endpoint.close()
    finally:
        original.stop()
    assert [item["type"] for item in before["data"]] == ["user_message", "assistant_message"]

    for restored_url in backup_and_restore(tmp_path):
        server = LiveServer.start("daphne", tmp_path, env={"DATABASE_URL": restored_url})
        try:
            restored = Endpoint(server, "acme", agent.slug, chat_key.raw)
            thread = restored.call("threads.get_by_id", thread_id=thread_id)
            after = restored.call("items.list", thread_id=thread_id, limit=50, order="asc")
            answer = restored.create("Hello after the restore")
            wrong_key = restored.clone(token=chat_key.raw[:-4] + "zzzz").post(
                {"type": "threads.list", "params": {}}
            )
            restored.close()
        finally:
            server.stop()
        keys = ",".join(settings.ENCRYPTION_KEYS)
        secret = _read_secret(restored_url, acme.pk, credential.pk, keys)
        other_keys = "Zm9yZ2V0LXRoZS1rZXlzLWFuZC10aGUtc2VjcmV0cy0="
        without_the_keys = _read_secret(restored_url, acme.pk, credential.pk, other_keys)

        assert thread["id"] == thread_id
        assert after == before
        assert answer.status == 200 and answer.thread_id() != thread_id
        assert wrong_key.status_code == 401
        assert secret == PROVIDER_SECRET
        assert without_the_keys.startswith("failed"), without_the_keys
