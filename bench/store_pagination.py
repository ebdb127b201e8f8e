"""Page-fetch latency of DjangoStore on PostgreSQL: small versus large threads and tenants.

    .venv/bin/python bench/store_pagination.py [--fetches 300] [--keep]

Creates the database `bench_store_pagination` on 127.0.0.1:5432 (trust auth), migrates it,
loads with COPY one thread of 100 items, one of 100,000 items, a tenant of 100 threads and
a tenant of 100,000 threads, then times `load_thread_items` and `load_threads` for the first
page and for a deep page (a cursor 30 records from the end). Prints a table, writes the figures
and the EXPLAIN ANALYZE of each page query to bench/store_pagination.md, and drops the
database (unless --keep).

What is timed is the store's own sync body (ORM, SQL, pydantic validation) on one open
connection; the async wrapper only adds a thread hop, the same for every size.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "bench_store_pagination"
SERVER = "postgres://postgres@127.0.0.1:5432"
PAGE = 20
T0 = datetime(2025, 1, 1, tzinfo=UTC)

sys.path.insert(0, str(ROOT))
os.environ["DATABASE_URL"] = f"{SERVER}/{DB_NAME}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatkit_platform.settings")


def _admin(sql: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def _setup_django() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _item_json(item_id: str, thread_id: str, at: datetime, n: int) -> str:
    from chatkit_core.types import AssistantMessageItem

    item = AssistantMessageItem.model_validate(
        {
            "id": item_id,
            "thread_id": thread_id,
            "created_at": at,
            "content": [{"type": "output_text", "text": f"Answer number {n}. " * 8}],
        }
    )
    return json.dumps(item.model_dump(mode="json"))


def _copy_threads(tenant_id: int, count: int, prefix: str) -> list[str]:
    from django.db import connection

    ids = [f"thr_{prefix}{n:08d}" for n in range(count)]
    status, now = json.dumps({"type": "active"}), datetime.now(UTC)
    columns = (
        "tenant_id, public_id, agent_slug, end_user_id, title, status, metadata,"
        " created_at, updated_at"
    )
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY tenants_thread ({columns}) FROM STDIN") as copy,
    ):
        for n, public_id in enumerate(ids):
            # Every 10th thread shares its timestamp with the previous one: ties are real.
            at = T0 + timedelta(seconds=n - (n % 10 == 1))
            copy.write_row((tenant_id, public_id, "support", f"user{n % 50}", f"Thread {n}",
                            status, "{}", at, now))  # fmt: skip
    return ids


def _copy_items(tenant_id: int, thread_pk: int, thread_id: str, count: int) -> list[str]:
    from django.db import connection

    ids = [f"msg_{thread_pk:04d}{n:08d}" for n in range(count)]
    columns = "tenant_id, thread_id, public_id, type, created_at, data"
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY tenants_threaditem ({columns}) FROM STDIN") as copy,
    ):
        for n, item_id in enumerate(ids):
            at = T0 + timedelta(milliseconds=100 * n - 100 * (n % 10 == 1))
            copy.write_row((tenant_id, thread_pk, item_id, "assistant_message", at,
                            _item_json(item_id, thread_id, at, n)))  # fmt: skip
    return ids


def _load() -> dict[str, Any]:
    from django.db import connection, transaction

    from tenants.models import Tenant, Thread

    started = time.perf_counter()
    with transaction.atomic():
        conversations = Tenant.objects.create(slug="conversations", name="Conversations")
        small_tenant = Tenant.objects.create(slug="small", name="Small")
        large_tenant = Tenant.objects.create(slug="large", name="Large")
        _copy_threads(small_tenant.pk, 100, "s")
        _copy_threads(large_tenant.pk, 100_000, "l")
        [small_thread, large_thread] = _copy_threads(conversations.pk, 2, "c")
        pks = dict(Thread.objects.for_tenant(conversations).values_list("public_id", "pk"))
        _copy_items(conversations.pk, pks[small_thread], small_thread, 100)
        _copy_items(conversations.pk, pks[large_thread], large_thread, 100_000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"loaded 200,102 threads and 100,100 items in {time.perf_counter() - started:.1f}s")
    return {
        "conversations": conversations,
        "small_tenant": small_tenant,
        "large_tenant": large_tenant,
        "small_thread": small_thread,
        "large_thread": large_thread,
    }


def _deep_cursor(fetch: Any, total: int) -> str:
    """Return the id of the record 30 from the end in desc order, by walking pages once."""
    target, after, seen = total - 30, None, 0
    while True:
        page = fetch(after, 1000)
        if seen + len(page.data) >= target:
            return page.data[target - seen - 1].id
        seen += len(page.data)
        after = page.after


def _time_pair(
    small: Any, small_after: str | None, large: Any, large_after: str | None, fetches: int
) -> list[tuple[float, float]]:
    """Return (median, p95) in ms for the small and the large fetch, timed alternately so
    that background load on the machine weighs on both alike."""
    for _ in range(20):  # warm the caches and the plans
        small(small_after, PAGE)
        large(large_after, PAGE)
    samples: list[list[float]] = [[], []]
    for _ in range(fetches):
        for index, (fetch, after) in enumerate(((small, small_after), (large, large_after))):
            started = time.perf_counter()
            page = fetch(after, PAGE)
            samples[index].append((time.perf_counter() - started) * 1000)
            assert len(page.data) == PAGE
    return [
        (statistics.median(times), sorted(times)[int(len(times) * 0.95) - 1]) for times in samples
    ]


def _explain(fetch: Any, after: str | None) -> str:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        fetch(after, PAGE)
    sql = captured.captured_queries[-1]["sql"]  # the page query (the cursor lookup precedes it)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return f"```sql\n{sql}\n```\n```\n{plan}\n```"


def _run(fetches: int) -> None:
    from tenants.store import DjangoStore

    data = _load()
    conv = DjangoStore(data["conversations"])
    cases = []
    for label, thread_id, total in (
        ("items.list, thread of 100", data["small_thread"], 100),
        ("items.list, thread of 100,000", data["large_thread"], 100_000),
    ):
        cases.append((label, total, lambda after, limit, t=thread_id: conv._load_thread_items(
            t, after, limit, "desc")))  # fmt: skip
    for label, tenant_key, total in (
        ("threads.list, tenant of 100", "small_tenant", 100),
        ("threads.list, tenant of 100,000", "large_tenant", 100_000),
    ):
        store = DjangoStore(data[tenant_key])
        cases.append((label, total, lambda after, limit, s=store: s._load_threads(
            limit, after, "desc")))  # fmt: skip

    rows, plans = [], []
    for (small_label, small_total, small), (large_label, large_total, large) in (
        (cases[0], cases[1]),
        (cases[2], cases[3]),
    ):
        small_deep, large_deep = _deep_cursor(small, small_total), _deep_cursor(large, large_total)
        first = _time_pair(small, None, large, None, fetches)
        deep = _time_pair(small, small_deep, large, large_deep, fetches)
        rows.append((small_label, *first[0], *deep[0]))
        rows.append((large_label, *first[1], *deep[1]))
        for label, fetch, cursor in (
            (small_label, small, small_deep),
            (large_label, large, large_deep),
        ):
            plans.append(f"### {label}: first page\n\n{_explain(fetch, None)}\n")
            plans.append(
                f"### {label}: deep page (30 records from the end)\n\n{_explain(fetch, cursor)}\n"
            )

    header = "| case | first page median | first page p95 | deep page median | deep page p95 |"
    table = [header, "| --- | ---: | ---: | ---: | ---: |"]
    table += [
        f"| {r[0]} | {r[1]:.2f} ms | {r[2]:.2f} ms | {r[3]:.2f} ms | {r[4]:.2f} ms |" for r in rows
    ]
    ratios = []
    for small, large in ((rows[0], rows[1]), (rows[2], rows[3])):
        for index, name in (
            (1, "first median"),
            (3, "deep median"),
            (2, "first p95"),
            (4, "deep p95"),
        ):
            ratios.append(f"- {large[0]} vs {small[0].split(', ')[1]}, {name}: "
                          f"{large[index] / small[index]:.2f}x")  # fmt: skip
    print("\n".join(table))
    print("\n".join(ratios))
    _write_report(table, ratios, plans, fetches)


def _write_report(table: list[str], ratios: list[str], plans: list[str], fetches: int) -> None:
    import django

    with psycopg.connect(f"{SERVER}/postgres") as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    report = f"""# DjangoStore page-fetch latency on PostgreSQL

