"""Server time of the console's agents list and agent page, at 10 and 200 agents, on PostgreSQL.

    .venv/bin/python bench/console_agents.py [--requests 100] [--keep]

Creates the database `h_agents_bench` on 127.0.0.1:5432 (trust auth), migrates it and
loads tenant `small` with 10 agents and tenant `large` with 200, each agent with two code
tools, one of five HTTP tools, 20 published versions and 30 days of usage. Then, in this
process, through Django's test client (the whole request path: session, membership,
selectors, templates; no socket), it times GET /console/<tenant>/agents/ and the page of
one agent, and counts their SQL statements. Writes bench/console_agents.md and drops the
database (unless --keep).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "bench" / "console_agents.md"
DB_NAME = "h_agents_bench"
SERVER = "postgres://postgres@127.0.0.1:5432"
SIZES = {"small": 10, "large": 200}
VERSIONS = 20
USAGE_DAYS = 30

sys.path.insert(0, str(ROOT))
os.environ["DATABASE_URL"] = f"{SERVER}/{DB_NAME}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatkit_platform.settings")
os.environ["DEBUG"] = "0"


def _admin(sql: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def _load() -> Any:
    import django

    django.setup()
    from django.core.management import call_command

    from hosted_agents.models import UsageDaily
    from hosted_agents.services import agent_create, agent_publish, http_tool_create
    from tenants.services import tenant_create, user_get_or_create

    call_command("migrate", verbosity=0)
    owner, _ = user_get_or_create(username="bench")
    for slug, total in SIZES.items():
        tenant = tenant_create(slug=slug, name=slug, owner=owner)
        tools = [
            http_tool_create(
                tenant=tenant, name=f"tool{n}", description="A tool.",
                url_template=f"https://api.example.com/t{n}",
            ).pk
            for n in range(5)
        ]  # fmt: skip
        for n in range(total):
            agent = agent_create(
                tenant=tenant, slug=f"a{n}", name=f"Agent {n}", instructions="Help.",
                code_tools=["calculator", "current_time"], http_tools=[tools[n % 5]],
            )  # fmt: skip
            for _ in range(VERSIONS):
                agent_publish(tenant=tenant, agent_id=agent.pk)
            UsageDaily.objects.for_tenant(tenant).bulk_create(
                UsageDaily(tenant=tenant, agent=agent, day=date(2026, 11, 1) + timedelta(days=d))
                for d in range(USAGE_DAYS)
            )
    return owner


def _measure(client: Any, url: str, requests: int) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert client.get(url).status_code == 200
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    ordered = sorted(times)
    return statistics.median(times), ordered[int(len(ordered) * 0.95) - 1], len(queries)


def _report(rows: list[tuple[str, str, float, float, int]], requests: int) -> str:
    lines = [
        "# Console agents pages: server time",
        "",
        "Command: `.venv/bin/python bench/console_agents.py` "
        f"({requests} requests per row, Django test client in-process, PostgreSQL on loopback, "
        "DEBUG off, a 2-core machine shared with other work: load average "
        f"{os.getloadavg()[0]:.1f} when the run ended).",
        "",
        "| page | tenant | median ms | p95 ms | SQL statements |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {page} | {tenant} | {med:.1f} | {p95:.1f} | {count} |"
        for page, tenant, med, p95, count in rows
    ]
    lines += [
        "",
        f"Each agent has {VERSIONS} versions, two code tools, one HTTP tool and {USAGE_DAYS} "
        "usage days. The statement count is the same at 10 and 200 agents: the list reads "
        "agents (with their served version), HTTP tools, client tools and usage once each; "
        "the rest of the time grows with the rows rendered and the draft-versus-version "
        "comparison per agent.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    _admin(f"DROP DATABASE IF EXISTS {DB_NAME}")
    _admin(f"CREATE DATABASE {DB_NAME}")
    try:
        owner = _load()
        from django.test import Client

        client = Client()
        client.force_login(owner)
        rows = []
        for tenant in SIZES:
            for page, url in (("agents list", f"/console/{tenant}/agents/"),
                              ("agent page", f"/console/{tenant}/agents/a0/")):  # fmt: skip
                rows.append((page, tenant, *_measure(client, url, args.requests)))
        report = _report(rows, args.requests)
        REPORT.write_text(report, encoding="utf-8")
        print(report)
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            _admin(f"DROP DATABASE IF EXISTS {DB_NAME}")


if __name__ == "__main__":
    main()
