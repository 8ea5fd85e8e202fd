"""Retention: completed runs older than the retention window are deleted, in batches.

Each batch is its own short transaction (delete … where id in (select id … limit n)) so concurrent starts
never wait behind one long delete. Only completed runs are candidates — the status is checked
again in the DELETE, so a run can never be removed while it is active. `prune_job` wraps the work
in the database lease "operations.prune": two overlapping invocations never prune at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsapp import locks
from opsapp.db import get_engine
from opsapp.models import OperationRun
from opsapp.models.types import utcnow
from opsapp.operations.lifecycle import status_in
from opsapp.operations.status import TERMINAL_STATUSES
from opsapp.settings import get_settings

log = logging.getLogger("opsapp.operations.retention")

_T = OperationRun.__table__
PRUNE_LOCK = "operations.prune"
# The lease outlives a stalled pruner by at most this long; it is renewed after every batch.
PRUNE_LOCK_TTL = timedelta(minutes=10)
SKIPPED = "skipped: already running"


def prune_completed_runs(
    *,
    engine: Engine | None = None,
    now: datetime | None = None,
    older_than_days: int | None = None,
    batch_size: int | None = None,
    on_batch: Callable[[int], bool | None] | None = None,
) -> int:
    """Delete completed runs whose completed_at is older than `older_than_days` (default: the
    configured retention). Commits per batch; `on_batch(deleted_so_far)` runs after each one and
    stops the pruning by returning False. Returns how many runs were deleted."""
    settings = get_settings()
    engine = engine or get_engine()
    days = settings.run_retention_days if older_than_days is None else older_than_days
    batch = settings.prune_batch_size if batch_size is None else batch_size
    if batch < 1:
        raise ValueError("batch_size must be at least 1")
    cutoff = (now or utcnow()) - timedelta(days=days)
    # Only runs the transition table lets go nowhere (completed) — never an active run.
    expired = sa.and_(status_in(TERMINAL_STATUSES), _T.c.completed_at < cutoff)
    total = 0
    while True:
        # One statement per batch: the ids stay inside the database (binding thousands of ids
        # from Python cost more CPU than the delete itself, and in the embedded mode that CPU
        # is the web process's).
        batch_ids = (
            sa.select(_T.c.id).where(expired).order_by(_T.c.id).limit(batch).scalar_subquery()
        )
        with engine.begin() as conn:
            deleted = conn.execute(sa.delete(_T).where(_T.c.id.in_(batch_ids), expired)).rowcount
        total += deleted
        if on_batch is not None and deleted and on_batch(total) is False:
            log.warning("pruning stopped after %d runs: on_batch said stop", total)
            break
        if deleted < batch:
            break
    return total


def prune_job(
    *, engine: Engine | None = None, now: datetime | None = None, older_than_days: int | None = None
) -> str:
    """The scheduled pruning job: prune under the "operations.prune" lease, or return
    "skipped: already running" when another invocation holds it."""
    engine = engine or get_engine()
    holder = locks.new_holder()
    if not locks.acquire(engine, PRUNE_LOCK, holder, PRUNE_LOCK_TTL):
        log.info("prune skipped: another invocation holds %s", PRUNE_LOCK)
        return SKIPPED
    try:
        deleted = prune_completed_runs(
            engine=engine,
            now=now,
            older_than_days=older_than_days,
            on_batch=lambda _n: locks.renew(engine, PRUNE_LOCK, holder, PRUNE_LOCK_TTL),
        )
    finally:
        locks.release(engine, PRUNE_LOCK, holder)
    log.info("pruned %d completed runs", deleted)
    return f"pruned {deleted} runs"
