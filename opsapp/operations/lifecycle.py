"""Run lifecycle writes. Each is ONE guarded UPDATE (… WHERE status IN <allowed sources>), so
concurrent workers, redelivered messages and the reaper cannot move a run illegally, and a
completed run never changes again. Tracking a run costs: insert, mark running, complete.

Fencing: a claim increments `attempts` and returns the new value, the attempt token. A worker
passes its token to heartbeat / update_progress / record_produced / complete_run / hand_back,
which then match only while `attempts` still equals it. A worker that froze (GC pause, SIGSTOP,
a paused VM) while another worker took its run over therefore writes nothing when it resumes:
its heartbeat says False and it abandons the body."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from opsapp.db import get_engine, single_statement
from opsapp.db_direct import DirectStatement
from opsapp.models import Notification, OperationRun, Tenant
from opsapp.models.types import utcnow
from opsapp.operations.catalog import OPERATION_TYPES
from opsapp.operations.failures import merge_failures
from opsapp.operations.notifications import (
    NOTE_COLUMNS,
    PLACEHOLDER_TENANT,
    TENANT_NAME,
    TENANT_SLUG,
    add_completed,
    completed_texts,
    filled,
)
from opsapp.operations.status import (
    TERMINAL_STATUSES,
    IllegalTransition,
    RunOutcome,
    RunStatus,
    guard_outcome,
    guarded_sources,
)

_T = OperationRun.__table__


class Claim(StrEnum):
    claimed = "claimed"  # this worker now runs it
    taken_over = "taken_over"  # it was running with a stale heartbeat; this worker took it over
    already_completed = "already_completed"  # redelivery of finished work: do nothing
    running_elsewhere = "running_elsewhere"  # another live worker has it: do nothing
    missing = "missing"  # no such run (deleted, or a bogus message)
    wrong_type = "wrong_type"  # the message was sent for another type (a bogus message)

    @property
    def should_execute(self) -> bool:
        return self in (Claim.claimed, Claim.taken_over)


# -- the one guard ---------------------------------------------------------------------------
def status_in(statuses: frozenset[RunStatus] | set[RunStatus]):
    """SQL predicate: the run's status is one of `statuses` (`=` for one, `IN` for several)."""
    ordered = [s for s in RunStatus if s in statuses]
    if not ordered:
        raise IllegalTransition("an empty set of statuses matches no run")
    # The tokens are inlined: a bound list is an "expanding" parameter, which SQLAlchemy
    # re-renders on every execution (5 % of a worker's CPU when it was on the claim and the
    # completion). They are our own enum values, never user input.
    tokens = [sa.literal_column(f"'{s.value}'") for s in ordered]
    return _T.c.status == tokens[0] if len(tokens) == 1 else _T.c.status.in_(tokens)


def transition(
    target: RunStatus,
    *where: Any,
    values: Mapping[str, Any],
    only_from: frozenset[RunStatus] | None = None,
) -> sa.Update:
    """THE guarded status change: UPDATE … SET status = target WHERE status IN <sources> AND
    <where>. The sources come from ALLOWED_TRANSITIONS (narrowed by `only_from`, each of which
    must itself be a legal source), so no caller — lifecycle, reaper, dispatch failure — can
    move a run along an edge the table does not have, and a run that moved on meanwhile is
    simply not matched."""
    sources = guarded_sources(target, only_from)
    return sa.update(_T).where(status_in(sources), *where).values(**dict(values), status=target)


def while_in(status: RunStatus, *where: Any) -> sa.Update:
    """An UPDATE that leaves the status alone but only applies while the run is in `status`
    (heartbeats, progress, a take-over of a running run)."""
    return sa.update(_T).where(status_in({RunStatus(status)}), *where)


def _update(engine: Engine, stmt) -> list[Any]:
    """One guarded UPDATE as its own transaction (autocommit on PostgreSQL: one round trip)."""
    with single_statement(engine) as conn:
        return list(conn.execute(stmt.returning(_T.c.id)).scalars())


