"""The restore adapter (SPEC §2): a restore gets its `restore.execute` OperationRun the moment it
is previewed — queued and held (visible in Monitoring, left alone by the reaper) — and the two
move together from then on: Execute dispatches the held run once, the task body marks the
restore running and completed with the run's outcome.

A second Execute while it runs reuses the run; a completed restore is never executed again."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from opsapp.db import get_engine, session_scope
from opsapp.features.restore.drafts import get_restore
from opsapp.features.restore.errors import RestoreStateError
from opsapp.models import OperationRun, RestoreRun, RestoreStatus, Tenant
from opsapp.models.types import utcnow
from opsapp.operations import lifecycle, outbox
from opsapp.operations.catalog import get_type
from opsapp.operations.failures import DISPATCH_FAILED, failure_from_exception, make_failure
from opsapp.operations.links import view_run_path
from opsapp.operations.service import Dispatcher, DispatchFailed, ensure_run
from opsapp.operations.status import RunOutcome, RunStatus

RUN_TYPE = "restore.execute"
_R = OperationRun.__table__
_RR = RestoreRun.__table__


@dataclass(frozen=True)
class Executed:
    run: OperationRun
    dispatched: bool  # False: this restore was already executing (the run is reused)
    view_path: str


def attach_run(session: Session, restore: RestoreRun, *, user_id: int | None, name: str) -> int:
    """Give a just-previewed restore its held run (or keep the one it has); returns its id."""
    inputs = get_type(RUN_TYPE).identity.normalise({"restore_run_id": restore.id})
    ensured = ensure_run(
        session,
        tenant_id=restore.tenant_id,
        run_type=RUN_TYPE,
        inputs=inputs,
        user_id=user_id,
        initiator_name=name,
    )
    restore.operation_run_id = ensured.run.id
    session.add(restore)
    return ensured.run.id


def _claim_dispatch(engine: Engine, tenant_id: int, restore_id: int) -> tuple[OperationRun, bool]:
    """(the restore's run, whether this caller is the one to dispatch it). One UPDATE decides:
    dispatched_at goes from NULL to now only once, while the run is still queued."""
    with session_scope(engine) as session:
        restore = get_restore(session, tenant_id=tenant_id, restore_id=restore_id)
        if restore.status == RestoreStatus.draft.value:
            raise RestoreStateError("Preview the restore before executing it.")
        if restore.status == RestoreStatus.completed.value:
            raise RestoreStateError(
                "This restore has completed; start a new restore to run it again."
            )
        run = session.get(OperationRun, restore.operation_run_id or 0)
        if run is None or run.status == RunStatus.completed.value:
            raise RestoreStateError(
                "This restore's run has ended; start a new restore to run it again."
            )
        now = utcnow()
        claimed = session.execute(
            sa.update(_R)
            .where(
                _R.c.id == run.id,
                _R.c.dispatched_at.is_(None),
                lifecycle.status_in({RunStatus.queued}),
            )
            .values(dispatched_at=now, next_send_at=outbox.first_resend_at(now))
            .returning(_R.c.id)
        ).first()
        if claimed is not None:
            restore.status, restore.updated_at = RestoreStatus.running.value, utcnow()
            session.add(restore)
        session.flush()
        session.refresh(run)
        return run, claimed is not None


async def execute(
    *,
    tenant_id: int,
    restore_id: int,
    dispatcher: Dispatcher,
    engine: Engine | None = None,
) -> Executed:
    """Dispatch the restore's held run (the caller authorized execute_restore). Raises NotFound,
    RestoreStateError, or DispatchFailed (the run and the restore are then failed)."""
    engine = engine or get_engine()
    run, mine = await asyncio.to_thread(_claim_dispatch, engine, tenant_id, restore_id)
    slug = await asyncio.to_thread(_slug, engine, tenant_id)
    view_path = view_run_path(slug, run.id)
    if not mine:
        return Executed(run, False, view_path)
    try:
        await dispatcher.dispatch(run)
    except Exception as exc:
        logged = failure_from_exception(exc, default_code=DISPATCH_FAILED)
        failure = make_failure(
            DISPATCH_FAILED,
            f"The task queue did not accept the restore ({type(exc).__name__}); nothing was "
            "written to the tenant.",
            error_id=logged.get("error_id"),
        )
        await asyncio.to_thread(
            lifecycle.fail_run,
            run.id,
            failure,
            engine=engine,
            from_statuses=frozenset({RunStatus.queued}),
        )
        await asyncio.to_thread(finish, engine, restore_id, RunOutcome.failed)
        raise DispatchFailed(run, view_path) from exc
    return Executed(run, True, view_path)


def _slug(engine: Engine, tenant_id: int) -> str:
    with session_scope(engine) as session:
        return session.get(Tenant, tenant_id).slug


def start(engine: Engine, restore_id: int) -> bool:
    """The body began: the restore is running (it may already be). False if it is gone."""
    with engine.begin() as conn:
        done = conn.execute(
            sa.update(_RR)
            .where(_RR.c.id == restore_id, _RR.c.status != RestoreStatus.completed.value)
            .values(status=RestoreStatus.running.value, updated_at=utcnow())
        )
        return bool(done.rowcount)


def finish(engine: Engine, restore_id: int, outcome: RunOutcome) -> None:
    """The restore ended with its run's outcome."""
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            sa.update(_RR)
            .where(_RR.c.id == restore_id, _RR.c.status != RestoreStatus.completed.value)
            .values(
                status=RestoreStatus.completed.value,
                outcome=RunOutcome(outcome).value,
                completed_at=now,
                updated_at=now,
            )
        )


def effective_status(restore: RestoreRun, run: OperationRun | None) -> tuple[str, str]:
    """(status, outcome) as a person should see them: the run decides once it is past the
    restore's own record (a run reaped as lost completes the restore too)."""
    if run is not None and run.status == RunStatus.completed.value:
        return RestoreStatus.completed.value, str(run.outcome)
    if run is not None and run.status == RunStatus.running.value:
        return RestoreStatus.running.value, RunOutcome.pending.value
    return restore.status, restore.outcome
