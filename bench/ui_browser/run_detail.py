"""Section 2: a database commit → the new count on the run detail page.

The page polls every 1000 ms, so the commit is made at a random phase of that poll; the page
stamps `Date.now()` when it shows the count, compared with `time.time()` taken just before the
commit in this process (the same wall clock). The floor is the UPDATE + COMMIT itself.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from bench.common import percentile
from opsapp.models import OperationRun

from .browser import new_context, sign_in
from .config import DETAIL_SAMPLES, WARMUP
from .page_timers import processed_shown_at, watch_processed
from .serving import Server
from .stats import row, verdict

RUNS_TABLE = OperationRun.__table__


def insert_running_run(engine, tenant_id: int) -> int:
    """A `drift.generate` run as the worker would leave it mid-way: running, 0 of 1000 done."""
    now = datetime.now(UTC)
    values = {
        "tenant_id": tenant_id,
        "user_id": None,
        "initiator_name": "Bench",
        "type": "drift.generate",
        "status": "running",
        "outcome": "pending",
        "run_identity_hash": uuid.uuid4().hex,
        "summary_counts": {"total": 1000, "processed": 0},
        "failures": [],
        "context": {"inputs": {}},
        "created_at": now,
        "started_at": now,
        "updated_at": now,
        "heartbeat_at": now,
        "attempts": 1,
    }
    with engine.begin() as conn:
        query = sa.insert(RUNS_TABLE).values(**values).returning(RUNS_TABLE.c.id)
        return conn.execute(query).scalar_one()


def update_processed(engine, run_id: int, n: int) -> tuple[float, float]:
    """(wall clock ms just before, just after the commit)."""
    now = datetime.now(UTC)
    counts = {"total": 1000, "processed": n}
    before = time.time() * 1000
    with engine.begin() as conn:
        conn.execute(
            sa.update(RUNS_TABLE)
            .where(RUNS_TABLE.c.id == run_id)
            .values(summary_counts=counts, heartbeat_at=now, updated_at=now)
        )
    return before, time.time() * 1000


def _cancel_run(engine, run_id: int) -> None:
    """End the bench run so it does not count as active for the toasts measured after this."""
    with engine.begin() as conn:
        conn.execute(
            sa.update(RUNS_TABLE)
            .where(RUNS_TABLE.c.id == run_id)
            .values(status="completed", outcome="cancelled", completed_at=datetime.now(UTC))
        )


def _commit_to_page(page, engine, run_id: int) -> tuple[list[float], list[float]]:
    """(commit → page ms, commit ms) per sample, warm-up dropped."""
    lag, floor = [], []
    for n in range(1, WARMUP + DETAIL_SAMPLES + 1):
        time.sleep(random.uniform(0.0, 1.0))  # a random phase against the 1 s poll
        before, after = update_processed(engine, run_id, n)
        seen = processed_shown_at(page, n)
        if n > WARMUP:
            lag.append(seen - before)
            floor.append(after - before)
    return lag, floor


def detail_latency(browser, app: Server, engine, tenant_id: int, log) -> list[str]:
    run_id = insert_running_run(engine, tenant_id)
    context = new_context(browser, log)
    try:
        page = sign_in(context, app.base_url, "owner", f"/t/contoso/operations/{run_id}")
        page.locator("[data-count=processed]").wait_for()
        watch_processed(page)
        lag, floor = _commit_to_page(page, engine, run_id)
    finally:
        context.close()
        _cancel_run(engine, run_id)
    return detail_report(lag, floor)


def detail_report(lag: list[float], floor: list[float]) -> list[str]:
    p95 = percentile(lag, 95)
    return [
        "| measured | commit → page shows the new count | floor | ratio p50 / p95 |",
        "|---|---|---|---|",
        row("run detail, `summary_counts.processed` updated", lag, floor, "UPDATE + COMMIT"),
        "",
        f"Goal ≤ polling interval + 100 ms = 1100 ms at p95: {verdict(p95 <= 1100)} "
        f"(p95 {p95:.0f} ms, max {max(lag):.0f} ms). The wait is dominated by the 1000 ms poll: "
        f"a commit lands at a random phase of it, so ~500 ms at p50 is the floor of the design, "
        f"not of the machine.",
    ]
