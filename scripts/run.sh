#!/usr/bin/env bash
# Serve the platform with daphne and run a Celery worker beside it, until Ctrl-C.
# Both stop together: if either exits, the other is stopped too.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
STOP_SECONDS="${STOP_SECONDS:-30}"

"$BIN/daphne" -b "$HOST" -p "$PORT" chatkit_platform.asgi:application &
web=$!
# The worker gets a session of its own: a signal sent to our whole process group
# (Ctrl-C, `timeout`, a supervisor) must reach only its main process, which then
# shuts its pool down. A pool child killed directly can die holding the pool's queue
# lock, and the main process then waits for that lock forever.
setsid "$BIN/celery" -A chatkit_platform worker --loglevel=INFO --concurrency=2 \
    --queues=default,long_tools --beat --schedule=var/celerybeat-schedule &
worker=$!

alive() { kill -0 "$1" 2>/dev/null; }

stop() {
    trap - INT TERM
    kill -TERM "$web" "$worker" 2>/dev/null
    for _ in $(seq 1 "$STOP_SECONDS"); do
        alive "$web" || alive "$worker" || break
        sleep 1
    done
    # Whatever did not finish its warm shutdown in time is killed. The worker's whole
    # session goes, even when its main process did finish: the embedded beat process
    # does not always stop with it and would be left behind.
    alive "$web" && kill -KILL "$web" 2>/dev/null
    kill -KILL -- "-$worker" 2>/dev/null
    wait "$web" "$worker" 2>/dev/null
}
trap 'echo; echo "Stopping..."; stop; exit 0' INT TERM
wait -n "$web" "$worker"
status=$?
stop
exit "$status"
