#!/usr/bin/env bash
# Start opsapp in the embedded mode: SQLite file, tasks executed in-process, demo Graph.
#
# What `make run` calls once the venv exists. Builds the frontend (production bundle) when needed
# and serves UI + backend on ONE port: http://localhost:${OPSAPP_PORT:-8000}
#
# Env: OPSAPP_PORT (default 8000), DATABASE_URL (default: SQLite file under ./data),
#      OPSAPP_VENV_BIN (default ./.venv/bin; where the opsapp and reflex commands live).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="${OPSAPP_VENV_BIN:-$ROOT/.venv/bin}"
PORT="${OPSAPP_PORT:-8000}"

# Reflex must not try to download bun or phone home: point it at the registry-installed bun.
REFLEX_BUN_PATH="$(bash "$ROOT/scripts/ensure-bun.sh")"
export REFLEX_BUN_PATH
export REFLEX_TELEMETRY_ENABLED=false
export REFLEX_CHECK_LATEST_VERSION=0

if [[ -z "${DATABASE_URL:-}" ]]; then
  mkdir -p "$ROOT/data"
  export DATABASE_URL="sqlite:///$ROOT/data/opsapp.db"
fi

"$BIN/opsapp" db upgrade
# Refused (one line, nothing created) outside demo mode or into a database with real tenants.
"$BIN/opsapp" demo seed || echo "(demo data not seeded: see the line above)"
echo
echo "opsapp starts at http://localhost:${PORT} — sign in with one of the demo users above"
echo "(the first start builds the frontend; that takes a minute)."
echo

# `reflex run --env prod` initializes .web/ by itself when it is missing (or was built by another
# Reflex version), installs the frontend packages from reflex.lock/ and builds the bundle, then
# serves the static frontend and the backend from one process on one port.
exec "$BIN/reflex" run --env prod --frontend-port "$PORT" --backend-port "$PORT"