def fenced(attempt: int | None):
    """SQL predicate: the run is still on attempt `attempt` (no predicate for None: callers
    outside a worker, e.g. an adapter failing a run it never claimed)."""
    return sa.true() if attempt is None else _T.c.attempts == attempt


_NOTE_TEXTS = ("level", "title", "body", "link")  # what completed_texts returns

# What a worker needs of the run it claims: the claim's UPDATE returns it (no read before).
CLAIM_COLUMNS = (_T.c.id, _T.c.tenant_id, _T.c.user_id, _T.c.type, _T.c.context, _T.c.attempts)


def _claim_values() -> dict[str, Any]:
    """What a claim writes: a new attempt, its first heartbeat, and nothing left to send."""
    now = sa.bindparam("now", type_=_T.c.heartbeat_at.type)
    return dict(
        heartbeat_at=now,
        updated_at=now,
        started_at=sa.func.coalesce(_T.c.started_at, now),
        attempts=_T.c.attempts + 1,
        next_send_at=None,  # claimed: the outbox has nothing left to deliver
    )


def _commit_lazily():
    """A predicate that is always true and makes the statement's own transaction commit with
    synchronous_commit off (PostgreSQL; SET LOCAL inside a single autocommit statement).

    Used for claims of resumable types: a claim is then durable at the run's next durable write
    (its first heartbeat, progress or completion flushes the WAL up to it) instead of costing a
    WAL flush of its own, which was a third of start → body entered on this machine. Should
    PostgreSQL crash in between, the claim is simply undone: the run is queued again, the
    worker's next fenced write is refused (it abandons the body) and the outbox sends the run
    again — the take-over path resumable types are built for. Non-resumable types
    (restore.execute: a second pass could create a policy twice) keep durable claims."""
    config = sa.func.set_config("synchronous_commit", "off", sa.true())
    return sa.select(config).scalar_subquery().is_not(None)


def _lazy_claim(engine: Engine, run_types: Iterable[str | None]) -> bool:
    """Whether claims of these types may commit lazily (_commit_lazily)."""
    if engine.dialect.name != "postgresql":
        return False
    return all(t in OPERATION_TYPES and OPERATION_TYPES[t].resumable for t in run_types)


@lru_cache(maxsize=4)
def _claim_statements(*, by_type: bool, lazy: bool = False) -> tuple[Any, Any]:
    """The claim and the take-over, built once (a worker claims every run: building the
    statement objects each time cost more CPU than executing them)."""
    values = _claim_values()
    this_run = (
        _T.c.id == sa.bindparam("run_id"),
        *((_T.c.type == sa.bindparam("run_type"),) if by_type else ()),
        *((_commit_lazily(),) if lazy else ()),
    )
    stale = sa.func.coalesce(_T.c.heartbeat_at, _T.c.started_at) < sa.bindparam(
        "stale_before", type_=_T.c.heartbeat_at.type
    )
    claim = transition(RunStatus.running, *this_run, values=values)
    take_over = while_in(RunStatus.running, *this_run, stale).values(**values)
    return (
        DirectStatement(claim.returning(*CLAIM_COLUMNS)),
        DirectStatement(take_over.returning(*CLAIM_COLUMNS)),
    )


def claim_run(
    run_id: int, *, lost_after: timedelta, engine: Engine | None = None, now: datetime | None = None
) -> tuple[Claim, int | None]:
    """Claim a queued run for execution (or take over one whose worker stopped heartbeating).
    Returns the claim and, when it says execute, the attempt token of this execution."""
    claim, row = claim_with_run(run_id, lost_after=lost_after, engine=engine, now=now)
    return claim, (row.attempts if row is not None else None)


