#!/usr/bin/env bash
# Serve the platform until Ctrl-C or SIGTERM: daphne, a worker for long tool calls, a
# worker for the short platform tasks with the beat scheduler, then the demo banner.
# The supervision is in scripts/run.py; PYTHON picks the interpreter (default: .venv's).
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" scripts/run.py
