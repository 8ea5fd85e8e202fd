"""start_operation / ensure_run on both dialects (the `engine` fixture is parametrized)."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from opsapp.models import Notification, OperationRun, Role
from opsapp.models.types import utcnow
from opsapp.operations import lifecycle
from opsapp.operations.access import Forbidden, NotFound
from opsapp.operations.catalog import UnknownOperationType
from opsapp.operations.identity import InvalidInputs
from opsapp.operations.service import (
    DispatchFailed,
    OperationUnavailable,
    _fail_dispatch,
    start_operation,
    start_system_operation,
)
from opsapp.operations.status import RunOutcome, RunStatus
from tests.factories import make_tenant, make_user
from tests.fakes import BrokenDispatcher, RecordingDispatcher


async def _start(
    engine, tenant, user, run_type="directory_groups.sync", inputs=None, dispatcher=None, **kw
):
    return await start_operation(
        run_type=run_type,
        tenant_id=tenant.id,
        user_id=user.id if user else None,
        inputs=inputs,
        dispatcher=dispatcher or RecordingDispatcher(),
        engine=engine,
        **kw,
    )


def _runs(engine):
    with Session(engine) as s:
        return list(s.exec(select(OperationRun).order_by(OperationRun.id)))


def _notes(engine, user_id=None):
    with Session(engine) as s:
        q = select(Notification).order_by(Notification.id)
        if user_id:
            q = q.where(Notification.user_id == user_id)
        return list(s.exec(q))


async def test_start_creates_a_queued_run_dispatches_it_and_notifies_the_initiator(engine):
    tenant = make_tenant(engine)
    alice = make_user(engine, tenant=tenant, role=Role.operator)
    dispatcher = RecordingDispatcher()

    result = await _start(
        engine, tenant, alice, "policy.sync", {"policy_types": ["roleScopeTag"]}, dispatcher
    )

    assert result.created
    assert dispatcher.dispatched == [result.run.id]
    assert result.view_path == f"/t/{tenant.slug}/operations/{result.run.id}"
    (run,) = _runs(engine)
    assert (run.status, run.outcome, run.user_id, run.initiator_name) == (
        "queued",
        "pending",
        alice.id,
        alice.display_name,
    )
    assert run.context["inputs"] == {"policy_types": ["roleScopeTag"]}
    (note,) = _notes(engine)
    assert (
        note.user_id == alice.id
        and note.title == "Policy sync queued"
        and note.link == result.view_path
    )


async def test_duplicate_start_while_active_reuses_the_run_and_keeps_the_initiator(engine):
    tenant = make_tenant(engine)
    alice = make_user(engine, tenant=tenant, role=Role.owner)
    bob = make_user(engine, tenant=tenant, role=Role.operator)
    dispatcher = RecordingDispatcher()

    first = await _start(engine, tenant, alice, dispatcher=dispatcher)
    second = await _start(engine, tenant, bob, dispatcher=dispatcher)

    assert first.created and not second.created
    assert second.run.id == first.run.id
    assert dispatcher.dispatched == [first.run.id]  # the reused run is not dispatched again
    assert [r.initiator_name for r in _runs(engine)] == [alice.display_name]
    assert [n.user_id for n in _notes(engine)] == [alice.id]  # bob gets no queued notification


async def test_a_new_run_is_created_once_the_previous_one_completed(engine):
    tenant = make_tenant(engine)
    alice = make_user(engine, tenant=tenant)
    first = await _start(engine, tenant, alice)
    assert (
        lifecycle.mark_running(first.run.id, lost_after=timedelta(minutes=1), engine=engine)
        == "claimed"
    )
    assert lifecycle.complete_run(first.run.id, outcome=RunOutcome.succeeded, engine=engine)

    again = await _start(engine, tenant, alice)

    assert again.created and again.run.id != first.run.id


async def test_other_identities_and_tenants_are_independent(engine):
    t1, t2 = make_tenant(engine), make_tenant(engine)
    u1 = make_user(engine, tenant=t1)
    u2 = make_user(engine, tenant=t2)
    a = await _start(engine, t1, u1, "policy.sync", {"policy_types": ["roleScopeTag"]})
    b = await _start(engine, t1, u1, "policy.sync", {"policy_types": ["assignmentFilter"]})
    c = await _start(engine, t2, u2, "policy.sync", {"policy_types": ["roleScopeTag"]})
    assert a.created and b.created and c.created
    assert len({a.run.id, b.run.id, c.run.id}) == 3


async def test_dispatch_failure_completes_the_run_as_failed_and_tells_the_caller(engine, caplog):
    tenant = make_tenant(engine)
    alice = make_user(engine, tenant=tenant)

    with pytest.raises(DispatchFailed) as info:
        await _start(engine, tenant, alice, dispatcher=BrokenDispatcher())

    (run,) = _runs(engine)
    assert (run.status, run.outcome) == ("completed", "failed")
    assert run.completed_at is not None
    assert [f["code"] for f in run.failures] == ["queue.dispatch_failed"]
    assert "hunter2" not in str(run.failures) and "hunter2" not in caplog.text
    assert "could not be queued" in str(info.value)
    assert info.value.run.id == run.id
    # Nothing is left queued: the next click starts afresh.
    assert (await _start(engine, tenant, alice)).created
    assert [n.level for n in _notes(engine, alice.id)][:1] == ["error"]


async def test_a_stalled_broker_fails_within_the_dispatch_timeout(engine, monkeypatch):
    monkeypatch.setenv("OPSAPP_DISPATCH_TIMEOUT_SECONDS", "0.2")
    from opsapp.settings import get_settings

    get_settings.cache_clear()
    tenant = make_tenant(engine)
    alice = make_user(engine, tenant=tenant)
    with pytest.raises(DispatchFailed):
        await _start(engine, tenant, alice, dispatcher=BrokenDispatcher(delay=30))
    assert _runs(engine)[0].failures[0]["code"] == "queue.dispatch_failed"


async def test_non_members_get_not_found_and_readonly_gets_forbidden(engine):
    tenant, other = make_tenant(engine), make_tenant(engine)
    outsider = make_user(engine, tenant=other, role=Role.owner)
    reader = make_user(engine, tenant=tenant, role=Role.readonly)
    operator = make_user(engine, tenant=tenant, role=Role.operator)

    with pytest.raises(NotFound):
        await _start(engine, tenant, outsider)
    with pytest.raises(Forbidden):
        await _start(engine, tenant, reader)
    with pytest.raises(Forbidden):  # restore execution needs owner/manager
        await _start(
            engine,
            tenant,
            operator,
            "backup_schedule.scheduled",
            {"schedule_id": 1, "scheduled_for": "2026-01-01T00:00:00+00:00"},
        )
    with pytest.raises(NotFound):
        await start_operation(
            run_type="directory_groups.sync",
            tenant_id=999_999,
            user_id=operator.id,
            inputs={},
            dispatcher=RecordingDispatcher(),
            engine=engine,
        )
    assert _runs(engine) == []


async def test_bad_requests_create_nothing(engine):
    tenant = make_tenant(engine)
    alice = make_user(engine, tenant=tenant)
    with pytest.raises(UnknownOperationType):
        await _start(engine, tenant, alice, "nope.sync")
    with pytest.raises(InvalidInputs):
        await _start(
            engine, tenant, alice, "backup_set.add_policies", {"backup_set_id": 1, "policy_ids": []}
        )
    with pytest.raises(OperationUnavailable, match="not available"):
        await _start(engine, tenant, alice, dispatcher=RecordingDispatcher(supported=set()))
    assert _runs(engine) == [] and _notes(engine) == []


async def test_system_runs_have_no_initiator_and_notify_nobody(engine):
    from opsapp.db import session_scope
    from opsapp.features.backups.schedules import ScheduleInput, create_schedule

    tenant = make_tenant(engine)
    make_user(engine, tenant=tenant)
    with session_scope(engine) as session:  # the precheck wants the schedule to exist
        data = ScheduleInput(name="Nightly", policy_types=["deviceConfiguration"])
        schedule_id = create_schedule(session, tenant_id=tenant.id, data=data).id
    result = await start_system_operation(
        run_type="backup_schedule.scheduled",
        tenant_id=tenant.id,
        inputs={"schedule_id": schedule_id, "scheduled_for": "2026-11-26T03:00:00+00:00"},
        dispatcher=RecordingDispatcher(),
        engine=engine,
    )
    assert result.created and result.run.user_id is None and result.run.initiator_name == "System"
    assert _notes(engine) == []


async def test_the_user_entry_point_cannot_start_as_the_system(engine):
    tenant = make_tenant(engine)
    make_user(engine, tenant=tenant, role=Role.owner)
    inputs = {"schedule_id": 1, "scheduled_for": "2026-11-26T03:00:00+00:00"}
    with pytest.raises(TypeError):  # the old escape hatch is gone
        await _start(engine, tenant, None, "backup_schedule.scheduled", inputs, system=True)
    for run_type, run_inputs in (
        ("backup_schedule.scheduled", inputs),
        ("directory_groups.sync", {}),
    ):
        with pytest.raises((NotFound, Forbidden)):  # no user: authorization refuses
            await _start(engine, tenant, None, run_type, run_inputs)
    assert _runs(engine) == [] and _notes(engine) == []


async def test_a_system_start_still_checks_the_tenant_and_the_inputs(engine):
    with pytest.raises(NotFound):
        await start_system_operation(
            run_type="directory_groups.sync",
            tenant_id=999_999,
            inputs={},
            dispatcher=RecordingDispatcher(),
            engine=engine,
        )
    tenant = make_tenant(engine)
    with pytest.raises(NotFound):  # the precheck: schedule 424242 does not exist
        await start_system_operation(
            run_type="backup_schedule.scheduled",
            tenant_id=tenant.id,
            inputs={"schedule_id": 424242, "scheduled_for": "2026-11-26T03:00:00+00:00"},
            dispatcher=RecordingDispatcher(),
            engine=engine,
        )
    assert _runs(engine) == []


def test_no_user_surface_reaches_the_system_entry_point():
    from pathlib import Path

    root = Path(__file__).resolve().parents[3] / "opsapp"
    surfaces = [*root.glob("cli*.py"), *(root / "ui").rglob("*.py")]
    assert len(surfaces) > 5  # the scan really looked at the UI and the CLI
    offenders = [p.name for p in surfaces if "start_system_operation" in p.read_text()]
    assert offenders == []


class _AcceptedThenTimedOut:
    """The broker took the message and a worker claimed (or even finished) the run, but the
    dispatch call itself still failed — e.g. it timed out waiting for Redis's answer."""

    def __init__(self, engine, *, finish: bool = False) -> None:
        self.engine, self.finish = engine, finish

    def supports(self, run_type: str) -> bool:
        return True

    async def dispatch(self, run) -> None:
        claim = lifecycle.mark_running(run.id, lost_after=timedelta(minutes=5), engine=self.engine)
        assert claim == lifecycle.Claim.claimed
        if self.finish:
            assert lifecycle.complete_run(run.id, outcome=RunOutcome.succeeded, engine=self.engine)
        raise TimeoutError("no answer from redis://:hunter2-pass@127.0.0.1:6379")