def claim_with_run(
    run_id: int,
    *,
    lost_after: timedelta,
    run_type: str | None = None,
    engine: Engine | None = None,
    now: datetime | None = None,
) -> tuple[Claim, Any]:
    """claim_run for a worker: also returns the claimed run's CLAIM_COLUMNS (None when not to
    execute). `run_type`: the type the message was sent for; a run of another type is not
    claimed (Claim.wrong_type).

    Each statement is its own transaction (one round trip on PostgreSQL): the happy path is the
    claiming UPDATE alone; a take-over and the status read only follow when it matched nothing."""
    engine, now = engine or get_engine(), now or utcnow()
    claim, take_over = _claim_statements(
        by_type=bool(run_type), lazy=_lazy_claim(engine, [run_type])
    )
    params = {"run_id": run_id, "run_type": run_type, "now": now, "stale_before": now - lost_after}
    rows = claim.rows(engine, params)
    if rows:
        return Claim.claimed, rows[0]
    rows = take_over.rows(engine, params)
    if rows:
        return Claim.taken_over, rows[0]
    with single_statement(engine) as conn:
        found = conn.execute(sa.select(_T.c.status, _T.c.type).where(_T.c.id == run_id)).first()
    if found is None:
        return Claim.missing, None
    if run_type and found.type != run_type:
        return Claim.wrong_type, None
    if found.status in TERMINAL_STATUSES:
        return Claim.already_completed, None
    return Claim.running_elsewhere, None


@lru_cache(maxsize=2)
def _batch_claim_statement(*, lazy: bool) -> DirectStatement:
    """The claim of many queued runs at once: UPDATE … FROM unnest(ids, types) RETURNING."""
    wanted = (
        sa.func.unnest(
            sa.bindparam("run_ids", type_=postgresql.ARRAY(sa.BigInteger)),
            sa.bindparam("run_types", type_=postgresql.ARRAY(sa.String)),
        )
        .table_valued(sa.column("id", sa.BigInteger), sa.column("type", sa.String))
        .render_derived(name="wanted")
    )
    this_run = (
        _T.c.id == wanted.c.id,
        _T.c.type == wanted.c.type,
        *((_commit_lazily(),) if lazy else ()),
    )
    claim = transition(RunStatus.running, *this_run, values=_claim_values())
    return DirectStatement(claim.returning(*CLAIM_COLUMNS))


def claim_many(
    requests: list[tuple[int, str]],
    *,
    lost_after: timedelta,
    engine: Engine | None = None,
    now: datetime | None = None,
) -> list[tuple[Claim, Any]]:
    """claim_with_run for many (run id, type) requests, one result per request in order.

    On PostgreSQL every queued run among them is claimed by ONE statement (a worker reading a
    batch of messages claims them together: one round trip and one commit instead of one per
    run). A request the batch did not claim — a run to take over, a completed or missing run, a
    second message for the same run — then takes claim_with_run's own path, which also says
    why."""
    engine, now = engine or get_engine(), now or utcnow()

    def leftover(run_id: int, run_type: str) -> tuple[Claim, Any]:
        return claim_with_run(
            run_id, lost_after=lost_after, run_type=run_type, engine=engine, now=now
        )

    if len(requests) < 2 or engine.dialect.name != "postgresql":
        return [leftover(run_id, run_type) for run_id, run_type in requests]
    statement, params = _claiming(engine, requests, now)
    found = _claimed_in_order(requests, statement.rows(engine, params))
    return [got or leftover(*request) for got, request in zip(found, requests, strict=True)]


async def claim_many_async(
    requests: list[tuple[int, str]],
    *,
    lost_after: timedelta,
    engine: Engine | None = None,
    now: datetime | None = None,
) -> list[tuple[Claim, Any]]:
    """claim_many, awaited on the worker's event loop: on PostgreSQL the claiming statement (one
    run's, or the batch's) goes over a kept async connection (DirectStatement.rows_async: no
    thread hop between a message arriving and its claim); a request it did not claim takes
    claim_with_run in a thread, exactly as claim_many's leftovers do. SQLite: claim_many in a
    thread."""
    engine, now = engine or get_engine(), now or utcnow()
    if engine.dialect.name != "postgresql":
        return await asyncio.to_thread(
            claim_many, requests, lost_after=lost_after, engine=engine, now=now
        )
    statement, params = _claiming(engine, requests, now)
    found = _claimed_in_order(requests, await statement.rows_async(engine, params))
    results: list[tuple[Claim, Any]] = []
    for got, (run_id, run_type) in zip(found, requests, strict=True):
        if got is None:
            got = await asyncio.to_thread(
                claim_with_run,
                run_id,
                lost_after=lost_after,
                run_type=run_type,
                engine=engine,
                now=now,
            )
        results.append(got)
    return results


