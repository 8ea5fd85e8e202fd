"""The backup scheduler's tick on a real database (SQLite and PostgreSQL) with an injected clock:
each slot fires once whatever the restarts, scheduler processes or clock jumps; missed slots
coalesce; disabled and deleted schedules never fire; DST days fire the right slots. Plus the
wiring: the per-minute maintenance task of the scaled mode and the embedded mode's loop."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from opsapp.db import session_scope
from opsapp.features.backups import scheduler as backup_scheduler
from opsapp.features.backups.scheduler import RUN_TYPE, fire_due_schedules
from opsapp.features.backups.schedules import (
    ScheduleInput,
    create_schedule,
    delete_schedule,
    set_enabled,
)
from opsapp.models import BackupSchedule, OperationRun
from opsapp.operations.results import RunResult
from opsapp.worker.registry import register_body, registry_snapshot
from tests.factories import make_tenant
from tests.fakes import BrokenDispatcher, RecordingDispatcher

ROOT = Path(__file__).resolve().parents[3]
BERLIN_0230 = {"time_of_day": "02:30", "timezone": "Europe/Berlin"}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def make_schedule(engine, tenant_id: int, *, now: datetime, name: str | None = None, **fields):
    data = ScheduleInput(
        name=name or f"Nightly {fields.get('timezone', 'x')} {now.timestamp()}",
        policy_types=["deviceConfiguration"],
        **{**BERLIN_0230, **fields},
    )
    with session_scope(engine) as session:
        return create_schedule(session, tenant_id=tenant_id, data=data, now=now)


def load_schedule(engine, schedule_id: int) -> BackupSchedule | None:
    with session_scope(engine) as session:
        return session.get(BackupSchedule, schedule_id)


def scheduled_runs(engine) -> list[OperationRun]:
    with session_scope(engine) as session:
        return list(
            session.scalars(
                sa.select(OperationRun)
                .where(OperationRun.type == RUN_TYPE)
                .order_by(OperationRun.id)
            )
        )


def slots_of(engine) -> list[tuple[int, str]]:
    return [
        (r.context["inputs"]["schedule_id"], r.context["inputs"]["scheduled_for"])
        for r in scheduled_runs(engine)
    ]


def tick(engine, now: datetime, dispatcher=None, **kwargs):
    return asyncio.run(
        fire_due_schedules(engine, dispatcher or RecordingDispatcher(), now, **kwargs)
    )


@pytest.fixture
def tenant(engine):
    return make_tenant(engine)


# Created on 2026-01-10 at noon UTC: the first slot is 2026-01-11 02:30 CET = 01:30 UTC.
CREATED = utc(2026, 1, 10, 12)
SLOT = utc(2026, 1, 11, 1, 30)
NEXT = utc(2026, 1, 12, 1, 30)


async def test_a_due_slot_fires_once_as_a_system_run(engine, tenant):
    schedule = make_schedule(engine, tenant.id, now=CREATED)
    assert schedule.next_run_at == SLOT
    dispatcher = RecordingDispatcher()

    assert await fire_due_schedules(engine, dispatcher, SLOT - timedelta(seconds=1)) == []
    fired = await fire_due_schedules(engine, dispatcher, SLOT + timedelta(seconds=10))

    assert [(f.schedule_id, f.scheduled_for, f.error) for f in fired] == [(schedule.id, SLOT, None)]
    [run] = scheduled_runs(engine)
    assert fired[0].run_id == run.id and dispatcher.dispatched == [run.id]
    assert (run.tenant_id, run.user_id, run.initiator_name) == (tenant.id, None, "System")
    assert (run.status, run.outcome) == ("queued", "pending")
    assert run.context["inputs"] == {
        "schedule_id": schedule.id,
        "scheduled_for": "2026-01-11T01:30:00+00:00",
    }
    stored = load_schedule(engine, schedule.id)
    assert (stored.next_run_at, stored.last_scheduled_for, stored.last_run_id) == (
        NEXT,
        SLOT,
        run.id,
    )
    # a second tick in the same minute fires nothing
    assert await fire_due_schedules(engine, dispatcher, SLOT + timedelta(seconds=50)) == []
    assert len(scheduled_runs(engine)) == 1 and dispatcher.dispatched == [run.id]


def test_a_restarted_scheduler_in_the_same_minute_fires_nothing(engine, db_url, tenant):
    make_schedule(engine, tenant.id, now=CREATED)
    assert len(tick(engine, SLOT + timedelta(seconds=5))) == 1

    # "restart": a fresh engine (new connections), a fresh dispatcher, no in-memory state
    fresh = sa.create_engine(db_url)
    try:
        assert tick(fresh, SLOT + timedelta(seconds=30)) == []
        assert tick(fresh, SLOT + timedelta(seconds=5)) == []  # even the very same instant
    finally:
        fresh.dispose()
    assert len(scheduled_runs(engine)) == 1


def test_a_clock_that_jumps_back_fires_nothing_again(engine, tenant):
    schedule = make_schedule(engine, tenant.id, now=CREATED)
    assert len(tick(engine, SLOT + timedelta(minutes=1))) == 1

    for back in (timedelta(seconds=30), timedelta(hours=1), timedelta(days=2)):
        assert tick(engine, SLOT + timedelta(minutes=1) - back) == []
    assert tick(engine, SLOT) == []  # the slot itself, again
    assert len(scheduled_runs(engine)) == 1
    assert load_schedule(engine, schedule.id).next_run_at == NEXT
    # time goes forward again: the next slot fires as usual
    assert [f.scheduled_for for f in tick(engine, NEXT)] == [NEXT]


def test_missed_slots_coalesce_into_one_run_for_the_latest_slot(engine, tenant):
    schedule = make_schedule(engine, tenant.id, now=CREATED)
    # down from before the first slot until 2026-01-16 09:00 UTC: six slots missed
    now = utc(2026, 1, 16, 9)
    fired = tick(engine, now)

    assert [f.scheduled_for for f in fired] == [utc(2026, 1, 16, 1, 30)]
    assert slots_of(engine) == [(schedule.id, "2026-01-16T01:30:00+00:00")]
    stored = load_schedule(engine, schedule.id)
    assert stored.next_run_at == utc(2026, 1, 17, 1, 30)
    assert stored.last_scheduled_for == utc(2026, 1, 16, 1, 30)
    assert tick(engine, now + timedelta(hours=1)) == []


def test_missed_weekly_slots_coalesce_too(engine, tenant):
    schedule = make_schedule(
        engine,
        tenant.id,
        now=CREATED,
        frequency="weekly",
        weekdays=["mon", "thu"],
        time_of_day="22:00",
        timezone="America/New_York",
    )
    fired = tick(engine, utc(2026, 2, 20))  # Friday 2026-02-20 00:00 UTC = Thu 19:00 EST
    # the latest slot not after now: Monday 2026-02-16 22:00 EST = Tue 03:00 UTC
    assert [f.scheduled_for for f in fired] == [utc(2026, 2, 17, 3)]
    assert load_schedule(engine, schedule.id).next_run_at == utc(2026, 2, 20, 3)


def test_disabled_schedules_never_fire(engine, tenant):
    off = make_schedule(engine, tenant.id, now=CREATED, name="Switched off")
    with session_scope(engine) as session:
        set_enabled(session, tenant_id=tenant.id, schedule_id=off.id, enabled=False, now=CREATED)
    assert load_schedule(engine, off.id).next_run_at is None
    # disabled behind the service's back (next_run_at left set): still never fires
    raw = make_schedule(engine, tenant.id, now=CREATED, name="Disabled in SQL")
    with engine.begin() as conn:
        conn.execute(
            sa.update(BackupSchedule.__table__)
            .where(BackupSchedule.__table__.c.id == raw.id)
            .values(enabled=False)
        )

    for now in (SLOT, NEXT + timedelta(days=30)):
        assert tick(engine, now) == []
    assert scheduled_runs(engine) == []
    assert load_schedule(engine, raw.id).next_run_at == SLOT  # untouched


def test_re_enabling_fires_from_now_on_not_the_slots_missed_while_disabled(engine, tenant):
    schedule = make_schedule(engine, tenant.id, now=CREATED)
    with session_scope(engine) as session:
        set_enabled(session, tenant_id=tenant.id, schedule_id=schedule.id, enabled=False)
    back_on = utc(2026, 1, 20, 12)
    with session_scope(engine) as session:
        set_enabled(
            session, tenant_id=tenant.id, schedule_id=schedule.id, enabled=True, now=back_on
        )
    assert tick(engine, back_on) == []
    assert [f.scheduled_for for f in tick(engine, utc(2026, 1, 21, 2))] == [utc(2026, 1, 21, 1, 30)]


def test_a_deleted_schedule_never_fires(engine, tenant):
    gone = make_schedule(engine, tenant.id, now=CREATED, name="Gone")
    kept = make_schedule(engine, tenant.id, now=CREATED, name="Kept")
    with session_scope(engine) as session:
        delete_schedule(session, tenant_id=tenant.id, schedule_id=gone.id)
    assert [f.schedule_id for f in tick(engine, SLOT)] == [kept.id]
    assert slots_of(engine) == [(kept.id, "2026-01-11T01:30:00+00:00")]


def test_a_schedule_deleted_between_claim_and_start_is_refused_and_the_others_still_fire(
    engine, tenant, monkeypatch, caplog
):
    first = make_schedule(engine, tenant.id, now=CREATED, name="A")
    second = make_schedule(engine, tenant.id, now=CREATED, name="B")
    real_claim = backup_scheduler.claim_slot

    def claim_then_delete(eng, schedule_id, *args):
        won = real_claim(eng, schedule_id, *args)
        if won and schedule_id == first.id:
            with session_scope(eng) as session:
                delete_schedule(session, tenant_id=tenant.id, schedule_id=schedule_id)
        return won

    monkeypatch.setattr(backup_scheduler, "claim_slot", claim_then_delete)
    fired = {f.schedule_id: f for f in tick(engine, SLOT)}

    assert fired[first.id].run_id is None and fired[first.id].error == "NotFound"
    assert fired[second.id].run_id is not None and fired[second.id].error is None
    assert slots_of(engine) == [(second.id, "2026-01-11T01:30:00+00:00")]
    assert "not started: NotFound" in caplog.text


def test_a_dispatch_failure_fails_that_run_and_the_others_still_fire(engine, tenant):
    schedules = [make_schedule(engine, tenant.id, now=CREATED, name=f"S{i}") for i in range(3)]
    broken_id = schedules[1].id
    ok = RecordingDispatcher()
    broken = BrokenDispatcher()

    class OneBroken:
        def supports(self, run_type):
            return True

        async def dispatch(self, run):
            target = broken if run.context["inputs"]["schedule_id"] == broken_id else ok
            await target.dispatch(run)

    fired = {f.schedule_id: f for f in tick(engine, SLOT, OneBroken())}

    assert fired[broken_id].error == "DispatchFailed"
    runs = {r.context["inputs"]["schedule_id"]: r for r in scheduled_runs(engine)}
    assert len(runs) == 3
    failed = runs[broken_id]
    assert (failed.status, failed.outcome) == ("completed", "failed")
    assert failed.failures[0]["code"] == "queue.dispatch_failed"
    assert "hunter2" not in json.dumps(failed.failures)
    assert load_schedule(engine, broken_id).last_run_id == failed.id  # the list shows the failure
    assert sorted(ok.dispatched) == sorted(r.id for s, r in runs.items() if s != broken_id)
    assert tick(engine, SLOT + timedelta(seconds=30)) == []  # the failed slot is not retried


def test_nothing_is_claimed_while_no_task_can_execute_the_runs(engine, tenant):
    schedule = make_schedule(engine, tenant.id, now=CREATED)
    assert tick(engine, SLOT, RecordingDispatcher(supported={"inventory.sync"})) == []
    assert load_schedule(engine, schedule.id).next_run_at == SLOT  # still due
    assert len(tick(engine, SLOT + timedelta(minutes=1))) == 1


def test_many_due_schedules_fire_in_batches_one_run_each(engine):
    tenants = [make_tenant(engine) for _ in range(2)]
    ids = [make_schedule(engine, tenants[i % 2].id, now=CREATED, name=f"S{i}").id for i in range(7)]
    fired = tick(engine, SLOT, batch_size=3)

    assert sorted(f.schedule_id for f in fired) == sorted(ids)
    assert sorted(slots_of(engine)) == sorted((i, "2026-01-11T01:30:00+00:00") for i in ids)
    assert tick(engine, SLOT, batch_size=3) == []


# --- DST days --------------------------------------------------------------------------------


def _tick_every(engine, start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    fired, now = [], start
    while now <= end:
        fired += [f.scheduled_for for f in tick(engine, now)]
        now += step
    return fired


@pytest.mark.parametrize(
    ("zone", "at", "created", "until", "expected"),
    [
        # Europe/Berlin spring forward 2026-03-29: 02:30 does not exist that day
        (
            "Europe/Berlin",
            "02:30",
            utc(2026, 3, 27, 12),
            utc(2026, 3, 30, 12),
            [utc(2026, 3, 28, 1, 30), utc(2026, 3, 30, 0, 30)],
        ),
        # Europe/Berlin fall back 2026-10-25: 02:30 happens twice, fires once (CEST)
        (
            "Europe/Berlin",
            "02:30",
            utc(2026, 10, 23, 12),
            utc(2026, 10, 26, 12),
            [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
        ),
        # America/New_York spring forward 2026-03-08: 02:30 does not exist that day
        (
            "America/New_York",
            "02:30",
            utc(2026, 3, 6, 12),
            utc(2026, 3, 9, 12),
            [utc(2026, 3, 7, 7, 30), utc(2026, 3, 9, 6, 30)],
        ),
        # America/New_York fall back 2026-11-01: 01:30 happens twice, fires once (EDT)
        (
            "America/New_York",
            "01:30",
            utc(2026, 10, 30, 12),
            utc(2026, 11, 2, 12),
            [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)],
        ),
    ],
)
def test_dst_days_fire_the_right_slots_once(engine, tenant, zone, at, created, until, expected):
    make_schedule(engine, tenant.id, now=created, time_of_day=at, timezone=zone)
    # a scheduler ticking every 15 minutes (the repeated hour's second occurrence included)
    assert _tick_every(engine, created, until, timedelta(minutes=15)) == expected
    assert [s for _, s in slots_of(engine)] == [e.isoformat() for e in expected]


def test_weekly_sunday_schedule_on_both_dst_sundays(engine, tenant):
    make_schedule(
        engine, tenant.id, now=utc(2026, 3, 20), frequency="weekly", weekdays=["sun"]
    )  # 02:30 Europe/Berlin
    spring = _tick_every(engine, utc(2026, 3, 20), utc(2026, 4, 6), timedelta(hours=1))
    assert spring == [utc(2026, 3, 22, 1, 30), utc(2026, 4, 5, 0, 30)]  # 03-29 skipped


# --- two real scheduler processes on PostgreSQL --------------------------------------------------

RACER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from datetime import datetime

    import sqlalchemy as sa

    from opsapp.features.backups.scheduler import fire_due_schedules


    class Dispatcher:
        def supports(self, run_type):
            return True

        async def dispatch(self, run):
            pass


    async def main(url, start_at, nows, repeats):
        engine = sa.create_engine(url, pool_size=2)
        dispatcher, fired = Dispatcher(), []
        while time.time() < start_at:  # both processes start racing at the same moment
            time.sleep(0.001)
        for now in nows:
            for _ in range(repeats):
                for f in await fire_due_schedules(engine, dispatcher, datetime.fromisoformat(now)):
                    fired.append([f.schedule_id, f.scheduled_for.isoformat(), f.run_id, f.error])
        print(json.dumps(fired))


    asyncio.run(main(sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])))
    """
)