async def test_a_dispatch_error_leaves_a_run_a_worker_already_claimed_alone(engine):
    tenant = make_tenant(engine)
    alice = make_user(engine, tenant=tenant)

    result = await _start(engine, tenant, alice, dispatcher=_AcceptedThenTimedOut(engine))

    (run,) = _runs(engine)
    assert (run.status, run.outcome, run.failures, run.completed_at) == (
        RunStatus.running,
        RunOutcome.pending,
        [],
        None,
    )
    # The caller hears the truth: the run was started (no DispatchFailed), and it is running.
    assert result.created and result.run.id == run.id and result.run.status == "running"
    assert [n.level for n in _notes(engine, alice.id)] == ["info"]  # queued, no error


async def test_a_dispatch_error_after_the_run_already_finished_changes_nothing(engine):
    tenant = make_tenant(engine)
    alice = make_user(engine, tenant=tenant)

    result = await _start(
        engine, tenant, alice, dispatcher=_AcceptedThenTimedOut(engine, finish=True)
    )

    (run,) = _runs(engine)
    assert (run.status, run.outcome, run.failures) == ("completed", "succeeded", [])
    assert result.created and result.run.outcome == "succeeded"
    # "queued" (written with the run) and the completion's own notification: no false "failed".
    assert [n.title for n in _notes(engine, alice.id)] == [
        "Directory groups sync queued",
        "Directory groups sync succeeded",
    ]


