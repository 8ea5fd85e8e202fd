"""The backup scheduler's tick: fire every due schedule as one `backup_schedule.scheduled` run.

    fired = await fire_due_schedules(engine, dispatcher)          # every ~minute

One indexed query (the partial index `ix_backup_schedules_due`) selects enabled schedules whose
`next_run_at` has passed, in batches. For each, `due_slot` gives the slot to fire (the latest
one not after now: slots missed while nothing ran coalesce into one run) and the new
next_run_at; a compare-and-set UPDATE then moves next_run_at from the value read to the new one.
Only the caller whose UPDATE matched starts the run, so a restart, a second scheduler process or
a clock that jumps back (now < next_run_at: nothing is due) never fires one slot twice. The
run's identity (schedule id, scheduled-for) is a second guard.

The slot is claimed before the run is started: a process that dies in between (or a start that
fails) loses that slot rather than firing it twice; the next slot fires as usual. A failed
start is logged and never stops the other schedules.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsapp.features.backups.schedules import cadence_of
from opsapp.features.backups.slots import due_slot
from opsapp.models import BackupSchedule
from opsapp.models.backups import ENABLED_PREDICATE
from opsapp.models.types import utcnow
from opsapp.operations.service import Dispatcher, DispatchFailed, start_system_operation

log = logging.getLogger("opsapp.backups.scheduler")

RUN_TYPE = "backup_schedule.scheduled"
BATCH_SIZE = 500
_T = BackupSchedule.__table__


@dataclass(frozen=True)
class FiredSlot:
    schedule_id: int
    tenant_id: int
    scheduled_for: datetime
    run_id: int | None  # None: the start was refused (e.g. the schedule was deleted meanwhile)
    error: str | None = None  # the exception's class name when the run could not be started


def due_query(now: datetime, limit: int = BATCH_SIZE) -> sa.Select:
    """The due selection: `enabled` is the partial index's own predicate (both dialects). Only
    the columns a tick needs (500 rows of the whole table cost several ms in Python)."""
    c = _T.c
    return (
        sa.select(
            c.id, c.tenant_id, c.frequency, c.weekdays, c.time_of_day, c.timezone, c.next_run_at
        )
        .where(ENABLED_PREDICATE, _T.c.next_run_at <= now)
        .order_by(_T.c.next_run_at)
        .limit(limit)
    )


def select_due(engine: Engine, now: datetime, limit: int = BATCH_SIZE) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(due_query(now, limit)))


def claim_slot(
    engine: Engine, schedule_id: int, old: datetime, new: datetime, slot: datetime
) -> bool:
    """Advance next_run_at from `old` to `new` unless someone else already moved it (or the
    schedule was disabled or deleted). True for exactly one claimant of a slot."""
    stmt = (
        sa.update(_T)
        .where(_T.c.id == schedule_id, _T.c.next_run_at == old, ENABLED_PREDICATE)
        .values(next_run_at=new, last_scheduled_for=slot)
    )
    with engine.begin() as conn:
        return conn.execute(stmt).rowcount == 1


def _record_run(engine: Engine, schedule_id: int, slot: datetime, run_id: int) -> None:
    # Only while this slot is still the latest one fired (a later slot's run must stay shown).
    with engine.begin() as conn:
        conn.execute(
            sa.update(_T)
            .where(_T.c.id == schedule_id, _T.c.last_scheduled_for == slot)
            .values(last_run_id=run_id)
        )


async def _start(engine: Engine, dispatcher: Dispatcher, row, slot: datetime) -> FiredSlot:
    try:
        result = await start_system_operation(
            run_type=RUN_TYPE,
            tenant_id=row.tenant_id,
            inputs={"schedule_id": row.id, "scheduled_for": slot.isoformat()},
            dispatcher=dispatcher,
            engine=engine,
        )
        run_id, error = result.run.id, None
    except DispatchFailed as exc:  # the run exists, completed as failed / queue.dispatch_failed
        log.error("schedule %s slot %s: dispatch failed (run %s)", row.id, slot, exc.run.id)
        run_id, error = exc.run.id, type(exc).__name__
    except Exception as exc:  # e.g. NotFound: the schedule was deleted after it was selected
        log.warning("schedule %s slot %s not started: %s", row.id, slot, type(exc).__name__)
        return FiredSlot(row.id, row.tenant_id, slot, None, type(exc).__name__)
    try:
        await asyncio.to_thread(_record_run, engine, row.id, slot, run_id)
    except Exception:  # bookkeeping for the list page only
        log.exception("schedule %s: could not record run %s", row.id, run_id)
    return FiredSlot(row.id, row.tenant_id, slot, run_id, error)


async def fire_due_schedules(
    engine: Engine,
    dispatcher: Dispatcher,
    now: datetime | None = None,
    *,
    batch_size: int = BATCH_SIZE,
) -> list[FiredSlot]:
    """Fire every schedule due at `now` (default: the clock) once; returns the slots this call
    claimed. Does nothing (and claims nothing) when the dispatcher has no task for the type."""
    now = now or utcnow()
    if not dispatcher.supports(RUN_TYPE):
        log.warning("no task body for %s here: due schedules wait", RUN_TYPE)
        return []
    fired: list[FiredSlot] = []
    while True:
        # Database work in threads: in the embedded mode this runs on the web backend's loop.
        rows = await asyncio.to_thread(select_due, engine, now, batch_size)
        claimed = 0
        for row in rows:
            try:
                step = due_slot(cadence_of(row), row.next_run_at, now)
            except Exception:  # a stored cadence that no longer parses: skip, keep the others
                log.exception("schedule %s: cannot compute its next slot", row.id)
                continue
            if step is None:
                continue
            slot, following = step
            if not await asyncio.to_thread(
                claim_slot, engine, row.id, row.next_run_at, following, slot
            ):
                continue  # another scheduler (or an edit) moved it first
            claimed += 1
            fired.append(await _start(engine, dispatcher, row, slot))
        # A full batch may hide more due rows; a batch where every claim was lost is being
        # handled by another scheduler — leave the rest to it and to the next tick.
        if len(rows) < batch_size or claimed == 0:
            return fired