Produced by `bench/store_pagination.py` ({datetime.now(UTC):%Y-%m-%d}, PostgreSQL {version},
Django {django.get_version()}, Python {sys.version.split()[0]}). Page size {PAGE}, order
`desc` (what ChatKit asks for), {fetches} timed fetches per cell after 20 warm-up fetches,
small and large case alternating fetch by fetch so that machine load weighs on both alike.
Timed: the store's sync body (ORM, SQL, pydantic validation of the page) on one open
connection. "Deep page" starts at a cursor 30 records from the end of the list (record 70 of 100,
record 99,970 of 100,000), the worst case for any scheme that skips rows.

All four cases share one database, so the small cases run against tables that also hold
the large cases' rows (100,102 items, 200,102 threads).

{chr(10).join(table)}

Large case against small case (goal: within 1.5x):

{chr(10).join(ratios)}

## Why it stays flat

Both lists are read by keyset: the cursor record's `(created_at, id)` is looked up by its
unique `(tenant, public_id)` index, then the page is one range scan of a composite index,
`thread_item_page (thread_id, created_at, id)` or `thread_page (tenant_id, created_at, id)`,
stopping after {PAGE + 1} rows. No OFFSET and no COUNT, so the work does not grow with the
list or with the depth of the page. The plans below show the index scans.

## Query plans (EXPLAIN ANALYZE)

{chr(10).join(plans)}"""
    (ROOT / "bench" / "store_pagination.md").write_text(report)
    print("wrote bench/store_pagination.md")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fetches", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    args = parser.parse_args()
    _admin(f"DROP DATABASE IF EXISTS {DB_NAME}")
    _admin(f"CREATE DATABASE {DB_NAME}")
    try:
        _setup_django()
        _run(args.fetches)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _admin(f"DROP DATABASE IF EXISTS {DB_NAME}")


if __name__ == "__main__":
    main()