def _claiming(
    engine: Engine, requests: list[tuple[int, str]], now: datetime
) -> tuple[DirectStatement, dict[str, Any]]:
    """The one statement (and its parameters) claiming every queued run among `requests` on
    PostgreSQL: one run's own claim, or the batch claim."""
    lazy = _lazy_claim(engine, [run_type for _, run_type in requests])
    if len(requests) == 1:
        run_id, run_type = requests[0]
        statement = _claim_statements(by_type=bool(run_type), lazy=lazy)[0]
        return statement, {"run_id": run_id, "run_type": run_type, "now": now}
    params = {
        "run_ids": [run_id for run_id, _ in requests],
        "run_types": [run_type for _, run_type in requests],
        "now": now,
    }
    return _batch_claim_statement(lazy=lazy), params


def _claimed_in_order(
    requests: list[tuple[int, str]], rows: list[Any]
) -> list[tuple[Claim, Any] | None]:
    """Per request, (Claim.claimed, its row) when the claiming statement returned its run,
    else None. A second request for the same run gets None: its run is claimed once."""
    claimed = {row.id: row for row in rows}
    return [
        (Claim.claimed, row) if (row := claimed.pop(run_id, None)) is not None else None
        for run_id, _ in requests
    ]


def mark_running(
    run_id: int, *, lost_after: timedelta, engine: Engine | None = None, now: datetime | None = None
) -> Claim:
    """claim_run without the token (callers that do not fence)."""
    return claim_run(run_id, lost_after=lost_after, engine=engine, now=now)[0]


def heartbeat(
    run_id: int,
    *,
    attempt: int | None = None,
    engine: Engine | None = None,
    now: datetime | None = None,
) -> bool:
    """Tell the reaper this run's worker is alive. False when the run is no longer running —
    or no longer this worker's attempt (it was taken over): the worker must then stop."""
    engine, now = engine or get_engine(), now or utcnow()
    stmt = while_in(RunStatus.running, _T.c.id == run_id, fenced(attempt))
    return bool(_update(engine, stmt.values(heartbeat_at=now)))


def update_progress(
    run_id: int,
    counts: Mapping[str, int],
    *,
    attempt: int | None = None,
    engine: Engine | None = None,
    now: datetime | None = None,
) -> bool:
    """Store the running counts (validated by the caller) and count as a heartbeat. False when
    the run is no longer running on this attempt."""
    engine, now = engine or get_engine(), now or utcnow()
    stmt = while_in(RunStatus.running, _T.c.id == run_id, fenced(attempt))
    return bool(
        _update(engine, stmt.values(summary_counts=dict(counts), heartbeat_at=now, updated_at=now))
    )


def record_produced(
    run_id: int,
    produced: Mapping[str, Any],
    *,
    attempt: int | None = None,
    engine: Engine | None = None,
) -> bool:
    """Remember what a running run made (e.g. {"backup_set_id": 7}) in its context under
    "produced", so the run page can link it. Only while the run is running (on `attempt`);
    False otherwise."""
    engine = engine or get_engine()
    live = (status_in({RunStatus.running}), fenced(attempt))
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(_T.c.context).where(_T.c.id == run_id, *live).with_for_update()
        ).first()
        if row is None:
            return False
        stmt = while_in(RunStatus.running, _T.c.id == run_id, fenced(attempt))
        context = with_produced(row.context, produced)
        return bool(conn.execute(stmt.values(context=context).returning(_T.c.id)).first())


def with_produced(context: Mapping[str, Any] | None, produced: Mapping[str, Any]) -> dict:
    """`context` with `produced` merged into its "produced" ids (later values win)."""
    merged = dict(context or {})
    merged["produced"] = {**(merged.get("produced") or {}), **dict(produced)}
    return merged


