"""The run service: ensure a run (idempotent, database-enforced) and start an operation
(authorize → ensure → commit → dispatch → notify).

Two entry points share one pipeline:
- `start_operation` — what every USER surface (UI, CLI) calls: always authorizes the user and
  refuses system-only types. It has no way to skip authorization.
- `start_system_operation` — the scheduler and the adapters: no user, initiator "System", no
  notifications. User surfaces never import it (a test scans them)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from opsapp.db import get_engine, session_scope
from opsapp.models import Notification, OperationRun, Tenant, User
from opsapp.models.operations import ACTIVE_PREDICATE
from opsapp.models.types import utcnow
from opsapp.operations import lifecycle, outbox, start_statement
from opsapp.operations.access import Forbidden, NotFound, authorize
from opsapp.operations.catalog import OperationType, get_type, run_precheck
from opsapp.operations.failures import DISPATCH_FAILED, failure_from_exception, make_failure
from opsapp.operations.identity import identity_hash
from opsapp.operations.links import view_run_path
from opsapp.operations.notifications import Notifier, build_queued, queued_title
from opsapp.operations.reaper import reap_lost_runs
from opsapp.operations.status import TERMINAL_STATUSES, RunOutcome, RunStatus
from opsapp.settings import get_settings

log = logging.getLogger("opsapp.operations")
_T = OperationRun.__table__
SYSTEM_INITIATOR = "System"


class Dispatcher(Protocol):
    def supports(self, run_type: str) -> bool:
        """Whether a task exists for this run type (checked before anything is created)."""

    async def dispatch(self, run: OperationRun) -> None:
        """Hand the run to the worker (the run id is all a task needs). Raise on failure."""


class OperationUnavailable(LookupError):
    """No task executes this run type in this deployment; nothing was created."""


class DispatchFailed(Exception):
    """The broker refused the task; the run was completed as failed / queue.dispatch_failed."""

    def __init__(self, run: OperationRun, view_path: str) -> None:
        self.run, self.view_path = run, view_path
        super().__init__(
            "The operation could not be queued: the task queue is unavailable. "
            "The run was marked failed; try again in a moment."
        )


@dataclass(frozen=True)
class EnsureResult:
    run: OperationRun
    created: bool
    reaped_ids: tuple[int, ...] = ()  # lost runs of the same identity completed on the way


@dataclass(frozen=True)
class StartResult:
    run: OperationRun
    created: bool  # False: an active run with the same identity was reused
    view_path: str


def _insert_for(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def ensure_run(
    session: Session,
    *,
    tenant_id: int,
    run_type: str,
    inputs: dict[str, Any],
    user_id: int | None,
    initiator_name: str,
    context: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> EnsureResult:
    """Create a queued run, or return the active run with the same identity (created=False).

    `inputs` must be normalised. The partial unique index decides under concurrency; on reuse
    the initiator is not replaced. An active run that was lost (dead worker) is reaped first.
    The new row is its own outbox entry: `next_send_at` says when a worker's relay sends its
    message again if no worker claimed it by then (a held run: once it is dispatched).
    """
    now = now or utcnow()
    run_hash = identity_hash(tenant_id=tenant_id, run_type=run_type, normalised_inputs=inputs)
    next_send_at = None if get_type(run_type).held else outbox.first_resend_at(now)
    reaped: list[int] = []
    for _attempt in range(10):
        stmt = (
            _insert_for(session)(_T)
            .values(
                tenant_id=tenant_id,
                user_id=user_id,
                initiator_name=initiator_name,
                type=run_type,
                status=RunStatus.queued,
                outcome=RunOutcome.pending,
                run_identity_hash=run_hash,
                summary_counts={},
                failures=[],
                context={**(context or {}), "inputs": inputs},
                created_at=now,
                updated_at=now,
                attempts=0,
                next_send_at=next_send_at,
            )
            .on_conflict_do_nothing(
                index_elements=["tenant_id", "run_identity_hash"], index_where=ACTIVE_PREDICATE
            )
            .returning(*_T.c)
        )
        created = session.execute(stmt).first()
        if created is not None:
            return EnsureResult(OperationRun(**created._mapping), True, tuple(reaped))
        active = session.execute(
            sa.select(_T).where(
                _T.c.tenant_id == tenant_id,
                _T.c.run_identity_hash == run_hash,
                ACTIVE_PREDICATE,
            )
        ).first()
        if active is None:
            continue  # it completed between our insert and select: try again
        lost = reap_lost_runs(session.connection(), now=now, ids=[active.id])
        if not lost:
            return EnsureResult(OperationRun(**active._mapping), False, tuple(reaped))
        reaped += lost
    raise RuntimeError("could not settle the active run for this identity")  # pragma: no cover


@dataclass(frozen=True)
class _Initiator:
    user_id: int | None
    name: str
    tenant_slug: str
    tenant_name: str


def _resolve_user_initiator(
    engine: Engine, op: OperationType, *, tenant_id: int, user_id: int | None, inputs: dict
) -> _Initiator:
    """Authorize the user (NotFound / Forbidden), refuse system-only types, then the type's
    precheck (NotFound / InvalidInputs when the inputs name something unusable)."""
    with session_scope(engine) as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound()
        authorize(session, user_id=user_id, tenant_id=tenant_id, capability=op.capability)
        if not op.user_startable:
            raise Forbidden(f"{op.label} runs are started by the system, not by hand")
        run_precheck(op, session, tenant_id, inputs)
        user = session.get(User, user_id)
        return _Initiator(user_id, user.display_name or user.email, tenant.slug, tenant.name)


def _resolve_system_initiator(
    engine: Engine, op: OperationType, *, tenant_id: int, inputs: dict
) -> _Initiator:
    """The system initiator ("System", no user), after the type's precheck."""
    with session_scope(engine) as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound()
        run_precheck(op, session, tenant_id, inputs)
        return _Initiator(None, SYSTEM_INITIATOR, tenant.slug, tenant.name)


