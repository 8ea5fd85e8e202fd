"""Sample counts, timeouts and paths shared by the benchmark's modules.

`OPSAPP_BENCH_QUICK=1` shrinks every count: a smoke run of the script itself, which prints its
report instead of writing RESULTS.md.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout: bench/ui_browser/ is two levels down
SECTION = "Served app in headless Chromium (UI latency, 1 M-run list, memory)"
QUICK = os.environ.get("OPSAPP_BENCH_QUICK") == "1"
SYNC_SAMPLES = 8 if QUICK else 60  # per path (≥ 50)
DETAIL_SAMPLES = 8 if QUICK else 60
NAV_SAMPLES = 5 if QUICK else 40  # per navigation kind (≥ 30)
SESSIONS = 3 if QUICK else 20
RUNS = 20_000 if QUICK else 1_000_000
TENANTS = 100
WARMUP = 3  # samples dropped at the start of each variant
START_TIMEOUT_S = 600
UI_TIMEOUT_MS = 20_000
SLOW_MS = 500  # the demo Graph's delay that keeps a sync active during the reuse phase
