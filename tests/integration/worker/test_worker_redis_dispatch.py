"""Dispatch against a real (or a dead, or a stalled) Redis: a failed dispatch completes the run
as failed / queue.dispatch_failed at once and fast; two schedulers send a job once."""

from __future__ import annotations

import asyncio
import socket
import statistics
import threading
import time
import uuid

import pytest
import redis
import sqlalchemy as sa
from taskiq import ScheduledTask

from opsapp.models import OperationRun
from opsapp.models.types import utcnow
from opsapp.operations.service import DispatchFailed, start_operation
from opsapp.settings import get_settings
from opsapp.worker.broker import build_broker
from opsapp.worker.dispatch import TaskiqDispatcher
from opsapp.worker.embedded import get_dispatcher
from opsapp.worker.maintenance import REAP_CRON, REAP_TASK
from opsapp.worker.scheduler import build_scheduler
from tests.factories import make_tenant, make_user
from tests.integration.worker.worker_harness import GROUP, REDIS_URL
from tests.integration.worker.worker_test_bodies import ITEMS

pytestmark = [pytest.mark.redis, pytest.mark.postgres]
_T = OperationRun.__table__


@pytest.fixture
def queue():
    name = f"opsapp-test:{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(name, f"autoclaim:{GROUP}:{name}")
    client.close()


@pytest.fixture
def people(pg_engine):
    tenant = make_tenant(pg_engine)
    return tenant, make_user(pg_engine, tenant=tenant)


@pytest.fixture
def stalled_port():
    """A TCP server that accepts connections and never answers (a hung Redis)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    server.close()


def _use_redis(monkeypatch, url: str, **extra: str) -> None:
    monkeypatch.setenv("OPSAPP_BROKER", "redis")
    monkeypatch.setenv("REDIS_URL", url)
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()


async def _failed_start(engine, people):
    tenant, user = people
    began = time.perf_counter()
    with pytest.raises(DispatchFailed) as caught:
        await start_operation(
            run_type=ITEMS,
            tenant_id=tenant.id,
            user_id=user.id,
            inputs={"key": 1},
            dispatcher=get_dispatcher(),
            engine=engine,
        )
    return caught.value, time.perf_counter() - began


def _assert_failed_and_nothing_left_queued(engine, run_id: int) -> None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(_T).where(_T.c.id == run_id)).mappings().one()
        active = conn.execute(
            sa.select(sa.func.count()).select_from(_T).where(_T.c.status.in_(("queued", "running")))
        ).scalar()
    assert (row["status"], row["outcome"]) == ("completed", "failed")
    assert [f["code"] for f in row["failures"]] == ["queue.dispatch_failed"]
    assert active == 0


async def test_redis_refusing_connections_fails_the_dispatch(pg_engine, people, monkeypatch):
    _use_redis(monkeypatch, "redis://127.0.0.1:1/0")

    error, _elapsed = await _failed_start(pg_engine, people)

    _assert_failed_and_nothing_left_queued(pg_engine, error.run.id)
    assert "could not be queued" in str(error)
    with pg_engine.connect() as conn:
        level = conn.execute(sa.text("SELECT level FROM notifications ORDER BY id DESC")).scalar()
    assert level == "error"  # the initiator hears about it; no "queued" notification
    dispatcher = get_dispatcher()
    for run_id in range(1, 4):  # every later dispatch fails too (no half-open client left)
        with pytest.raises(Exception):  # noqa: B017 - SendTaskError or the connection error
            await dispatcher.dispatch(OperationRun(id=run_id, type=ITEMS))
    # How fast a refused dispatch fails is a benchmark figure (bench/start_latency), not a test.


async def test_a_stalled_redis_fails_the_dispatch_within_the_timeout(
    pg_engine, people, monkeypatch, stalled_port
):
    _use_redis(
        monkeypatch, f"redis://127.0.0.1:{stalled_port}/0", OPSAPP_DISPATCH_TIMEOUT_SECONDS="0.5"
    )

    error, elapsed = await _failed_start(pg_engine, people)

    _assert_failed_and_nothing_left_queued(pg_engine, error.run.id)
    # It waited for the configured 0.5 s, not redis-py's 5 s socket default (a wide margin:
    # this is about which timeout applies, not about speed).
    assert 0.4 < elapsed < 4.0, elapsed


async def test_dispatch_puts_one_message_per_run_on_the_stream(queue):
    broker = build_broker("redis", redis_url=REDIS_URL, queue_name=queue)
    dispatcher = TaskiqDispatcher(broker)
    timings = []
    for run_id in range(1, 201):
        began = time.perf_counter()
        await dispatcher.dispatch(OperationRun(id=run_id, type=ITEMS))
        timings.append(time.perf_counter() - began)
    await broker.shutdown()

    client = redis.Redis.from_url(REDIS_URL)
    assert client.xlen(queue) == 200
    assert [g["name"] for g in client.xinfo_groups(queue)] == [GROUP.encode()]
    client.close()
    print(
        f"\ndispatch (XADD) p50 {statistics.median(timings) * 1000:.2f} ms, "
        f"max {max(timings) * 1000:.2f} ms over 200"
    )


async def test_two_schedulers_firing_in_the_same_minute_send_the_job_once(
    pg_engine, queue, monkeypatch
):
    minute = utcnow().replace(second=1, microsecond=0)
    monkeypatch.setattr("opsapp.worker.scheduler.utcnow", lambda: minute)  # no minute boundary
    brokers = [
        build_broker("redis", redis_url=REDIS_URL, queue_name=queue, engine=pg_engine)
        for _ in range(2)
    ]
    schedulers = [build_scheduler(b, engine=pg_engine) for b in brokers]
    task = ScheduledTask(
        task_name=REAP_TASK, labels={}, args=[], kwargs={}, cron=REAP_CRON, schedule_id=REAP_TASK
    )

    await asyncio.gather(*(s.on_ready(s.sources[0], task) for s in schedulers))
    await asyncio.gather(*(s.on_ready(s.sources[0], task) for s in schedulers))  # a restart
    for broker in brokers:
        await broker.shutdown()

    client = redis.Redis.from_url(REDIS_URL)
    assert client.xlen(queue) == 1
    client.close()
