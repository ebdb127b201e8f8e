"""Celery tasks of the ChatKit endpoint: the stuck-run sweep, which asks the run registry.

The sweep itself is hosted_agents.stuck_runs; what only this app knows is whether a run is
registered for a thread (runs.py), shared by every web process when the state is Redis.
Without Redis the registry lives in each web process, out of a worker's sight: the sweep
then relies on the message's age and the thread's long tool calls alone.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict

from celery import shared_task
from django.conf import settings

from chatkit_endpoints.runs import RunKey, run_lookup
from chatkit_endpoints.state import shared_state
from hosted_agents.stuck_runs import run_sweep_stuck


def runs_registered(keys: list[tuple[int, int | None, str, str]]) -> list[bool]:
    """Return, for each (tenant, agent, end user, thread), whether a run is registered."""
    if not settings.REDIS_URL:
        return [False] * len(keys)

    async def lookup() -> list[bool]:
        try:
            return [
                await run_lookup(RunKey(tenant_id, agent_id or 0, end_user_id, thread_id))
                is not None
                for tenant_id, agent_id, end_user_id, thread_id in keys
            ]
        finally:
            await shared_state().aclose()

    return asyncio.run(lookup())


# Celery ships no type hints, so its decorator hides the signature from mypy.
@shared_task(name=settings.STUCK_RUN_SWEEP_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
def sweep_stuck_runs() -> dict[str, int]:
    return asdict(run_sweep_stuck(is_running=runs_registered))
