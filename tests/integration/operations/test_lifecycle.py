"""Guarded lifecycle writes on both dialects."""

from datetime import timedelta

import pytest

from opsapp.db import session_scope
from opsapp.models import OperationRun
from opsapp.operations import lifecycle
from opsapp.operations.lifecycle import Claim
from opsapp.operations.results import RunResult, finalise
from opsapp.operations.service import ensure_run
from opsapp.operations.status import IllegalTransition, RunOutcome
from tests.factories import make_tenant

LOST = timedelta(seconds=60)


def _queued(engine, tenant, inputs=None):
    with session_scope(engine) as s:
        return ensure_run(
            s,
            tenant_id=tenant.id,
            run_type="directory_groups.sync",
            inputs=inputs or {},
            user_id=None,
            initiator_name="System",
        ).run


def _get(engine, run_id):
    with session_scope(engine) as s:
        return s.get(OperationRun, run_id)


def test_queued_running_completed(engine):
    run = _queued(engine, make_tenant(engine))
    assert lifecycle.mark_running(run.id, lost_after=LOST, engine=engine) is Claim.claimed
    assert lifecycle.update_progress(run.id, {"total": 10, "processed": 4}, engine=engine)
    mid = _get(engine, run.id)
    assert (mid.status, mid.summary_counts, mid.attempts) == (
        "running",
        {"total": 10, "processed": 4},
        1,
    )
    assert mid.started_at is not None and mid.heartbeat_at is not None
    assert lifecycle.complete_run(
        run.id,
        outcome=RunOutcome.succeeded,
        summary_counts={"total": 10, "processed": 10},
        engine=engine,
    )
    done = _get(engine, run.id)
    assert (done.status, done.outcome) == ("completed", "succeeded")
    assert done.completed_at >= done.started_at >= done.created_at


def test_a_completed_run_never_changes_again(engine):
    run = _queued(engine, make_tenant(engine))
    lifecycle.complete_run(run.id, outcome=RunOutcome.failed, engine=engine)
    before = _get(engine, run.id)
    assert lifecycle.mark_running(run.id, lost_after=LOST, engine=engine) is Claim.already_completed
    assert not lifecycle.update_progress(run.id, {"processed": 1}, engine=engine)
    assert not lifecycle.heartbeat(run.id, engine=engine)
    assert not lifecycle.complete_run(run.id, outcome=RunOutcome.succeeded, engine=engine)
    with pytest.raises(IllegalTransition):
        lifecycle.complete_run(run.id, outcome=RunOutcome.succeeded, engine=engine, strict=True)
    after = _get(engine, run.id)
    assert (after.outcome, after.updated_at, after.summary_counts) == (
        before.outcome,
        before.updated_at,
        before.summary_counts,
    )


def test_a_second_claim_while_alive_does_not_execute(engine):
    run = _queued(engine, make_tenant(engine))
    assert lifecycle.mark_running(run.id, lost_after=LOST, engine=engine).should_execute
    assert lifecycle.mark_running(run.id, lost_after=LOST, engine=engine) is Claim.running_elsewhere
    assert lifecycle.mark_running(10_000_000, lost_after=LOST, engine=engine) is Claim.missing


def test_a_stale_running_run_can_be_taken_over(engine):
    run = _queued(engine, make_tenant(engine))
    lifecycle.mark_running(run.id, lost_after=LOST, engine=engine)
    later = _get(engine, run.id).heartbeat_at + timedelta(minutes=5)
    assert (
        lifecycle.mark_running(run.id, lost_after=LOST, engine=engine, now=later)
        is Claim.taken_over
    )
    assert _get(engine, run.id).attempts == 2


def test_pending_is_not_a_terminal_outcome(engine):
    run = _queued(engine, make_tenant(engine))
    with pytest.raises(IllegalTransition):
        lifecycle.complete_run(run.id, outcome=RunOutcome.pending, engine=engine)


@pytest.mark.parametrize(
    ("counts", "items", "fatal", "expected"),
    [
        ({"total": 3, "processed": 3, "created": 3}, 0, None, "succeeded"),
        ({"total": 3, "processed": 3, "created": 2}, 1, None, "partially_succeeded"),
        ({"total": 2, "processed": 2}, 2, None, "failed"),
        ({}, 0, {"code": "graph.forbidden", "message": "denied", "count": 1}, "failed"),
        (
            {"total": 9, "processed": 4, "updated": 4},
            0,
            {"code": "graph.throttled", "message": "x", "count": 1},
            "partially_succeeded",
        ),
    ],
)
def test_outcome_from_counts_and_failures(counts, items, fatal, expected):
    result = RunResult(counts=counts, fatal=fatal)
    for i in range(items):
        result.fail_item("graph.not_found", "gone", item=f"policy-{i}")
    outcome, final_counts, failures = finalise("directory_groups.sync", result)
    assert outcome == expected
    if items:
        assert final_counts["failed"] == items
        assert len(failures) == items + (1 if fatal else 0)


