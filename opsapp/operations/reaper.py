"""Lost runs: a worker that died leaves its run `running` (or a message that was never picked up
leaves it `queued`), which would block every later start of the same identity through the
partial unique index. The reaper completes such runs as failed / worker.lost."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from opsapp.models import OperationRun
from opsapp.models.types import utcnow
from opsapp.operations.catalog import held_types
from opsapp.operations.failures import WORKER_LOST, make_failure
from opsapp.operations.lifecycle import complete_where, status_in
from opsapp.operations.status import RunOutcome, RunStatus
from opsapp.settings import get_settings

_T = OperationRun.__table__

LOST_MESSAGE = "The worker running this operation stopped responding; the run was marked failed."
NEVER_STARTED_MESSAGE = "No worker picked this operation up in time; the run was marked failed."


def thresholds() -> tuple[timedelta, timedelta]:
    s = get_settings()
    return timedelta(seconds=s.lost_after_seconds), timedelta(seconds=s.queued_timeout_seconds)


def lost_clause(now: datetime, *, lost_after: timedelta, queued_timeout: timedelta):
    """SQL predicate: running without a fresh heartbeat, or queued for too long — counted from
    its creation, or for a held run (see OperationType.held) from its dispatch: a held run that
    nobody executed yet is waiting on purpose, not lost."""
    beat = sa.func.coalesce(_T.c.heartbeat_at, _T.c.started_at, _T.c.created_at)
    held = held_types()
    # Inline like status_in: an expanding IN is re-rendered on every execution of the start.
    held_tokens = [sa.literal_column("'{}'".format(key.replace("'", "''"))) for key in held]
    queued_since = (
        sa.case((_T.c.type.in_(held_tokens), _T.c.dispatched_at), else_=_T.c.created_at)
        if held
        else _T.c.created_at
    )
    return sa.or_(
        sa.and_(status_in({RunStatus.running}), beat < now - lost_after),
        sa.and_(status_in({RunStatus.queued}), queued_since < now - queued_timeout),
    )


def reap_lost_runs(
    conn: Connection,
    *,
    now: datetime | None = None,
    ids: list[int] | None = None,
    lost_after: timedelta | None = None,
    queued_timeout: timedelta | None = None,
) -> list[int]:
    """Complete lost runs (optionally only among `ids`) as failed; return the ids reaped."""
    now = now or utcnow()
    default_lost, default_queued = thresholds()
    where = lost_clause(
        now, lost_after=lost_after or default_lost, queued_timeout=queued_timeout or default_queued
    )
    if ids is not None:
        where = sa.and_(where, _T.c.id.in_(ids))
    reaped: list[int] = []
    # Through the same guarded transition as every other completion: each pass may only match
    # its own source status, and a run that completed meanwhile is never matched again.
    for status, message in (
        (RunStatus.running, LOST_MESSAGE),
        (RunStatus.queued, NEVER_STARTED_MESSAGE),
    ):
        reaped += complete_where(
            conn,
            where,
            outcome=RunOutcome.failed,
            failures=[make_failure(WORKER_LOST, message)],
            now=now,
            only_from=frozenset({status}),
        )
    return reaped
