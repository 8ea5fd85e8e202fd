"""Retention of a schedule's sets: keep the newest `keep_last`, delete older ones — but never a
set another active run is writing (its writer run, or an active backup_set.* run naming it)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from opsapp.features.backups.checks import SET_RUN_TYPES
from opsapp.models import BackupSchedule, BackupSet, OperationRun
from opsapp.models.operations import ACTIVE_PREDICATE

_S, _R = BackupSet.__table__, OperationRun.__table__


def busy_set_ids(conn: Connection, *, tenant_id: int, except_run_id: int | None) -> tuple[set, set]:
    """(ids of active runs, ids of sets named by active backup_set.* runs) of the tenant."""
    query = sa.select(_R.c.id, _R.c.type, _R.c.context).where(
        _R.c.tenant_id == tenant_id, ACTIVE_PREDICATE
    )
    if except_run_id is not None:
        query = query.where(_R.c.id != except_run_id)
    runs, sets = set(), set()
    for run_id, run_type, context in conn.execute(query):
        runs.add(run_id)
        if run_type in SET_RUN_TYPES:
            set_id = ((context or {}).get("inputs") or {}).get("backup_set_id")
            if set_id is not None:
                sets.add(int(set_id))
    return runs, sets


def apply_retention(
    engine: Engine, *, tenant_id: int, schedule_id: int, keep_last: int, run_id: int | None
) -> int:
    """Delete the schedule's sets beyond the newest `keep_last`; returns how many went."""
    with engine.begin() as conn:
        # The write first (SQLite never upgrades a reader); on PostgreSQL it also serializes two
        # runs pruning the same schedule's sets.
        schedules = BackupSchedule.__table__
        conn.execute(
            sa.update(schedules)
            .where(schedules.c.id == schedule_id)
            .values(updated_at=schedules.c.updated_at)
        )
        sets = conn.execute(
            sa.select(_S.c.id, _S.c.writer_run_id)
            .where(_S.c.tenant_id == tenant_id, _S.c.schedule_id == schedule_id)
            .order_by(_S.c.created_at.desc(), _S.c.id.desc())
        ).all()
        beyond = sets[max(keep_last, 1) :]
        if not beyond:
            return 0
        active_runs, named = busy_set_ids(conn, tenant_id=tenant_id, except_run_id=run_id)
        doomed = [
            set_id
            for set_id, writer in beyond
            if set_id not in named and (writer is None or writer not in active_runs)
        ]
        if doomed:
            conn.execute(sa.delete(_S).where(_S.c.id.in_(doomed)))
        return len(doomed)
