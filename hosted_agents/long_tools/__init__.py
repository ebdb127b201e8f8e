"""Long-running code tools, run on Celery workers, with the database as the record.

One `ToolCall` row per (tenant, thread, run, tool-call id) goes through these states:

    queued --claim--> running --finish--> done | failed | timed_out
       ^                 |
       +---- sweep ------+   heartbeat stale: its worker died (re-queued at most MAX_ATTEMPTS)

* The run (`long_tool_run`) writes the row, sends the task when that commits, and polls the
  row every POLL_SECONDS, passing on progress. It gives up with `LongToolError` when no
  worker claims the call within the pickup timeout, or the running attempt outlives its
  deadline (the Celery hard limit) by DEADLINE_SLACK.
* A worker (`tool_call_execute`) claims the row with one conditional UPDATE: a queued call,
  a running one whose heartbeat is older than STALE_AFTER, or a running one left behind by a
  dead pool process of the same worker (the redelivery after a killed child). Each claim
  writes a new token; progress, heartbeats and the result are written only while the token
  still matches, so a repeated delivery or a superseded attempt records nothing.
  A background thread writes progress (at most every PROGRESS_SECONDS) and the heartbeat
  (every HEARTBEAT_SECONDS). Celery's soft limit is the tool's limit (capped by
  LONG_TOOL_TIMEOUT_SECONDS); its hard limit adds HARD_LIMIT_GRACE_SECONDS.
* `tool_call_sweep` (Celery beat, every 15 s) re-queues running calls with a stale heartbeat,
  long before the broker would redeliver (Redis: 3 x LONG_TOOL_TIMEOUT_SECONDS), and re-sends
  calls queued for RESEND_AFTER whose message may be lost (the file broker loses the one a
  dying worker had taken). It fails calls out of attempts or queued for QUEUED_GIVE_UP_AFTER.

Execution is at least once: a call whose worker died runs again from the start (the claim
keeps only one result). A tool with effects outside the platform passes
`progress.idempotency_key`, the same for every attempt of the call, to the service it calls.

The claim relies on the prefork pool (one task per process at a time), which is also the
pool that enforces time limits.
"""

from hosted_agents.long_tools.common import (
    MAX_ATTEMPTS,
    PICKUP_TIMEOUT_SECONDS,
    LongToolError,
    tool_call_send,
)
from hosted_agents.long_tools.run import long_tool_run, tool_call_enqueue
from hosted_agents.long_tools.sweep import SweepReport, tool_call_sweep
from hosted_agents.long_tools.worker import (
    Claim,
    Outcome,
    idempotency_key,
    tool_call_claim,
    tool_call_execute,
    tool_call_finish,
)

__all__ = [
    "MAX_ATTEMPTS",
    "PICKUP_TIMEOUT_SECONDS",
    "Claim",
    "LongToolError",
    "Outcome",
    "SweepReport",
    "idempotency_key",
    "long_tool_run",
    "tool_call_claim",
    "tool_call_enqueue",
    "tool_call_execute",
    "tool_call_finish",
    "tool_call_send",
    "tool_call_sweep",
]