@pytest.mark.postgres
@pytest.mark.slow
def test_two_scheduler_processes_on_postgresql_fire_each_slot_once(pg_engine, pg_url, tmp_path):
    import time

    tenants = [make_tenant(pg_engine) for _ in range(3)]
    ids = [
        make_schedule(pg_engine, tenants[i % 3].id, now=CREATED, name=f"Race {i}").id
        for i in range(60)
    ]
    # three ticks per day for three days, each repeated: day 1 and 3 regular, day 2 after a
    # "restart" in the same minute; every process sees every tick
    nows = [
        (SLOT + timedelta(days=d, seconds=s)).isoformat() for d in range(3) for s in (0, 20, 40)
    ]
    script = tmp_path / "racer.py"
    script.write_text(RACER)
    start_at = time.time() + 3  # both interpreters are up by then
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), pg_url, str(start_at), json.dumps(nows), "2"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))

    claimed = [tuple(f[:2]) for out in outputs for f in out]
    expected = {(i, (SLOT + timedelta(days=d)).isoformat()) for i in ids for d in range(3)}
    assert len(claimed) == len(set(claimed)) == len(expected)  # no slot claimed twice
    assert set(claimed) == expected
    assert all(f[2] is not None and f[3] is None for out in outputs for f in out)
    runs = slots_of(pg_engine)
    assert len(runs) == len(set(runs)) == len(expected)
    assert set(runs) == expected