async def test_fail_dispatch_fails_only_a_queued_run(engine):
    tenant = make_tenant(engine)
    alice = make_user(engine, tenant=tenant)
    queued = (
        await _start(engine, tenant, alice, "policy.sync", {"policy_types": ["roleScopeTag"]})
    ).run
    running = (
        await _start(engine, tenant, alice, "policy.sync", {"policy_types": ["assignmentFilter"]})
    ).run
    done = (
        await _start(
            engine, tenant, alice, "policy.sync", {"policy_types": ["deviceConfiguration"]}
        )
    ).run
    for run_id in (running.id, done.id):
        lifecycle.mark_running(run_id, lost_after=timedelta(minutes=5), engine=engine)
    lifecycle.complete_run(done.id, outcome=RunOutcome.partially_succeeded, engine=engine)
    error = TimeoutError("dispatch timed out")

    assert _fail_dispatch(engine, queued, error)[0] is True
    failed_here, now_running = _fail_dispatch(engine, running, error)
    assert failed_here is False and now_running.status == RunStatus.running
    failed_here, now_done = _fail_dispatch(engine, done, error)
    assert failed_here is False and now_done.outcome == RunOutcome.partially_succeeded

    by_id = {r.id: r for r in _runs(engine)}
    assert (by_id[queued.id].outcome, by_id[queued.id].failures[0]["code"]) == (
        "failed",
        "queue.dispatch_failed",
    )
    assert (by_id[running.id].status, by_id[running.id].failures) == ("running", [])
    assert (by_id[done.id].outcome, by_id[done.id].failures) == ("partially_succeeded", [])