def hand_back(
    run_id: int, *, attempt: int, engine: Engine | None = None, now: datetime | None = None
) -> bool:
    """A stopping worker gives its run back: running → queued, due for sending at once (the
    outbox relay, or the stopping worker itself, sends it again), only on the worker's own
    attempt. False when the run completed or was taken over meanwhile."""
    engine, now = engine or get_engine(), now or utcnow()
    values = dict(heartbeat_at=None, updated_at=now, next_send_at=now)
    stmt = transition(
        RunStatus.queued,
        _T.c.id == run_id,
        fenced(attempt),
        values=values,
        only_from=frozenset({RunStatus.running}),
    )
    return bool(_update(engine, stmt))


def complete_where(
    conn: Connection,
    *where: Any,
    outcome: RunOutcome,
    summary_counts: Mapping[str, int] | None = None,
    failures: list[dict[str, Any]] | None = None,
    now: datetime | None = None,
    only_from: frozenset[RunStatus] | None = None,
    produced: Mapping[str, Any] | None = None,
) -> list[int]:
    """Complete every run matching `where` (and a legal source status) with `outcome`, inside
    the caller's transaction, and write each one's terminal notification in that same
    transaction; returns the ids completed. complete_run and the reaper use it.

    `produced` ids (RunResult.produced) are merged into the run's context["produced"] by the
    same UPDATE: the context is read under a row lock in this transaction, merged in Python
    (the column is JSONB on PostgreSQL, JSON on SQLite) and written with the completion. Ids
    belong to one run, so `where` must then match at most one run."""
    guard_outcome(RunStatus.completed, outcome)
    now = now or utcnow()
    values: dict[str, Any] = dict(
        outcome=RunOutcome(outcome), completed_at=now, updated_at=now, next_send_at=None
    )
    if summary_counts is not None:
        values["summary_counts"] = dict(summary_counts)
    if failures is not None:
        values["failures"] = merge_failures(failures)
    if produced:
        sources = guarded_sources(RunStatus.completed, only_from)
        query = sa.select(_T.c.id, _T.c.context).where(status_in(sources), *where)
        rows = conn.execute(query.with_for_update()).all()
        if len(rows) > 1:
            raise ValueError("produced ids belong to one run; the completion matched several")
        if not rows:
            return []
        where = (*where, _T.c.id == rows[0].id)
        values["context"] = with_produced(rows[0].context, produced)
    stmt = transition(RunStatus.completed, *where, values=values, only_from=only_from)
    completed = list(conn.execute(stmt.returning(_T.c.id)).scalars())
    add_completed(conn, completed)
    return completed


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
    attempt: int | None = None,
    produced: Mapping[str, Any] | None = None,
    run_type: str | None = None,
) -> bool:
    """Complete an active run with its outcome (and its terminal notification, in the same
    transaction). A worker that knows the run's type (`run_type`) and passes its counts and
    failures completes it in one statement on PostgreSQL (_complete_in_one_statement). Returns False (or raises IllegalTransition when strict) if the run was not in
    an allowed source status — e.g. it is already completed — or no longer on `attempt`.
    `from_statuses` narrows the legal sources (e.g. only a still-queued run). `produced` ids are
    merged into context["produced"] by the completing UPDATE (nothing is written when the run
    is not completed)."""
    engine = engine or get_engine()
    if run_type and engine.dialect.name == "postgresql" and not produced:
        if summary_counts is not None and failures is not None:
            done = _complete_in_one_statement(
                engine,
                run_id,
                run_type,
                outcome=outcome,
                summary_counts=summary_counts,
                failures=failures,
                attempt=attempt,
                now=now or utcnow(),
                only_from=from_statuses,
            )
            if not done and strict:
                raise IllegalTransition(f"run {run_id} could not move to {RunStatus.completed}")
            return done
    with engine.begin() as conn:
        done = bool(
            complete_where(
                conn,
                _T.c.id == run_id,
                fenced(attempt),
                outcome=outcome,
                summary_counts=summary_counts,
                failures=failures,
                now=now,
                only_from=from_statuses,
                produced=produced,
            )
        )
    if not done and strict:
        raise IllegalTransition(f"run {run_id} could not move to {RunStatus.completed}")
    return done


