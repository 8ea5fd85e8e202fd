"""Run lifecycle writes. Each is ONE guarded UPDATE (… WHERE status IN <allowed sources>), so
concurrent workers, redelivered messages and the reaper cannot move a run illegally, and a
completed run never changes again. Tracking a run costs: insert, mark running, complete."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsapp.db import get_engine
from opsapp.models import OperationRun
from opsapp.models.types import utcnow
from opsapp.operations.failures import merge_failures
from opsapp.operations.status import IllegalTransition, RunOutcome, RunStatus, sources_of

_T = OperationRun.__table__


class Claim(StrEnum):
    claimed = "claimed"  # this worker now runs it
    taken_over = "taken_over"  # it was running with a stale heartbeat; this worker took it over
    already_completed = "already_completed"  # redelivery of finished work: do nothing
    running_elsewhere = "running_elsewhere"  # another live worker has it: do nothing
    missing = "missing"  # no such run (deleted, or a bogus message)

    @property
    def should_execute(self) -> bool:
        return self in (Claim.claimed, Claim.taken_over)


def _update(engine: Engine, stmt) -> list[Any]:
    with engine.begin() as conn:
        return list(conn.execute(stmt.returning(_T.c.id)).scalars())


def mark_running(
    run_id: int, *, lost_after: timedelta, engine: Engine | None = None, now: datetime | None = None
) -> Claim:
    """Claim a queued run for execution (or take over one whose worker stopped heartbeating)."""
    engine, now = engine or get_engine(), now or utcnow()
    values = dict(
        status=RunStatus.running.value,
        heartbeat_at=now,
        updated_at=now,
        started_at=sa.func.coalesce(_T.c.started_at, now),
        attempts=_T.c.attempts + 1,
    )
    if _update(
        engine, sa.update(_T).where(_T.c.id == run_id, _T.c.status == "queued").values(**values)
    ):
        return Claim.claimed
    stale = sa.func.coalesce(_T.c.heartbeat_at, _T.c.started_at) < now - lost_after
    if _update(
        engine,
        sa.update(_T).where(_T.c.id == run_id, _T.c.status == "running", stale).values(**values),
    ):
        return Claim.taken_over
    with engine.connect() as conn:
        status = conn.execute(sa.select(_T.c.status).where(_T.c.id == run_id)).scalar()
    if status is None:
        return Claim.missing
    return Claim.already_completed if status == "completed" else Claim.running_elsewhere


def heartbeat(run_id: int, *, engine: Engine | None = None, now: datetime | None = None) -> bool:
    """Tell the reaper this run's worker is alive. False when the run is no longer running."""
    engine, now = engine or get_engine(), now or utcnow()
    stmt = sa.update(_T).where(_T.c.id == run_id, _T.c.status == "running")
    return bool(_update(engine, stmt.values(heartbeat_at=now)))


def update_progress(
    run_id: int,
    counts: Mapping[str, int],
    *,
    engine: Engine | None = None,
    now: datetime | None = None,
) -> bool:
    """Store the running counts (validated by the caller) and count as a heartbeat."""
    engine, now = engine or get_engine(), now or utcnow()
    stmt = sa.update(_T).where(_T.c.id == run_id, _T.c.status == "running")
    return bool(
        _update(engine, stmt.values(summary_counts=dict(counts), heartbeat_at=now, updated_at=now))
    )


def record_produced(
    run_id: int, produced: Mapping[str, Any], *, engine: Engine | None = None
) -> bool:
    """Remember what a running run made (e.g. {"backup_set_id": 7}) in its context under
    "produced", so the run page can link it. Only while the run is running; False otherwise."""
    engine = engine or get_engine()
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(_T.c.context).where(_T.c.id == run_id, _T.c.status == "running")
        ).first()
        if row is None:
            return False
        context = dict(row.context or {})
        context["produced"] = {**(context.get("produced") or {}), **dict(produced)}
        stmt = sa.update(_T).where(_T.c.id == run_id, _T.c.status == "running")
        return bool(conn.execute(stmt.values(context=context).returning(_T.c.id)).first())


def complete_run(
    run_id: int,
    *,
    outcome: RunOutcome,
    summary_counts: Mapping[str, int] | None = None,
    failures: list[dict[str, Any]] | None = None,
    engine: Engine | None = None,
    now: datetime | None = None,
    from_statuses: frozenset[RunStatus] | None = None,
    strict: bool = False,
) -> bool:
    """Complete an active run with its outcome. Returns False (or raises IllegalTransition when
    strict) if the run was not in an allowed source status — e.g. it is already completed."""
    if RunOutcome(outcome) == RunOutcome.pending:
        raise IllegalTransition("a completed run needs a terminal outcome")
    engine, now = engine or get_engine(), now or utcnow()
    sources = from_statuses or sources_of(RunStatus.completed)
    values: dict[str, Any] = dict(
        status=RunStatus.completed.value,
        outcome=RunOutcome(outcome).value,
        completed_at=now,
        updated_at=now,
    )
    if summary_counts is not None:
        values["summary_counts"] = dict(summary_counts)
    if failures is not None:
        values["failures"] = merge_failures(failures)
    stmt = sa.update(_T).where(_T.c.id == run_id, _T.c.status.in_([s.value for s in sources]))
    done = bool(_update(engine, stmt.values(**values)))
    if not done and strict:
        raise IllegalTransition(f"run {run_id} is not in {sorted(s.value for s in sources)}")
    return done


def fail_run(run_id: int, failure: dict[str, Any], **kwargs: Any) -> bool:
    """Complete a run as failed with one (sanitized) failure record."""
    return complete_run(run_id, outcome=RunOutcome.failed, failures=[failure], **kwargs)
