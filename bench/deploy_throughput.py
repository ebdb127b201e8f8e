"""Conversations per second that one web process and one Celery worker handle.

Run it with the project's virtualenv from the repository root, with PostgreSQL and Redis
on the machine (it makes and drops a database of its own, and purges the platform's queues
on the Redis database it is given):

    .venv/bin/python bench/deploy_throughput.py \\
        --database-url postgres://postgres@127.0.0.1:5432/bench \\
        --redis-url redis://127.0.0.1:6379/14                     # a few minutes
    ... --quick                                                   # smoke run

The processes are those of deploy/ (tests/deploy/processes.py starts them): one daphne,
one worker for the long_tools queue (`--worker-concurrency`, default 4), one for default and
platform, and beat, on the offline demo model. Two workloads, each a fixed number of
conversations (a streamed `threads.create` read to its end) at a fixed client concurrency:

* chat: a plain turn, no tool; bound by the web process;
* long tool: the demo model calls `analyze_text`, which runs on the worker (about 2.4 s of
  work in four steps); bound by the worker's pool (at most concurrency / 2.4 s per second).

Printed: conversations per second, p50 and p95 of a conversation's duration, errors.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.deploy.processes import Deployment, Process  # noqa: E402

SETUP = """
import json
from django.contrib.auth import get_user_model
from hosted_agents.services import agent_create, agent_publish
from tenants.services import api_key_create, tenant_create
owner = get_user_model().objects.create_user("owner", password="unused-password")
tenant = tenant_create(slug="bench", name="Bench", owner=owner)
agent = agent_create(tenant=tenant, slug="analyst", name="Analyst", code_tools=["analyze_text"])
agent_publish(tenant=tenant, agent_id=agent.pk)
print(json.dumps({"key": api_key_create(tenant=tenant, name="bench", scopes=["chat"]).raw}))
"""
TEXT = "One web process, one worker. How many conversations per second? Let us count!"


def conversation(web: Process, key: str, message: str, number: int) -> tuple[float, bool]:
    """Run one streamed turn; return its duration and whether it ended with an answer."""
    body = {"type": "threads.create", "params": {"input": {
        "content": [{"type": "input_text", "text": message}],
        "attachments": [], "inference_options": {}}}}  # fmt: skip
    headers = {"authorization": f"Bearer {key}", "x-chatkit-user": f"user-{number % 50}"}
    started = time.perf_counter()
    with httpx.stream("POST", web.base_url + "/t/bench/agents/analyst/chatkit", json=body,
                      headers=headers, timeout=300) as response:  # fmt: skip
        text = "".join(response.iter_text())
    answered = response.status_code == 200 and '"assistant_message"' in text
    return time.perf_counter() - started, answered and '"type":"error"' not in text


def workload(
    web: Process, key: str, message: str, count: int, concurrency: int
) -> dict[str, float]:
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda n: conversation(web, key, message, n), range(count)))
    elapsed = time.perf_counter() - started
    durations = sorted(duration for duration, _ in results)
    return {
        "conversations": count,
        "concurrency": concurrency,
        "per_second": round(count / elapsed, 2),
        "p50_s": round(statistics.median(durations), 2),
        "p95_s": round(durations[int(0.95 * (len(durations) - 1))], 2),
        "errors": sum(1 for _, ok in results if not ok),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    chat_count, tool_count = (20, 8) if args.quick else (200, 48)
    with (
        tempfile.TemporaryDirectory() as tmp,
        Deployment.create(Path(tmp), args.database_url, args.redis_url) as deployment,
    ):
        deployment.env["LOG_LEVEL"] = "warning"
        key = deployment.shell(SETUP)["key"]
        web = deployment.web("web")
        deployment.worker("tools", "long_tools", concurrency=args.worker_concurrency)
        deployment.worker("platform", "default,platform", concurrency=1)
        deployment.beat()
        workload(web, key, "Hello", 4, 2)  # warm-up
        results = {
            "chat (one web process)": [
                workload(web, key, "Hello, what can you do?", chat_count, c) for c in (1, 8)
            ],
            f"long tool (one worker, concurrency {args.worker_concurrency})": [
                workload(web, key, f'analyze_text "{TEXT}"', tool_count, c)
                for c in (args.worker_concurrency, 2 * args.worker_concurrency)
            ],
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