def _ensure_in_own_transaction(
    engine: Engine, *, notify: _Initiator | None, **kwargs: Any
) -> EnsureResult:
    """ensure_run in its own transaction whose first statement is the INSERT (SQLite must not
    upgrade a reader); with `notify`, a new run's "queued" notification is written in it too."""
    with session_scope(engine) as session:
        ensured = ensure_run(session, **kwargs)
        if ensured.created and notify is not None and notify.user_id is not None:
            tenant = SimpleNamespace(name=notify.tenant_name, slug=notify.tenant_slug)
            session.add(build_queued(ensured.run, tenant))  # type: ignore[arg-type]
        return ensured


async def start_operation(
    *,
    run_type: str,
    tenant_id: int,
    user_id: int | None,
    inputs: dict[str, Any] | None,
    dispatcher: Dispatcher,
    notifier: Notifier | None = None,
    engine: Engine | None = None,
    context: dict[str, Any] | None = None,
) -> StartResult:
    """A user starts an operation: authorize, ensure the run, commit, dispatch, notify. Raises
    NotFound / Forbidden / InvalidInputs / UnknownOperationType / OperationUnavailable before
    anything is created, DispatchFailed after. Database work never stalls the caller's event
    loop (the Reflex backend's): the one-statement start awaits an async connection, the rest
    runs in threads (a locked SQLite file, a slow database)."""
    engine = engine or get_engine()
    op = get_type(run_type)
    normalised = op.identity.normalise(inputs)
    if notifier is None and start_statement.usable(engine, op, user_id):
        _require_task(dispatcher, op)
        quick = await start_statement.quick_start(
            engine,
            op,
            tenant_id=tenant_id,
            user_id=user_id,
            inputs=normalised,
            context=context,
            now=utcnow(),
        )
        if quick is not None:  # else: the general path below decides (and raises) as always
            view_path = view_run_path(quick.tenant_slug, quick.run.id)
            if not quick.created:
                return StartResult(quick.run, False, view_path)
            return await _dispatch_new(engine, quick.run, view_path, dispatcher, notifier=None)
    initiator = await asyncio.to_thread(
        _resolve_user_initiator,
        engine,
        op,
        tenant_id=tenant_id,
        user_id=user_id,
        inputs=normalised,
    )
    return await _start(
        engine, op, tenant_id, normalised, initiator, dispatcher, notifier, context=context
    )


async def start_system_operation(
    *,
    run_type: str,
    tenant_id: int,
    inputs: dict[str, Any] | None,
    dispatcher: Dispatcher,
    notifier: Notifier | None = None,
    engine: Engine | None = None,
    context: dict[str, Any] | None = None,
) -> StartResult:
    """The system (scheduler, adapters) starts an operation: no user, no authorization, the
    initiator is "System" and nobody is notified. Same guarantees and errors as
    start_operation otherwise. Never call this from a user surface."""
    engine = engine or get_engine()
    op = get_type(run_type)
    normalised = op.identity.normalise(inputs)
    initiator = await asyncio.to_thread(
        _resolve_system_initiator, engine, op, tenant_id=tenant_id, inputs=normalised
    )
    return await _start(
        engine, op, tenant_id, normalised, initiator, dispatcher, notifier, context=context
    )


