#!/usr/bin/env bash
# The whole suite: unit + integration (SQLite and PostgreSQL, Redis, real workers) in one pytest
# run (two xdist processes), the fault suite (its own redis-server, workers killed, stopped and
# frozen), then the browser/Reflex build tests in their own (Reflex caches config per process).
set -euo pipefail
cd "$(dirname "$0")/.."
export REFLEX_TELEMETRY_ENABLED=false REFLEX_CHECK_LATEST_VERSION=0
bash scripts/ensure-services.sh
# Two processes (pytest-xdist): most of these tests wait on subprocesses, sockets and polls,
# so they overlap well even on 2 cores. Each process has its own databases (tests/conftest.py).
.venv/bin/python -m pytest tests/unit tests/integration -q -n "${OPSAPP_TEST_PROCESSES:-2}" "$@"
.venv/bin/python -m pytest tests/faults -q -s "$@"
if [ -d tests/e2e ] && ls tests/e2e/test_*.py >/dev/null 2>&1; then
  bash scripts/ensure-browser.sh
  .venv/bin/python -m pytest tests/e2e -q "$@"
fi
