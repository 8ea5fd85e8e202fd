"""Claims and completions of many runs at once (lifecycle.claim_many / complete_many), which a
worker uses when it reads or finishes several runs together: on PostgreSQL one statement for
the whole batch, and on both dialects exactly the answers and writes of one run at a time."""

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from opsapp.models import Notification, OperationRun
from opsapp.operations import lifecycle
from opsapp.operations.lifecycle import Claim, Completion
from opsapp.operations.notifications import build_completed
from opsapp.operations.service import ensure_run
from opsapp.operations.status import RunOutcome, RunStatus
from tests.factories import make_tenant, make_user
from tests.integration.operations.test_start_statement import _Statements

TYPE = "directory_groups.sync"
LOST = timedelta(minutes=5)
_T = OperationRun.__table__


def _claim_awaited(requests, **kwargs):
    return asyncio.run(lifecycle.claim_many_async(requests, **kwargs))


# The worker awaits claims (claim_many_async); claim_many is their thread-side twin.
CLAIMERS = pytest.mark.parametrize(
    "claim_many", [lifecycle.claim_many, _claim_awaited], ids=["claim_many", "claim_many_async"]
)


def _runs(engine, n, tenant_name="Contoso"):
    tenant = make_tenant(engine, name=tenant_name)
    user = make_user(engine, tenant=tenant)
    ids = []
    with Session(engine) as s:
        for run_type in ("directory_groups.sync", "inventory.sync", "policy.sync")[:n]:
            ids.append(
                ensure_run(
                    s,
                    tenant_id=tenant.id,
                    run_type=run_type,
                    inputs={},
                    user_id=user.id,
                    initiator_name="Operator",
                ).run.id
            )
            s.commit()
    return tenant, user, ids


def _types(engine, ids):
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_T.c.id, _T.c.type).where(_T.c.id.in_(ids))).all()
    return dict(rows)


@CLAIMERS
@pytest.mark.parametrize("runs", [1, 3])
def test_claim_many_claims_every_queued_run_in_one_statement_on_postgres(
    pg_engine, claim_many, runs
):
    _tenant, _user, ids = _runs(pg_engine, runs)
    types = _types(pg_engine, ids)
    with _Statements(pg_engine) as seen:
        results = claim_many(
            [(run_id, types[run_id]) for run_id in ids], lost_after=LOST, engine=pg_engine
        )
    assert len(seen.sql) == 1 and seen.sql[0][1]  # one statement, autocommit
    assert [claim for claim, _ in results] == [Claim.claimed] * runs
    assert [row.id for _, row in results] == ids  # in the order asked
    assert {row.attempts for _, row in results} == {1}
    with Session(pg_engine) as s:
        runs = s.exec(select(OperationRun).where(OperationRun.id.in_(ids)))
        assert {run.status for run in runs} == {RunStatus.running}


@CLAIMERS
def test_claim_many_says_what_claiming_one_by_one_says(engine, claim_many):
    """Missing, completed, wrong-type, already-running and a second message for the same run:
    each request gets the answer claim_with_run gives it, on both dialects."""
    _tenant, _user, (queued, completed, running) = _runs(engine, 3)
    types = _types(engine, [queued, completed, running])
    lifecycle.complete_run(completed, outcome=RunOutcome.succeeded, engine=engine)
    lifecycle.claim_run(running, lost_after=LOST, engine=engine)
    requests = [
        (queued, types[queued]),
        (queued, types[queued]),  # the same run again: not claimed twice
        (completed, types[completed]),
        (running, types[running]),
        (10_000_000, TYPE),
        (running, "restore.execute"),
    ]
    results = claim_many(requests, lost_after=LOST, engine=engine)
    assert [claim for claim, _ in results] == [
        Claim.claimed,
        Claim.running_elsewhere,
        Claim.already_completed,
        Claim.running_elsewhere,
        Claim.missing,
        Claim.wrong_type,
    ]
    assert results[0][1].attempts == 1 and all(row is None for _, row in results[1:])


@CLAIMERS
def test_claim_many_takes_over_a_run_whose_worker_went_silent(engine, claim_many):
    _tenant, _user, (lost, fresh) = _runs(engine, 2)
    types = _types(engine, [lost, fresh])
    lifecycle.claim_run(lost, lost_after=LOST, engine=engine)
    later = lifecycle.utcnow() + timedelta(minutes=10)
    results = claim_many(
        [(lost, types[lost]), (fresh, types[fresh])], lost_after=LOST, engine=engine, now=later
    )
    assert [(claim, row.attempts) for claim, row in results] == [
        (Claim.taken_over, 2),
        (Claim.claimed, 1),
    ]


def _claimed(engine, ids):
    types = _types(engine, ids)
    results = lifecycle.claim_many(
        [(run_id, types[run_id]) for run_id in ids], lost_after=LOST, engine=engine
    )
    return types, {row.id: row.attempts for _, row in results}


def _completion(run_id, types, attempt, outcome=RunOutcome.succeeded, **kwargs):
    return Completion(
        run_id,
        types[run_id],
        outcome,
        kwargs.pop("counts", {"total": 2, "processed": 2}),
        kwargs.pop("failures", []),
        attempt,
        **kwargs,
    )