# --- wiring: scaled mode (maintenance task in a worker) and embedded mode ------------------------


@pytest.fixture
def fake_body():
    """A `backup_schedule.scheduled` body that only records which runs it executed."""
    from opsapp.worker.loader import load_task_modules

    load_task_modules()  # the real bodies first: the embedded loop imports them too
    executed: list[int] = []

    async def body(ctx):
        executed.append(ctx.run_id)
        return RunResult(counts={"total": 0})

    with registry_snapshot():
        register_body(RUN_TYPE, body, replace=True)
        yield executed


async def test_the_scaled_mode_maintenance_task_fires_due_schedules_in_the_worker(
    engine, tenant, fake_body
):
    from opsapp.worker.broker import build_broker
    from opsapp.worker.maintenance import BACKUP_SCHEDULES_CRON, BACKUP_SCHEDULES_TASK

    schedule = make_schedule(engine, tenant.id, now=datetime.now(UTC) - timedelta(days=3))
    broker = build_broker("memory", engine=engine)
    task = broker.find_task(BACKUP_SCHEDULES_TASK)
    assert task is not None and task.labels["schedule"] == [
        {"cron": BACKUP_SCHEDULES_CRON, "schedule_id": BACKUP_SCHEDULES_TASK}
    ]
    await broker.startup()
    try:
        first = await (await task.kiq()).wait_result(timeout=30)
        await broker.wait_all()
        second = await (await task.kiq()).wait_result(timeout=30)  # the next minute's firing
        await broker.wait_all()
    finally:
        await broker.shutdown()

    assert (first.return_value, second.return_value) == (1, 0)
    [run] = scheduled_runs(engine)
    assert fake_body == [run.id]
    assert (run.status, run.outcome, run.initiator_name) == ("completed", "succeeded", "System")
    assert load_schedule(engine, schedule.id).last_run_id == run.id