def _complete_in_one_statement(
    engine: Engine,
    run_id: int,
    run_type: str,
    *,
    outcome: RunOutcome,
    summary_counts: Mapping[str, int],
    failures: list[dict[str, Any]],
    attempt: int | None,
    now: datetime,
    only_from: frozenset[RunStatus] | None,
) -> bool:
    """complete_where for one run whose type, counts and failures the caller knows, on
    PostgreSQL: the guarded UPDATE and the terminal notification in ONE autocommit statement
    (WITH done AS (UPDATE … RETURNING) INSERT …), one round trip instead of five. The
    notification is build_completed's, with the tenant's name and slug filled in by the
    database."""
    merged, texts = _completion_texts(run_id, run_type, outcome, summary_counts, failures)
    params = {
        "run_id": run_id,
        "attempt": attempt,
        "outcome": RunOutcome(outcome),
        "now": now,
        "summary_counts": dict(summary_counts),
        "failures": merged,
        **{f"note_{key}": value for key, value in texts.items()},
    }
    stmt = _completion_statement(fenced=attempt is not None, only_from=only_from)
    return bool(stmt.rows(engine, params))


def _completion_texts(
    run_id: int,
    run_type: str,
    outcome: RunOutcome,
    summary_counts: Mapping[str, int],
    failures: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The stored (merged) failures and build_completed's notification texts, with
    placeholders for the tenant's name and slug, which the statement fills in."""
    guard_outcome(RunStatus.completed, outcome)
    merged = merge_failures(failures)
    run = SimpleNamespace(
        id=run_id,
        type=run_type,
        outcome=RunOutcome(outcome),
        summary_counts=dict(summary_counts),
        failures=merged,
    )
    return merged, completed_texts(run, PLACEHOLDER_TENANT)  # type: ignore[arg-type]


@lru_cache(maxsize=16)
def _completion_statement(
    *, fenced: bool, only_from: frozenset[RunStatus] | None
) -> DirectStatement:
    """WITH done AS (the guarded UPDATE … RETURNING) INSERT the notification FROM done JOIN
    tenants; built once per shape, everything else is a parameter."""
    now = sa.bindparam("now", type_=_T.c.completed_at.type)
    values = _completion_values(
        now,
        outcome=sa.bindparam("outcome", type_=_T.c.outcome.type),
        summary_counts=sa.bindparam("summary_counts", type_=_T.c.summary_counts.type),
        failures=sa.bindparam("failures", type_=_T.c.failures.type),
    )
    where = [_T.c.id == sa.bindparam("run_id")]
    if fenced:
        where.append(_T.c.attempts == sa.bindparam("attempt"))
    done = (
        transition(RunStatus.completed, *where, values=values, only_from=only_from)
        .returning(_T.c.id, _T.c.user_id, _T.c.tenant_id)
        .cte("done")
    )
    text = {key: sa.bindparam(f"note_{key}", type_=sa.String) for key in _NOTE_TEXTS}
    return DirectStatement(sa.select(done.c.id).add_cte(_insert_note_of(done, text, now)))


def _completion_values(now: Any, **columns: Any) -> dict[str, Any]:
    """What the one-statement completions write: `columns` (outcome, counts, failures, as
    parameters or as another relation's columns), the completion time, nothing left to send."""
    return dict(columns, completed_at=now, updated_at=now, next_send_at=None)


def _insert_note_of(done: Any, text: Mapping[str, Any], now: Any) -> Any:
    """INSERT the terminal notification of every run in the CTE `done` (id, user_id,
    tenant_id), with completed_texts' `text` (level, title, body, link); the tenant's name and
    slug are filled in from a join."""
    tenants, notes = Tenant.__table__, Notification.__table__
    return (
        sa.insert(notes)
        .from_select(
            NOTE_COLUMNS,
            sa.select(
                done.c.user_id,
                done.c.tenant_id,
                done.c.id,
                text["level"],
                text["title"],
                filled(text["body"], {TENANT_NAME: tenants.c.name}),
                filled(text["link"], {TENANT_SLUG: tenants.c.slug}),
                now,
            )
            .select_from(done.join(tenants, tenants.c.id == done.c.tenant_id))
            .where(done.c.user_id.is_not(None)),
        )
        .cte("note")
    )


@dataclass(frozen=True)
class Completion:
    """A worker's completion of the run it executed (complete_many)."""

    run_id: int
    run_type: str
    outcome: RunOutcome
    summary_counts: Mapping[str, int]
    failures: list[dict[str, Any]]
    attempt: int
    produced: Mapping[str, Any] | None = None


def complete_many(
    completions: list[Completion], *, engine: Engine | None = None, now: datetime | None = None
) -> list[bool]:
    """complete_run for many runs, one result per completion in order.

    On PostgreSQL the completions without produced ids are written by ONE statement — every
    guarded, fenced UPDATE and every terminal notification — so a worker finishing many runs at
    once pays one round trip and one commit for all. Anything else takes complete_run."""
    engine, now = engine or get_engine(), now or utcnow()
    results: list[bool | None] = [None] * len(completions)
    together: dict[int, int] = {}  # run id → index; a run's second completion goes alone
    if engine.dialect.name == "postgresql":
        for index, item in enumerate(completions):
            if not item.produced and item.run_id not in together:
                together[item.run_id] = index
    if len(together) > 1:
        rows = []
        for run_id, index in together.items():
            item = completions[index]
            merged, texts = _completion_texts(
                run_id, item.run_type, item.outcome, item.summary_counts, item.failures
            )
            rows.append(
                {
                    "id": run_id,
                    "attempt": item.attempt,
                    "outcome": RunOutcome(item.outcome).value,
                    "summary_counts": dict(item.summary_counts),
                    "failures": merged,
                    **texts,
                }
            )
        statement = _batch_completion_statement()
        done = {row.id for row in statement.rows(engine, {"rows": rows, "now": now})}
        for run_id, index in together.items():
            results[index] = run_id in done
    for index, item in enumerate(completions):
        if results[index] is None:
            results[index] = complete_run(
                item.run_id,
                outcome=item.outcome,
                summary_counts=item.summary_counts,
                failures=item.failures,
                engine=engine,
                now=now,
                attempt=item.attempt,
                produced=item.produced,
                run_type=item.run_type,
            )
    return [bool(result) for result in results]


@lru_cache(maxsize=1)
def _batch_completion_statement() -> DirectStatement:
    """_completion_statement for many runs: the values come as one JSON document (psycopg
    re-parses a statement with many parameters on every execution), the UPDATE matches each
    run on its id and its worker's attempt, and the notifications follow from what it
    completed."""
    finished = (
        sa.func.json_to_recordset(sa.bindparam("rows", type_=sa.JSON))
        .table_valued(
            sa.column("id", sa.BigInteger),
            sa.column("attempt", sa.Integer),
            sa.column("outcome", sa.String),
            sa.column("summary_counts", postgresql.JSONB),
            sa.column("failures", postgresql.JSONB),
            *(sa.column(key, sa.String) for key in _NOTE_TEXTS),
        )
        .render_derived(name="finished", with_types=True)
    )
    now = sa.bindparam("now", type_=_T.c.completed_at.type)
    values = _completion_values(
        now,
        outcome=finished.c.outcome,
        summary_counts=finished.c.summary_counts,
        failures=finished.c.failures,
    )
    done = (
        transition(
            RunStatus.completed,
            _T.c.id == finished.c.id,
            _T.c.attempts == finished.c.attempt,
            values=values,
        )
        .returning(
            _T.c.id,
            _T.c.user_id,
            _T.c.tenant_id,
            *(finished.c[key] for key in _NOTE_TEXTS),
        )
        .cte("done")
    )
    text = {key: done.c[key] for key in _NOTE_TEXTS}
    return DirectStatement(sa.select(done.c.id).add_cte(_insert_note_of(done, text, now)))


def fail_run(run_id: int, failure: dict[str, Any], **kwargs: Any) -> bool:
    """Complete a run as failed with one (sanitized) failure record."""
    return complete_run(run_id, outcome=RunOutcome.failed, failures=[failure], **kwargs)
