"""The management API's thread list and export at 1,000 and 100,000 threads, on PostgreSQL.

    .venv/bin/python bench/management_api.py [--requests 200] [--keep]

Creates the database `bench_management_api` on 127.0.0.1:5432 (trust auth), migrates it and
loads tenant `small` with 1,000 threads and tenant `large` with 100,000 (bulk inserts, a few
end users, every tenth thread rated). Then, in this process, through Django's test client
(the whole request path, authentication and serialisation included, no socket):

* GET /api/v1/threads?limit=100: first page, a deep page (cursor 200 threads from the end),
  and the first page filtered by `has_feedback=true`; requests per second (median of runs);
* GET /api/v1/threads/export (JSON lines) read to the end in a fresh child process per
  tenant, reporting the child's peak RSS before and after the export (ru_maxrss).

Writes the figures to bench/management_api.md and drops the database (unless --keep).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "bench" / "management_api.md"
DB_NAME = "bench_management_api"
SERVER = "postgres://postgres@127.0.0.1:5432"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
SIZES = {"small": 1_000, "large": 100_000}

sys.path.insert(0, str(ROOT))
os.environ["DATABASE_URL"] = f"{SERVER}/{DB_NAME}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatkit_platform.settings")
os.environ["DEBUG"] = "0"


def _admin(sql: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def _django() -> None:
    import django

    django.setup()


def _load() -> dict[str, str]:
    from django.core.management import call_command

    from hosted_agents.models import Agent
    from tenants.models import ApiKey, Feedback, Thread
    from tenants.services import api_key_create, tenant_create, user_get_or_create

    call_command("migrate", verbosity=0)
    owner, _ = user_get_or_create(username="bench")
    keys = {}
    for slug, total in SIZES.items():
        tenant = tenant_create(slug=slug, name=slug, owner=owner)
        agent = Agent(tenant=tenant, slug="support", name="Support")
        agent.save()
        scopes = [ApiKey.Scope.MANAGEMENT_READ]
        keys[slug] = api_key_create(tenant=tenant, name="bench", scopes=scopes).raw
        for start in range(0, total, 5_000):
            Thread.objects.for_tenant(tenant).bulk_create(
                Thread(
                    tenant=tenant,
                    public_id=f"thr_{n:06d}",
                    agent=agent,
                    agent_slug="support",
                    end_user_id=f"user-{n % 50}",
                    title=f"Thread {n}",
                    status={"type": "active"},
                    created_at=T0 + timedelta(seconds=n),
                )
                for n in range(start, min(start + 5_000, total))
            )
        rated = Thread.objects.for_tenant(tenant).filter(public_id__endswith="0")
        Feedback.objects.for_tenant(tenant).bulk_create(
            Feedback(tenant=tenant, thread_id=pk, kind="positive", item_ids=[])
            for pk in rated.values_list("pk", flat=True)
        )
    call_command("dbshell", "--", "-c", "ANALYZE", verbosity=0)
    return keys


def _rate(client: Any, key: str, url: str, requests: int) -> float:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    for _ in range(10):
        assert client.get(url, **headers).status_code == 200
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(requests // 5):
            client.get(url, **headers)
        runs.append((requests // 5) / (time.perf_counter() - started))
    return statistics.median(runs)


def _list_rates(keys: dict[str, str], requests: int) -> list[tuple[str, str, float]]:
    from django.test import Client

    client = Client()
    rows = []
    for slug, total in SIZES.items():
        deep = f"thr_{200:06d}"
        for label, url in (
            ("first page", "/api/v1/threads?limit=100"),
            ("deep page", f"/api/v1/threads?limit=100&after={deep}"),
            ("first page, has_feedback", "/api/v1/threads?limit=100&has_feedback=true"),
        ):
            rows.append((f"{total:,}", label, _rate(client, keys[slug], url, requests)))
    return rows


def _export_child(key: str) -> None:
    """Run in a child process: export every thread, print the peak RSS before and after."""
    _django()
    from django.test import Client

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    response = Client().get("/api/v1/threads/export", HTTP_AUTHORIZATION=f"Bearer {key}")
    lines = size = 0
    started = time.perf_counter()
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
        size += len(chunk)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"lines": lines, "bytes": size, "seconds": elapsed,
                      "rss_before_kib": before, "rss_after_kib": after}))  # fmt: skip


def _export(key: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--export-child", key],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _report(rates: list[tuple[str, str, float]], exports: dict[str, dict[str, Any]]) -> str:
    lines = [
        "# Management API: thread list and export", "",
        "Command: `.venv/bin/python bench/management_api.py` (PostgreSQL on 127.0.0.1, "
        "Django test client in process, a shared 2-core machine under load: compare rows "
        "with each other rather than with other machines).", "",
        "## GET /api/v1/threads?limit=100", "",
        "| threads in tenant | page | requests/s (median of 5 runs) |", "| --- | --- | --- |",
    ]  # fmt: skip
    lines += [f"| {total} | {label} | {rate:,.0f} |" for total, label, rate in rates]
    lines += ["", "## GET /api/v1/threads/export (JSON lines, read to the end)", "",
              "| threads | lines | MB | seconds | peak RSS before (MiB) | peak RSS after (MiB) |",
              "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for slug, total in SIZES.items():
        e = exports[slug]
        lines.append(
            f"| {total:,} | {e['lines']:,} | {e['bytes'] / 1e6:.1f} | {e['seconds']:.1f} | "
            f"{e['rss_before_kib'] / 1024:.0f} | {e['rss_after_kib'] / 1024:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--export-child":
        _export_child(sys.argv[2])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    _admin(f"DROP DATABASE IF EXISTS {DB_NAME}")
    _admin(f"CREATE DATABASE {DB_NAME}")
    try:
        _django()
        keys = _load()
        rates = _list_rates(keys, args.requests)
        exports = {slug: _export(keys[slug]) for slug in SIZES}
        report = _report(rates, exports)
        REPORT.write_text(report, encoding="utf-8")
        print(report)
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            _admin(f"DROP DATABASE IF EXISTS {DB_NAME}")


if __name__ == "__main__":
    main()