async def test_the_embedded_worker_fires_due_schedules_once(engine, tenant, fake_body, monkeypatch):
    from opsapp.worker import embedded

    schedule = make_schedule(engine, tenant.id, now=datetime.now(UTC) - timedelta(days=3))
    ticks = 0
    real_job = embedded.fire_backup_schedules_job

    async def counting_job(**kwargs):
        nonlocal ticks
        ticks += 1
        return await real_job(**kwargs)

    monkeypatch.setattr(embedded, "fire_backup_schedules_job", counting_job)
    async with embedded.embedded_worker(engine=engine, schedule_interval=0.01) as broker:
        for _ in range(2000):  # a bound, not a timing assertion: several loop turns
            if ticks >= 5 and fake_body:
                break
            await asyncio.sleep(0.01)
        await broker.wait_all()

    assert ticks >= 5
    [run] = scheduled_runs(engine)
    assert fake_body == [run.id] and run.status == "completed"
    assert load_schedule(engine, schedule.id).last_run_id == run.id


# --- the real thing: `taskiq scheduler` + `taskiq worker` on Redis and PostgreSQL ----------------

FAKE_BODIES = textwrap.dedent(
    """
    from opsapp.operations.results import RunResult
    from opsapp.worker.registry import register_body


    async def scheduled_backup(ctx):
        return RunResult(counts={"total": 0})


    register_body("backup_schedule.scheduled", scheduled_backup, replace=True)
    """
)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_a_real_scheduler_and_worker_fire_a_due_schedule_once(pg_engine, pg_url, tmp_path):
    import uuid

    import redis

    from tests.integration.worker.worker_harness import (
        GROUP,
        REDIS_URL,
        SCHEDULER_ARGS,
        WorkerProcess,
        wait_until,
    )

    tenant = make_tenant(pg_engine)
    schedule = make_schedule(pg_engine, tenant.id, now=datetime.now(UTC) - timedelta(days=3))
    (tmp_path / "sched_fake_bodies.py").write_text(FAKE_BODIES)
    queue = f"opsapp-test:{uuid.uuid4().hex[:12]}"
    env = {"PYTHONPATH": f"{ROOT}:{tmp_path}", "OPSAPP_EXTRA_TASK_MODULES": "sched_fake_bodies"}
    processes = [
        WorkerProcess(
            database_url=pg_url, queue=queue, log_path=tmp_path / "worker.log", extra_env=env
        ),
        WorkerProcess(
            database_url=pg_url,
            queue=queue,
            log_path=tmp_path / "scheduler.log",
            extra_env=env,
            args=SCHEDULER_ARGS,
            ready="Startup completed",
        ),
    ]
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for process in processes:
            process.start()
        try:
            runs = wait_until(
                lambda: [r for r in scheduled_runs(pg_engine) if r.status == "completed"],
                60,
                what="the scheduled run to complete",
            )
        except AssertionError as exc:
            logs = "\n".join(p.log_tail() for p in processes)
            raise AssertionError(f"{exc}\n{logs}") from None
    finally:
        for process in processes:
            process.kill()
        client.delete(queue, f"autoclaim:{GROUP}:{queue}")
        client.close()

    [run] = scheduled_runs(pg_engine)
    assert runs[0].id == run.id
    assert (run.outcome, run.initiator_name, run.user_id) == ("succeeded", "System", None)
    stored = load_schedule(pg_engine, schedule.id)
    assert run.context["inputs"]["scheduled_for"] == stored.last_scheduled_for.isoformat()
    assert stored.last_run_id == run.id and stored.next_run_at > datetime.now(UTC)