def test_complete_many_is_one_statement_with_the_notifications_one_by_one_would_write(
    pg_engine,
):
    tenant, user, ids = _runs(pg_engine, 3, tenant_name="Northwind ⟪slug⟫")
    types, attempts = _claimed(pg_engine, ids)
    failures = [{"code": "graph.throttled", "message": "slow down"}] * 2
    completions = [
        _completion(ids[0], types, attempts[ids[0]]),
        _completion(
            ids[1],
            types,
            attempts[ids[1]],
            RunOutcome.partially_succeeded,
            counts={"total": 3, "processed": 3, "failed": 1},
            failures=failures,
        ),
        _completion(ids[2], types, attempts[ids[2]] + 1),  # a stale attempt: fenced out
    ]
    with _Statements(pg_engine) as seen:
        assert lifecycle.complete_many(completions, engine=pg_engine) == [True, True, False]
    ((statement, autocommit),) = seen.sql
    assert statement.lstrip().startswith("WITH done AS") and autocommit
    with Session(pg_engine) as s:
        runs = {run.id: run for run in s.exec(select(OperationRun).where(OperationRun.id.in_(ids)))}
        notes = {
            note.operation_run_id: note
            for note in s.exec(select(Notification).where(Notification.user_id == user.id))
        }
    assert runs[ids[1]].failures[0]["count"] == 2  # merged, as complete_where merges
    assert runs[ids[1]].summary_counts == {"total": 3, "processed": 3, "failed": 1}
    assert runs[ids[2]].status == RunStatus.running  # the fenced one is untouched
    for run_id in ids[:2]:
        expected = build_completed(runs[run_id], tenant)
        note = notes[run_id]
        assert (note.level, note.title, note.body, note.link) == (
            expected.level,
            expected.title,
            expected.body,
            expected.link,
        )
    assert ids[2] not in notes


def test_complete_many_agrees_with_complete_run_on_both_dialects(engine):
    """Produced ids, a second completion of the same run, and SQLite take complete_run."""
    _tenant, user, ids = _runs(engine, 3)
    types, attempts = _claimed(engine, ids)
    completions = [
        _completion(ids[0], types, attempts[ids[0]]),
        _completion(ids[0], types, attempts[ids[0]]),  # again: already completed
        _completion(ids[1], types, attempts[ids[1]], RunOutcome.failed, counts={}),
        _completion(ids[2], types, attempts[ids[2]], produced={"backup_set_id": 7}),
    ]
    assert lifecycle.complete_many(completions, engine=engine) == [True, False, True, True]
    with Session(engine) as s:
        runs = {run.id: run for run in s.exec(select(OperationRun).where(OperationRun.id.in_(ids)))}
        notes = list(s.exec(select(Notification).where(Notification.user_id == user.id)))
    assert [runs[i].outcome for i in ids] == [
        RunOutcome.succeeded,
        RunOutcome.failed,
        RunOutcome.succeeded,
    ]
    assert runs[ids[2]].context["produced"] == {"backup_set_id": 7}
    assert sorted(n.operation_run_id for n in notes) == sorted(ids)  # one each, no double


def test_claims_of_resumable_types_commit_lazily_and_restores_durably(pg_engine):
    """A resumable type's claim skips its own WAL flush (set_config local to its transaction,
    so the pooled connection keeps synchronous commits); restore.execute's stays durable."""
    _tenant, _user, (sync_run, other_run) = _runs(pg_engine, 2)
    types = _types(pg_engine, [sync_run, other_run])
    with _Statements(pg_engine) as seen:
        lifecycle.claim_many([(sync_run, types[sync_run])], lost_after=LOST, engine=pg_engine)
        lifecycle.claim_many([(10_000_000, "restore.execute")], lost_after=LOST, engine=pg_engine)
    claims = [sql for sql, _ in seen.sql if sql.startswith("UPDATE operation_runs")]
    assert "set_config" in claims[0]
    assert all("set_config" not in sql for sql in claims[1:])
    # The direct path (nobody listening) too; afterwards every pooled connection still
    # commits synchronously.
    ((claim, _row),) = lifecycle.claim_many(
        [(other_run, types[other_run])], lost_after=LOST, engine=pg_engine
    )
    assert claim is Claim.claimed
    for _ in range(3):
        with pg_engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"


@pytest.mark.parametrize("runs", [1, 3])
def test_an_awaited_claim_uses_a_kept_connection_not_the_pool(pg_engine, runs):
    """Nothing watching: the claim goes over the engine's kept async connection."""
    from opsapp.db_async import kept_connections

    _tenant, _user, ids = _runs(pg_engine, runs)
    types = _types(pg_engine, ids)
    checkouts = []

    def checkout(*args):
        checkouts.append(args)

    sa.event.listen(pg_engine.pool, "checkout", checkout)
    try:
        results = _claim_awaited(
            [(run_id, types[run_id]) for run_id in ids], lost_after=LOST, engine=pg_engine
        )
    finally:
        sa.event.remove(pg_engine.pool, "checkout", checkout)
    assert [claim for claim, _ in results] == [Claim.claimed] * runs
    assert checkouts == [] and kept_connections(pg_engine)._open >= 1