def _require_task(dispatcher: Dispatcher, op: OperationType) -> None:
    """Refuse a type no task executes here, before anything is created."""
    if not dispatcher.supports(op.key):
        raise OperationUnavailable(f"{op.label} ({op.key}) is not available in this deployment")


async def _start(
    engine: Engine,
    op: OperationType,
    tenant_id: int,
    normalised: dict[str, Any],
    initiator: _Initiator,
    dispatcher: Dispatcher,
    notifier: Notifier | None,
    *,
    context: dict[str, Any] | None,
) -> StartResult:
    """ensure (with the "queued" notification, unless a custom notifier sends it after the
    dispatch) → commit → dispatch, for an already resolved initiator."""
    _require_task(dispatcher, op)
    ensured = await asyncio.to_thread(
        _ensure_in_own_transaction,
        engine,
        notify=initiator if notifier is None else None,
        tenant_id=tenant_id,
        run_type=op.key,
        inputs=normalised,
        user_id=initiator.user_id,
        initiator_name=initiator.name,
        context=context,
    )
    run, view_path = ensured.run, view_run_path(initiator.tenant_slug, ensured.run.id)
    if not ensured.created:
        return StartResult(run, False, view_path)
    return await _dispatch_new(engine, run, view_path, dispatcher, notifier=notifier)


async def _dispatch_new(
    engine: Engine,
    run: OperationRun,
    view_path: str,
    dispatcher: Dispatcher,
    *,
    notifier: Notifier | None,
) -> StartResult:
    """dispatch (→ notify, with a custom notifier) for a run just created. `notifier` None:
    the "queued" notification was written with the run, so a failed dispatch takes it back."""
    try:
        # asyncio.timeout, not wait_for: on 3.11 wait_for runs the call as a task of its own.
        async with asyncio.timeout(get_settings().dispatch_timeout_seconds):
            await dispatcher.dispatch(run)
    except Exception as exc:  # the broker is down, stalled or refused: never leave a queued orphan
        failed_here, current = await asyncio.to_thread(
            _fail_dispatch, engine, run, exc, notified=notifier is None
        )
        if failed_here or current is None:
            raise DispatchFailed(current or run, view_path) from exc
        # The broker did take the message (e.g. the dispatch timed out after Redis accepted
        # it) and a worker already claimed the run: it is not failed, and the caller must not
        # be told it is.
        log.warning(
            "dispatch of run %s reported %s, but the run is already %s; left alone",
            run.id,
            type(exc).__name__,
            RunStatus(current.status).value,
        )
        run = current
        if RunStatus(run.status) in TERMINAL_STATUSES:
            return StartResult(run, True, view_path)  # its terminal notification is out already
    if notifier is None:
        return StartResult(run, True, view_path)
    try:
        await asyncio.to_thread(notifier.run_queued, run)
    except Exception:  # the run is queued and dispatched; a lost notification must not undo that
        log.exception("could not notify about queued run %s", run.id)
    return StartResult(run, True, view_path)


def _fail_dispatch(
    engine: Engine, run: OperationRun, exc: Exception, *, notified: bool = False
) -> tuple[bool, OperationRun | None]:
    """Fail the run as queue.dispatch_failed — only while it is still queued (its terminal
    notification is written with it; a "queued" one written with the run (`notified`) is taken
    back: nothing was queued). Returns (whether this call failed it, the run as stored now). A
    run a worker already claimed (the broker accepted the message after all) or completed is
    left exactly as it is."""
    logged = failure_from_exception(exc, default_code=DISPATCH_FAILED)  # logs, sanitized
    failure = make_failure(
        DISPATCH_FAILED,
        f"The task queue did not accept the operation ({type(exc).__name__}); nothing was started.",
        error_id=logged.get("error_id"),
    )
    failed_here = lifecycle.fail_run(
        run.id, failure, engine=engine, from_statuses=frozenset({RunStatus.queued})
    )
    if failed_here and notified:
        with engine.begin() as conn:
            conn.execute(
                sa.delete(Notification.__table__).where(
                    Notification.__table__.c.operation_run_id == run.id,
                    Notification.__table__.c.title == queued_title(run.type),
                )
            )
    with session_scope(engine) as session:
        return failed_here, session.get(OperationRun, run.id)