async def test_a_lost_active_run_is_reaped_instead_of_blocking_new_starts(engine):
    tenant = make_tenant(engine)
    alice = make_user(engine, tenant=tenant)
    first = await _start(engine, tenant, alice)
    lifecycle.mark_running(first.run.id, lost_after=timedelta(minutes=1), engine=engine)
    with engine.begin() as conn:  # the worker died two hours ago
        old = utcnow() - timedelta(hours=2)
        conn.execute(
            sa.update(OperationRun.__table__)
            .where(OperationRun.__table__.c.id == first.run.id)
            .values(heartbeat_at=old)
        )

    second = await _start(engine, tenant, alice)

    assert second.created
    lost = next(r for r in _runs(engine) if r.id == first.run.id)
    assert (lost.status, lost.outcome, lost.failures[0]["code"]) == (
        "completed",
        "failed",
        "worker.lost",
    )
    assert any(n.operation_run_id == first.run.id and n.level == "error" for n in _notes(engine))


async def test_a_locked_database_does_not_stall_the_callers_event_loop(engine):
    import asyncio
    import threading

    tenant = make_tenant(engine)
    alice = make_user(engine, tenant=tenant)
    locked, release = threading.Event(), threading.Event()

    def hold_write_lock():
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("LOCK TABLE operation_runs IN EXCLUSIVE MODE")
            locked.set()
            release.wait(5)
            conn.rollback()

    holder = threading.Thread(target=hold_write_lock)
    holder.start()
    assert locked.wait(5)
    start = asyncio.create_task(_start(engine, tenant, alice))
    # Other coroutines run while the start waits on the lock. Were the database call made on
    # the loop, this await could only finish once the holder gave up (its 5 s timeout), and
    # the start would have finished by then too.
    for _ in range(20):
        await asyncio.sleep(0)
    await asyncio.wait_for(asyncio.shield(asyncio.sleep(0.05)), 4)
    assert not start.done() and holder.is_alive() and not release.is_set()
    release.set()
    result = await start
    holder.join()
    assert result.created
