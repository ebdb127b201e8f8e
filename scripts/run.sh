#!/usr/bin/env bash
# Serve the platform with daphne and run a Celery worker beside it, until Ctrl-C.
# Both stop together: if either exits, the other is stopped too.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"

"$BIN/daphne" -b "$HOST" -p "$PORT" chatkit_platform.asgi:application &
web=$!
"$BIN/celery" -A chatkit_platform worker --loglevel=INFO --concurrency=2 \
    --queues=default,long_tools --beat --schedule=var/celerybeat-schedule &
worker=$!

stop() {
    trap - INT TERM
    kill -TERM "$web" "$worker" 2>/dev/null
    wait "$web" "$worker" 2>/dev/null
}
trap 'echo; echo "Stopping..."; stop; exit 0' INT TERM
wait -n "$web" "$worker"
status=$?
stop
exit "$status"
