"""Server time of the console's thread browser on PostgreSQL: a tenant of 1,000 threads
against one of 100,000.

    nice -n 10 .venv/bin/python bench/console_pages.py [--requests 40] [--keep]

Creates the database `bench_console_pages` on 127.0.0.1:5432 (trust auth), migrates it and
loads with COPY two tenants, `pages-small` (1,000 threads) and `pages-large` (100,000
threads). Each has agents `support` and `sales` (half the threads each), 500 end users,
and per thread a user message and an answer (agent version 1 or 2): the question names one
of 100 topics ("topic17": 1% of the threads) and a word of its own ("case123": one thread).
Every 20th thread has feedback, every 50th a failed long tool call. Each tenant also has
one thread of 2,000 items (user messages, answers and widgets, alternating).

Then, for each tenant, the page is requested through Django's whole stack (middleware,
session, membership check, view, template; `django.test.Client`, no network) by a signed-in
owner, alternating small and large tenant, and the time to the full answer is taken:

* the thread list: first page; a deep page (a cursor 30 threads from the end); first page
  with filters (agent, end-user-free date range, no feedback); a text search of a 1% word,
  first page and a deep page; a text search of a word one thread has;
* the thread view of the 2,000-item thread (its first page of 100 items) and its last page.

Prints a table, writes it to bench/console_pages.md (the text above the "## Figures" line is
kept), and drops the database (unless --keep).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "bench" / "console_pages.md"
DB_NAME = "bench_console_pages"
SERVER = "postgres://postgres@127.0.0.1:5432"
WARM_UP = 5
T0 = datetime(2026, 1, 1, tzinfo=UTC)
LONG_THREAD_ITEMS = 2000

sys.path.insert(0, str(ROOT))
os.environ["DATABASE_URL"] = f"{SERVER}/{DB_NAME}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatkit_platform.settings")
os.environ["DEBUG"] = "0"  # as in production: no query log


def _admin(sql: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def _message(kind: str, item_id: str, thread_id: str, at: datetime, text: str) -> str:
    part = "input_text" if kind == "user_message" else "output_text"
    data: dict[str, Any] = {
        "id": item_id, "thread_id": thread_id, "type": kind, "created_at": at.isoformat(),
        "content": [{"type": part, "text": text}],
    }  # fmt: skip
    if kind == "user_message":
        data |= {"attachments": [], "inference_options": {}}
    return json.dumps(data)


def _widget(item_id: str, thread_id: str, at: datetime, n: int) -> str:
    widget = {"type": "Card", "children": [
        {"type": "Title", "value": f"Order {n}"},
        {"type": "Row", "children": [{"type": "Text", "value": "Status"},
                                     {"type": "Badge", "label": "shipped"}]},
        {"type": "Button", "label": "Track"}]}  # fmt: skip
    return json.dumps({"id": item_id, "thread_id": thread_id, "type": "widget",
                       "created_at": at.isoformat(), "widget": widget})  # fmt: skip


def _copy(sql: str, rows: Any) -> None:
    from django.db import connection

    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _load_tenant(slug: str, count: int, owner: Any) -> dict[str, Any]:
    from hosted_agents.models import Agent
    from tenants.models import Thread
    from tenants.services import tenant_create

    tenant = tenant_create(slug=slug, name=slug, owner=owner)
    agents = [Agent(tenant=tenant, slug=s, name=s) for s in ("support", "sales")]
    for agent in agents:
        agent.save()
    now, status = datetime.now(UTC), json.dumps({"type": "active"})
    ids = [f"thr_{n:07d}" for n in range(count + 1)]  # the last one is the long thread

    def threads() -> Any:
        for n, public_id in enumerate(ids):
            agent = agents[n % 2]
            yield (tenant.pk, public_id, agent.pk, agent.slug, f"user{n % 500:03d}",
                   f"Question {n}", status, "{}", T0 + timedelta(seconds=n), now)  # fmt: skip

    _copy("COPY tenants_thread (tenant_id, public_id, agent_id, agent_slug, end_user_id, title,"
          " status, metadata, created_at, updated_at) FROM STDIN", threads())  # fmt: skip
    pks = dict(Thread.objects.for_tenant(tenant).values_list("public_id", "pk"))

    def items() -> Any:
        for n, public_id in enumerate(ids[:-1]):
            at = T0 + timedelta(seconds=n)
            pk, version = pks[public_id], 1 + n % 2
            question = f"My order for topic{n % 100} is late, reference case{n}. Can you help?"
            answer = f"Sorry about topic{n % 100}. Your order ships tomorrow."
            yield (
                tenant.pk,
                pk,
                f"{public_id}_q",
                "user_message",
                at,
                _message("user_message", f"{public_id}_q", public_id, at, question),
                None,
                None,
            )
            answer_json = _message("assistant_message", f"{public_id}_a", public_id, at, answer)
            yield (tenant.pk, pk, f"{public_id}_a", "assistant_message", at, answer_json,
                   version, "gpt-bench")  # fmt: skip
        long_id, long_pk = ids[-1], pks[ids[-1]]
        for n in range(LONG_THREAD_ITEMS):
            at, item_id = T0 + timedelta(seconds=count, milliseconds=n), f"itm_{n:05d}"
            kind = ("user_message", "assistant_message", "widget")[n % 3]
            text = f"Message {n} about topic{n % 100}."
            data = (_widget(item_id, long_id, at, n) if kind == "widget" else
                    _message(kind, item_id, long_id, at, text))  # fmt: skip
            answered = kind != "user_message"
            yield (tenant.pk, long_pk, item_id, kind, at, data, 1 if answered else None,
                   "gpt-bench" if answered else None)  # fmt: skip

    _copy("COPY tenants_threaditem (tenant_id, thread_id, public_id, type, created_at, data,"
          " agent_version, model) FROM STDIN", items())  # fmt: skip
    _copy("COPY tenants_feedback (tenant_id, thread_id, item_ids, kind, end_user_id, created_at)"
          " FROM STDIN", ((tenant.pk, pks[ids[n]], json.dumps([f"{ids[n]}_a"]), "positive", "",
                           now) for n in range(0, count, 20)))  # fmt: skip
    _copy("COPY hosted_agents_toolcall (tenant_id, thread_id, run_id, call_id, tool_name,"
          " arguments, time_limit_seconds, status, attempts, claim_token, worker_hostname,"
          " celery_task_id, progress_text, error_code, error_message, created_at, queued_at)"
          " FROM STDIN",
          ((tenant.pk, ids[n], "run", "call_0", "lookup", "{}", 30.0, "failed", 1, "", "", "",
            "", "tool_error", "failed", now, now) for n in range(0, count, 50)))  # fmt: skip
    return {"tenant": tenant, "ids": ids, "count": count}


def _load() -> tuple[Any, dict[str, Any], dict[str, Any]]:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    started = time.perf_counter()
    owner = get_user_model()._default_manager.create_user(username="bench-owner")
    with transaction.atomic():
        small = _load_tenant("pages-small", 1_000, owner)
        large = _load_tenant("pages-large", 100_000, owner)
    with connection.cursor() as cursor:
        # As autovacuum would soon: statistics, and the GIN indexes' pending lists merged.
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("SELECT count(*) FROM tenants_thread")
        threads = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM tenants_threaditem")
        items = cursor.fetchone()[0]
    print(f"loaded {threads:,} threads and {items:,} items in {time.perf_counter() - started:.1f}s")
    return owner, small, large


def _cases(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Return (label, URL) of each page timed, for one tenant."""
    from django.urls import reverse

    slug, ids, count = data["tenant"].slug, data["ids"], data["count"]
    threads = reverse("console:threads", kwargs={"tenant": slug})
    long_thread = reverse("console:thread", kwargs={"tenant": slug, "thread": ids[-1]})
    # Newest first: the list's 30th thread from the end is the 30th oldest; for the search of
    # topic7 (threads 7, 107, ...), the 30th oldest of those.
    deep = ids[29]
    deep_search = ids[7 + 100 * min(29, count // 100 - 1)]
    return [
        ("list, first page", threads),
        ("list, deep page", f"{threads}?after={deep}"),
        ("list, filters (agent, dates, no feedback)",
         f"{threads}?agent=sales&since=2026-01-01&until=2026-12-31&feedback=no"),
        ("list, search of a 1% word", f"{threads}?q=topic7"),
        ("list, search of a 1% word, deep page", f"{threads}?q=topic7&after={deep_search}"),
        ("list, search of a word of one thread", f"{threads}?q=case{count // 2}"),
        ("thread view, 2,000 items, first 100", long_thread),
        ("thread view, 2,000 items, last page", f"{long_thread}?after=itm_01899"),
    ]  # fmt: skip


def _time_pair(small: Callable[[], Any], large: Callable[[], Any], requests: int) -> list[Any]:
    """Return (median, p95) in ms of each, timed alternately so that load weighs on both."""
    for _ in range(WARM_UP):
        small()
        large()
    samples: list[list[float]] = [[], []]
    for _ in range(requests):
        for index, call in enumerate((small, large)):
            started = time.perf_counter()
            call()
            samples[index].append((time.perf_counter() - started) * 1000)
    return [(statistics.median(t), sorted(t)[int(len(t) * 0.95) - 1]) for t in samples]


def _get(client: Any, url: str, expect: str) -> Callable[[], None]:
    def call() -> None:
        response = client.get(url)
        if response.status_code != 200 or expect.encode() not in response.content:
            raise AssertionError(f"{url}: {response.status_code}")

    return call


def _run(requests: int) -> str:
    from django.test import Client

    owner, small, large = _load()
    client = Client()
    client.force_login(owner)
    lines = [
        "| page | 1,000 threads: median | p95 | 100,000 threads: median | p95 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for (label, small_url), (_, large_url) in zip(_cases(small), _cases(large), strict=True):
        expect = "thread-link" if "list" in label else "Message"
        if "one thread" in label:
            expect = "Question"
        (sm, sp), (lm, lp) = _time_pair(
            _get(client, small_url, expect), _get(client, large_url, expect), requests
        )
        line = f"| {label} | {sm:.1f} ms | {sp:.1f} ms | {lm:.1f} ms | {lp:.1f} ms |"
        print(line)
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    _admin(f"DROP DATABASE IF EXISTS {DB_NAME}")
    _admin(f"CREATE DATABASE {DB_NAME}")
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        table = _run(args.requests)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _admin(f"DROP DATABASE IF EXISTS {DB_NAME}")
    head = REPORT.read_text().split("## Figures")[0] if REPORT.exists() else "# Console pages\n\n"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    REPORT.write_text(f"{head}## Figures\n\n{stamp}, {args.requests} requests per page"
                      f" (after {WARM_UP} to warm up):\n\n{table}\n")  # fmt: skip


if __name__ == "__main__":
    main()