def test_record_produced_only_while_running_and_the_run_page_links_it(engine):
    from opsapp.operations.links import related_links

    run = _queued(engine, make_tenant(engine, slug="acme"))
    assert lifecycle.record_produced(run.id, {"backup_set_id": 5}, engine=engine) is False
    lifecycle.mark_running(run.id, lost_after=LOST, engine=engine)
    assert lifecycle.record_produced(run.id, {"backup_set_id": 5}, engine=engine) is True
    context = _get(engine, run.id).context
    assert context["produced"] == {"backup_set_id": 5} and context["inputs"] == {}

    lifecycle.complete_run(run.id, outcome=RunOutcome.succeeded, engine=engine)
    assert lifecycle.record_produced(run.id, {"backup_set_id": 6}, engine=engine) is False
    links = related_links(
        tenant_slug="acme",
        run_type="backup_schedule.run_now",
        context={"inputs": {"schedule_id": 2}, "produced": {"backup_set_id": 5}},
    )
    assert [link["url"] for link in links] == [
        "/t/acme/backup-schedules/2",
        "/t/acme/backup-sets/5",
        "/t/acme/operations",
    ]


def test_status_and_outcome_are_enums_stored_as_their_tokens(engine):
    import sqlalchemy as sa

    from opsapp.operations.status import RunStatus

    run = _queued(engine, make_tenant(engine))
    stored = _get(engine, run.id)
    assert stored.status is RunStatus.queued and stored.outcome is RunOutcome.pending
    with engine.connect() as conn:  # the raw column holds the plain token (no data migration)
        raw = conn.exec_driver_sql(
            f"SELECT status, outcome FROM operation_runs WHERE id = {run.id}"
        ).one()
    assert tuple(raw) == ("queued", "pending")
    t = OperationRun.__table__
    with pytest.raises(sa.exc.StatementError), engine.begin() as conn:
        conn.execute(sa.update(t).where(t.c.id == run.id).values(status="paused"))
    assert _get(engine, run.id).status is RunStatus.queued


def test_a_narrowed_source_set_leaves_other_runs_alone(engine):
    from opsapp.operations.status import RunStatus

    tenant = make_tenant(engine)
    queued, running = _queued(engine, tenant, {"k": 1}), _queued(engine, tenant, {"k": 2})
    lifecycle.mark_running(running.id, lost_after=LOST, engine=engine)
    only_queued = frozenset({RunStatus.queued})
    fail = {"code": "queue.dispatch_failed", "message": "x"}
    assert not lifecycle.fail_run(running.id, fail, engine=engine, from_statuses=only_queued)
    assert lifecycle.fail_run(queued.id, fail, engine=engine, from_statuses=only_queued)
    assert (_get(engine, running.id).status, _get(engine, queued.id).status) == (
        "running",
        "completed",
    )
    with pytest.raises(IllegalTransition):  # a source the table does not allow is refused
        lifecycle.complete_run(
            running.id,
            outcome=RunOutcome.failed,
            engine=engine,
            from_statuses=frozenset({RunStatus.completed}),
        )


def _reap(engine, now):
    from opsapp.operations.reaper import reap_lost_runs

    with engine.begin() as conn:
        return reap_lost_runs(
            conn, now=now, lost_after=timedelta(minutes=5), queued_timeout=timedelta(minutes=30)
        )


def test_the_reaper_completes_through_the_transition_table(engine, monkeypatch):
    from opsapp.models.types import utcnow
    from opsapp.operations import status

    tenant, now = make_tenant(engine), utcnow()
    with session_scope(engine) as s:
        never_started = ensure_run(
            s,
            tenant_id=tenant.id,
            run_type="directory_groups.sync",
            inputs={"k": 1},
            user_id=None,
            initiator_name="System",
            now=now - timedelta(hours=2),
        ).run
    lost = _queued(engine, tenant, {"k": 2})
    lifecycle.mark_running(lost.id, lost_after=LOST, engine=engine, now=now - timedelta(hours=1))
    finished = _queued(engine, tenant, {"k": 3})
    lifecycle.complete_run(finished.id, outcome=RunOutcome.succeeded, engine=engine)

    # The reaper asks the table: with queued → completed removed it refuses instead of writing.
    original = status.ALLOWED_TRANSITIONS
    narrowed = {
        **original,
        status.RunStatus.queued: frozenset({status.RunStatus.running}),
    }
    monkeypatch.setattr(status, "ALLOWED_TRANSITIONS", narrowed)
    with pytest.raises(IllegalTransition):
        _reap(engine, now)
    assert _get(engine, never_started.id).status == "queued"  # the transaction rolled back
    monkeypatch.setattr(status, "ALLOWED_TRANSITIONS", original)

    assert sorted(_reap(engine, now)) == sorted([never_started.id, lost.id])
    for run_id in (never_started.id, lost.id):
        run = _get(engine, run_id)
        assert (run.status, run.outcome, run.failures[0]["code"]) == (
            "completed",
            "failed",
            "worker.lost",
        )
    assert _get(engine, finished.id).outcome == "succeeded"
    assert _reap(engine, now) == []  # a completed run is never reaped again
