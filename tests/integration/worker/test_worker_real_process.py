"""Real `taskiq worker` processes on Redis streams and the test PostgreSQL database: runs go
queued → running → completed, a redelivered message is a no-op, and a worker killed mid-run
leaves a run that is reaped as failed / worker.lost so the identity can start again."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis
import sqlalchemy as sa
from taskiq.kicker import AsyncKicker

from opsapp.models import OperationRun
from opsapp.worker.broker import build_broker
from opsapp.worker.dispatch import TaskiqDispatcher
from opsapp.worker.maintenance import REAP_TASK
from tests.factories import make_tenant, make_user
from tests.integration.worker.worker_harness import (
    GROUP,
    REDIS_URL,
    SCHEDULER_ARGS,
    WorkerProcess,
    entries_read,
    notification_titles,
    pending,
    start_as,
    wait_until,
)
from tests.integration.worker.worker_test_bodies import HOLD_FILE_ENV, ITEMS, SLOW

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]
_T = OperationRun.__table__


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    yield client
    client.close()


@pytest.fixture
def queue(redis_client):
    name = f"opsapp-test:{uuid.uuid4().hex[:12]}"
    yield name
    redis_client.delete(name, f"autoclaim:{GROUP}:{name}")


@pytest.fixture
async def dispatcher(queue):
    broker = build_broker("redis", redis_url=REDIS_URL, queue_name=queue)
    yield TaskiqDispatcher(broker)
    await broker.shutdown()


@pytest.fixture
def spawn(pg_url, queue, tmp_path):
    """spawn(**extra_env) → a started WorkerProcess; all are SIGKILLed at teardown."""
    started: list[WorkerProcess] = []

    def _spawn(**extra_env: str) -> WorkerProcess:
        worker = WorkerProcess(
            database_url=pg_url,
            queue=queue,
            log_path=tmp_path / f"worker-{len(started)}.log",
            extra_env={k: str(v) for k, v in extra_env.items()},
        )
        started.append(worker)
        return worker.start()

    yield _spawn
    for worker in started:
        worker.kill()


@pytest.fixture
def people(pg_engine):
    tenant = make_tenant(pg_engine)
    return tenant, make_user(pg_engine, tenant=tenant)


def _row(engine, run_id: int) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(_T).where(_T.c.id == run_id)).mappings().one())


def _completed(engine, run_id: int) -> dict | None:
    row = _row(engine, run_id)
    return row if row["status"] == "completed" else None


_notification_titles = notification_titles
_start = start_as


async def test_a_real_worker_completes_runs_and_ignores_a_redelivered_message(
    pg_engine, dispatcher, spawn, people, redis_client, queue
):
    worker = spawn()

    ok = await _start(pg_engine, dispatcher, people, ITEMS, key=1)
    partial = await _start(pg_engine, dispatcher, people, ITEMS, key=2, partial=True)
    done = {
        r.run.id: wait_until(
            lambda r=r: _completed(pg_engine, r.run.id), 15, what=f"run {r.run.id}"
        )
        for r in (ok, partial)
    }

    first, second = done[ok.run.id], done[partial.run.id]
    assert (first["outcome"], first["attempts"]) == ("succeeded", 1), worker.log_tail()
    assert first["summary_counts"] == {"total": 3, "processed": 3, "created": 3}
    assert (
        first["started_at"] >= first["created_at"] and first["completed_at"] >= first["started_at"]
    )
    assert second["outcome"] == "partially_succeeded"
    assert second["summary_counts"] == {"total": 3, "processed": 3, "created": 2, "failed": 1}
    assert [f["code"] for f in second["failures"]] == ["graph.forbidden"]
    titles = _notification_titles(pg_engine, people[1].id)
    assert titles.count(f"Test {ITEMS} succeeded") == 1
    assert titles.count(f"Test {ITEMS} partially succeeded") == 1

    # The same message again (what Redis does after a worker died before acknowledging it).
    read_before = entries_read(redis_client, queue)
    await (
        AsyncKicker(f"opsapp.op.{ITEMS}", dispatcher.broker, {})
        .with_labels(operation_run_id=ok.run.id)
        .kiq(ok.run.id)
    )
    wait_until(
        lambda: (
            entries_read(redis_client, queue) > read_before and pending(redis_client, queue) == 0
        ),
        10,
        what="the redelivery to be consumed",
    )
    assert _row(pg_engine, ok.run.id) == first
    assert _notification_titles(pg_engine, people[1].id) == titles
    assert "already completed; redelivered message is a no-op" in worker.log_tail(20000)


async def test_twenty_runs_in_a_row_each_complete_on_a_real_worker(
    pg_engine, dispatcher, spawn, people
):
    # How fast the worker picks runs up is measured in bench/ (start_latency), not here.
    spawn()
    for key in range(1, 21):
        result = await _start(pg_engine, dispatcher, people, ITEMS, key=key)
        row = wait_until(lambda r=result: _completed(pg_engine, r.run.id), 30, interval=0.01)
        assert row["outcome"] == "succeeded"
        assert row["started_at"] <= row["completed_at"] and row["attempts"] == 1


async def test_a_killed_worker_leaves_a_run_that_is_reaped_and_the_identity_starts_again(
    pg_engine, dispatcher, spawn, people, redis_client, queue, tmp_path
):
    hold = tmp_path / "hold"
    hold.touch()
    timing = {
        HOLD_FILE_ENV: hold,
        "OPSAPP_HEARTBEAT_SECONDS": 0.2,
        "OPSAPP_LOST_AFTER_SECONDS": 1.0,
    }
    doomed = spawn(**timing)

    first = await _start(pg_engine, dispatcher, people, SLOW, key=1)
    beats = set()
    wait_until(
        lambda: (
            beats.add(_row(pg_engine, first.run.id)["heartbeat_at"]) or len(beats - {None}) >= 3
        ),
        10,
        what="three heartbeats of the running run",
    )
    assert _row(pg_engine, first.run.id)["status"] == "running"

    doomed.kill()  # SIGKILL mid-run: no middleware, no cleanup, the message stays unacknowledged
    time.sleep(1.3)  # > OPSAPP_LOST_AFTER_SECONDS: the heartbeat is now stale
    orphan = _row(pg_engine, first.run.id)
    assert orphan["status"] == "running" and pending(redis_client, queue) == 1
    blocked = await _start(pg_engine, dispatcher, people, SLOW, key=1)
    assert (blocked.created, blocked.run.id) == (False, first.run.id)  # still holds the identity

    # A new worker reaps at start-up, then (idle timeout 1 s) picks the orphaned message up again:
    # the run is completed, so that redelivery is a no-op and gets acknowledged.
    spawn(**timing, OPSAPP_REDIS_IDLE_TIMEOUT_SECONDS=1)
    reaped = wait_until(lambda: _completed(pg_engine, first.run.id), 10, what="the reaper")
    assert reaped["outcome"] == "failed" and reaped["attempts"] == 1
    assert [f["code"] for f in reaped["failures"]] == ["worker.lost"]
    assert _notification_titles(pg_engine, people[1].id)[-1] == f"Test {SLOW} failed"
    wait_until(lambda: pending(redis_client, queue) == 0, 10, what="the orphan to be acknowledged")
    assert _row(pg_engine, first.run.id) == reaped

    hold.unlink()
    again = await _start(pg_engine, dispatcher, people, SLOW, key=1)
    assert again.created and again.run.id != first.run.id
    final = wait_until(lambda: _completed(pg_engine, again.run.id), 15, what="the new run")
    assert final["outcome"] == "succeeded"
    assert final["started_at"] - reaped["completed_at"] < timedelta(seconds=15)


def _sent_tasks(client, queue: str) -> list[str]:
    return [json.loads(fields[b"data"])["task_name"] for _id, fields in client.xrange(queue)]


async def test_two_real_schedulers_send_the_reaper_once_in_a_minute(
    pg_engine, pg_url, queue, tmp_path, redis_client
):
    second = datetime.now(UTC).second
    if second > 50:  # both start-ups (~2 s each) must fall inside one minute
        time.sleep(60.5 - second)
    schedulers = [
        WorkerProcess(
            database_url=pg_url,
            queue=queue,
            log_path=tmp_path / f"scheduler-{i}.log",
            args=SCHEDULER_ARGS,
            ready="Startup completed",
        )
        for i in range(2)
    ]
    try:
        schedulers[0].start()  # fires the every-minute reaper at its first tick
        wait_until(lambda: REAP_TASK in _sent_tasks(redis_client, queue), 5, what="a firing")
        schedulers[1].start()  # a second scheduler (or a restart) within the same minute
        wait_until(
            lambda: "already fired this minute" in schedulers[1].log_tail(),
            5,
            what="the second scheduler to stand down",
        )
        assert _sent_tasks(redis_client, queue).count(REAP_TASK) == 1
    finally:
        for scheduler in schedulers:
            scheduler.kill()
    with pg_engine.connect() as conn:
        names = list(conn.execute(sa.text("SELECT name FROM job_locks")).scalars())
    assert [n for n in names if n.startswith(f"schedule:{REAP_TASK}:")] != []
