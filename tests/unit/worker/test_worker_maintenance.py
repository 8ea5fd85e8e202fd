"""The reaper job and the scheduler's once-per-minute guard, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from taskiq import InMemoryBroker, ScheduledTask
from taskiq.exceptions import ScheduledTaskCancelledError

from opsapp import locks
from opsapp.models import OperationRun
from opsapp.models.types import utcnow
from opsapp.worker.broker import build_broker
from opsapp.worker.maintenance import (
    BACKUP_SCHEDULES_CRON,
    BACKUP_SCHEDULES_TASK,
    PRUNE_CRON,
    PRUNE_TASK,
    REAP_CRON,
    REAP_TASK,
    reap_lost_runs_job,
)
from opsapp.worker.scheduler import GuardedLabelScheduleSource, build_scheduler, claim_firing
from tests.factories import make_tenant, make_user
from tests.unit.worker.worker_helpers import load_run, notifications_of

_T = OperationRun.__table__


def _active_run(engine, tenant_id: int, *, status: str, beat_age: float, user_id=None) -> int:
    now = utcnow()
    beat = now - timedelta(seconds=beat_age)
    with engine.begin() as conn:
        return conn.execute(
            sa.insert(_T)
            .values(
                tenant_id=tenant_id,
                user_id=user_id,
                initiator_name="x",
                type="policy.sync",
                status=status,
                outcome="pending",
                run_identity_hash=uuid.uuid4().hex,
                summary_counts={},
                failures=[],
                context={},
                created_at=beat,
                updated_at=beat,
                started_at=beat if status == "running" else None,
                heartbeat_at=beat if status == "running" else None,
                attempts=1,
            )
            .returning(_T.c.id)
        ).scalar_one()


def test_reap_job_fails_lost_runs_notifies_initiators_and_purges_old_leases(engine, monkeypatch):
    monkeypatch.setenv("OPSAPP_LOST_AFTER_SECONDS", "60")
    tenant = make_tenant(engine)
    user = make_user(engine, tenant=tenant)
    lost = _active_run(engine, tenant.id, status="running", beat_age=120, user_id=user.id)
    lost_system = _active_run(engine, tenant.id, status="running", beat_age=120)
    alive = _active_run(engine, tenant.id, status="running", beat_age=5, user_id=user.id)
    locks.acquire(engine, "schedule:x:old", "h", 1, now=utcnow() - timedelta(hours=3))
    locks.acquire(engine, "schedule:x:new", "h", 3600)

    reaped = reap_lost_runs_job(engine=engine)

    assert sorted(reaped) == sorted([lost, lost_system])
    for run_id in (lost, lost_system):
        run = load_run(engine, run_id)
        assert (run.status, run.outcome) == ("completed", "failed")
        assert run.failures[0]["code"] == "worker.lost"
    assert load_run(engine, alive).status == "running"
    [note] = notifications_of(engine, user.id)
    assert note.operation_run_id == lost and note.level == "error"
    with engine.connect() as conn:
        assert list(conn.execute(sa.text("SELECT name FROM job_locks")).scalars()) == [
            "schedule:x:new"
        ]
    assert reap_lost_runs_job(engine=engine) == []  # idempotent


def test_a_scheduled_job_fires_once_per_minute_whoever_asks(engine):
    now = utcnow().replace(second=5)
    assert claim_firing(engine, REAP_TASK, now) is True
    # a restarted (or second) scheduler in the same minute
    assert claim_firing(engine, REAP_TASK, now + timedelta(seconds=40)) is False
    assert claim_firing(engine, PRUNE_TASK, now) is True  # another job
    assert claim_firing(engine, REAP_TASK, now + timedelta(seconds=60)) is True  # next minute


async def test_label_schedules_come_from_the_broker_and_two_schedulers_send_once(engine):
    broker = build_broker("memory", engine=engine)
    sources = [GuardedLabelScheduleSource(broker, engine=engine) for _ in range(2)]
    for source in sources:
        await source.startup()
    crons = {s.task_name: s.cron for s in await sources[0].get_schedules()}
    assert crons == {
        REAP_TASK: REAP_CRON,
        PRUNE_TASK: PRUNE_CRON,
        BACKUP_SCHEDULES_TASK: BACKUP_SCHEDULES_CRON,
    }

    sent = []

    class Spy(InMemoryBroker):
        async def kick(self, message):
            sent.append(message.task_name)

    spy = Spy()
    schedulers = [build_scheduler(spy, engine=engine), build_scheduler(spy, engine=engine)]
    task = ScheduledTask(
        task_name=REAP_TASK, labels={}, args=[], kwargs={}, cron=REAP_CRON, schedule_id=REAP_TASK
    )
    await asyncio.gather(*(s.on_ready(s.sources[0], task) for s in schedulers))

    assert sent == [REAP_TASK]


async def test_a_firing_is_cancelled_when_the_database_is_unreachable(monkeypatch):
    source = GuardedLabelScheduleSource(InMemoryBroker(), engine=sa.create_engine("sqlite://"))

    def broken(*_a, **_k):
        raise sa.exc.OperationalError("INSERT", {}, Exception("down"))

    monkeypatch.setattr("opsapp.worker.scheduler.claim_firing", broken)
    task = ScheduledTask(
        task_name=REAP_TASK, labels={}, args=[], kwargs={}, cron=REAP_CRON, schedule_id="x"
    )
    with pytest.raises(ScheduledTaskCancelledError):
        await source.pre_send(task)
