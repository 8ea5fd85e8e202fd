"""Maintenance jobs: reap lost runs (every minute and at worker start), fire due backup schedules
(every minute) and prune old runs, expired sign-in sessions and old sign-in attempts (daily).

All are idempotent and safe to run from several processes at once: the reaper's guarded UPDATE
completes each lost run exactly once, the backup scheduler claims each slot with a
compare-and-set on the schedule's next_run_at, and pruning holds the "operations.prune" lease.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.engine import Engine

from opsapp import locks
from opsapp.auth import prune_sign_in_records
from opsapp.db import get_engine
from opsapp.features.backups.scheduler import fire_due_schedules
from opsapp.operations.reaper import reap_lost_runs
from opsapp.operations.retention import prune_job
from opsapp.operations.service import Dispatcher

log = logging.getLogger("opsapp.worker.maintenance")

REAP_TASK = "opsapp.maintenance.reap_lost_runs"
PRUNE_TASK = "opsapp.maintenance.prune_runs"
BACKUP_SCHEDULES_TASK = "opsapp.maintenance.fire_backup_schedules"
REAP_CRON = "* * * * *"
BACKUP_SCHEDULES_CRON = "* * * * *"
PRUNE_CRON = "17 3 * * *"  # daily, 03:17 UTC: off the hour, when nobody syncs


def reap_lost_runs_job(*, engine: Engine | None = None, now: datetime | None = None) -> list[int]:
    """Complete lost runs as failed / worker.lost (one transaction, their initiators'
    notifications included) and drop expired job leases. Returns the ids reaped."""
    engine = engine or get_engine()
    with engine.begin() as conn:
        reaped = reap_lost_runs(conn, now=now)
    if reaped:
        log.warning("reaped %d lost run(s): %s", len(reaped), reaped[:20])
    try:
        locks.purge_expired(engine, now=now)
    except Exception:  # housekeeping only
        log.exception("could not purge expired job locks")
    return reaped


def prune_runs_job(*, engine: Engine | None = None) -> str:
    """The retention job (see opsapp.operations.retention.prune_job); also drops expired sign-in
    sessions and old sign-in attempts (housekeeping: a failure there is logged, not raised)."""
    try:
        deleted = prune_sign_in_records(engine=engine)
        log.info("pruned %d expired sign-in session(s) and old attempt(s)", deleted)
    except Exception:  # housekeeping only
        log.exception("could not prune sign-in records")
    return prune_job(engine=engine)


async def fire_backup_schedules_job(
    *, dispatcher: Dispatcher, engine: Engine | None = None, now: datetime | None = None
) -> int:
    """Fire the due backup schedules as `backup_schedule.scheduled` runs through `dispatcher`
    (see opsapp.features.backups.scheduler). Returns how many slots this call fired."""
    fired = await fire_due_schedules(engine or get_engine(), dispatcher, now)
    if fired:
        log.info(
            "fired %d backup schedule slot(s); %d could not be started",
            len(fired),
            sum(1 for f in fired if f.error),
        )
    return len(fired)
