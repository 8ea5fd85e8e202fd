"""Dispatching runs and the embedded (in-process) worker, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from taskiq import InMemoryBroker, TaskiqMiddleware

from opsapp.models import OperationRun
from opsapp.models.types import utcnow
from opsapp.operations.results import RunResult
from opsapp.operations.service import DispatchFailed, OperationUnavailable, start_operation
from opsapp.worker import embedded
from opsapp.worker._compat import RedisStreamBroker
from opsapp.worker.dispatch import TaskiqDispatcher
from opsapp.worker.embedded import WorkerNotRunning, embedded_worker, get_dispatcher
from opsapp.worker.registry import NoTaskForRunType, RunContext, operation_task
from tests.unit.worker.worker_helpers import UNIT_TYPE, UNIT_TYPE_2, load_run

_T = OperationRun.__table__


class _Recorder(TaskiqMiddleware):
    def __init__(self) -> None:
        super().__init__()
        self.sent = []

    def pre_send(self, message):
        self.sent.append(message)
        return message


async def _ok(ctx: RunContext) -> RunResult:
    return RunResult(counts={"total": 1, "processed": 1})


async def test_dispatch_kicks_the_type_task_with_the_run_id_as_label_and_argument(engine, broker):
    operation_task(UNIT_TYPE)(_ok)
    recorder = _Recorder()
    broker.add_middlewares(recorder)

    await TaskiqDispatcher(broker).dispatch(OperationRun(id=41, type=UNIT_TYPE))
    await broker.wait_all()

    [message] = recorder.sent
    assert message.task_name == f"opsapp.op.{UNIT_TYPE}"
    assert int(message.labels["operation_run_id"]) == 41
    assert (message.args, message.kwargs) == ([41], {})


async def test_a_type_without_a_body_is_refused_before_anything_is_created(engine, broker, people):
    operation_task(UNIT_TYPE)(_ok)
    dispatcher = TaskiqDispatcher(broker)
    tenant, user = people

    assert dispatcher.supports(UNIT_TYPE) and not dispatcher.supports(UNIT_TYPE_2)
    with pytest.raises(OperationUnavailable):
        await start_operation(
            run_type=UNIT_TYPE_2,
            tenant_id=tenant.id,
            user_id=user.id,
            inputs={"key": 1},
            dispatcher=dispatcher,
            engine=engine,
        )
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(_T)).scalar() == 0
    with pytest.raises(NoTaskForRunType, match=UNIT_TYPE_2):  # and dispatch itself refuses it
        await dispatcher.dispatch(OperationRun(id=1, type=UNIT_TYPE_2))


async def test_a_refusing_broker_leaves_a_failed_run_not_a_queued_one(engine, bodies, people):
    operation_task(UNIT_TYPE)(_ok)

    class Refusing(InMemoryBroker):
        async def kick(self, message):
            raise ConnectionError("Error 111 connecting to redis://:pw@127.0.0.1:1")

    tenant, user = people
    with pytest.raises(DispatchFailed) as caught:
        await start_operation(
            run_type=UNIT_TYPE,
            tenant_id=tenant.id,
            user_id=user.id,
            inputs={"key": 1},
            dispatcher=TaskiqDispatcher(Refusing()),
            engine=engine,
        )

    run = load_run(engine, caught.value.run.id)
    assert (run.status, run.outcome) == ("completed", "failed")
    assert run.failures[0]["code"] == "queue.dispatch_failed"
    assert ":pw@" not in str(run.failures)


async def test_get_dispatcher_follows_the_configured_mode(engine, bodies, monkeypatch):
    from opsapp.settings import get_settings

    with pytest.raises(WorkerNotRunning):
        get_dispatcher()  # memory mode, nothing running here
    async with embedded_worker(engine=engine, maintenance=False) as broker:
        assert get_dispatcher().broker is broker
    with pytest.raises(WorkerNotRunning):
        get_dispatcher()

    monkeypatch.setenv("OPSAPP_BROKER", "redis")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("OPSAPP_REDIS_QUEUE", "opsapp-test:q")
    get_settings.cache_clear()
    client = get_dispatcher()
    assert isinstance(client.broker, RedisStreamBroker)
    assert client.broker.queue_name == "opsapp-test:q"
    assert get_dispatcher() is client  # one client per event loop


def _day_lease(engine) -> bool:
    with engine.connect() as conn:
        names = list(conn.execute(sa.text("SELECT name FROM job_locks")).scalars())
    return any(name.startswith("schedule:embedded.prune:") for name in names)


async def test_embedded_worker_runs_operations_and_reaps_lost_runs_at_start(
    engine, bodies, start, people
):
    operation_task(UNIT_TYPE)(_ok)
    tenant, user = people
    stale = utcnow() - timedelta(hours=1)
    with engine.begin() as conn:
        lost = conn.execute(
            sa.insert(_T)
            .values(
                tenant_id=tenant.id,
                initiator_name="x",
                type=UNIT_TYPE,
                status="running",
                outcome="pending",
                run_identity_hash=uuid.uuid4().hex,
                summary_counts={},
                failures=[],
                context={},
                created_at=stale,
                updated_at=stale,
                started_at=stale,
                heartbeat_at=stale,
                attempts=1,
            )
            .returning(_T.c.id)
        ).scalar_one()

    async with embedded_worker(engine=engine) as broker:
        result = await start_operation(
            run_type=UNIT_TYPE,
            tenant_id=tenant.id,
            user_id=user.id,
            inputs={"key": 3},
            dispatcher=get_dispatcher(),
            engine=engine,
        )
        await broker.wait_all()
        for _ in range(250):  # the maintenance loop runs in the background: reap, then prune
            if load_run(engine, lost).status == "completed" and _day_lease(engine):
                break
            await asyncio.sleep(0.02)

    assert load_run(engine, result.run.id).outcome == "succeeded"
    reaped = load_run(engine, lost)
    assert (reaped.outcome, reaped.failures[0]["code"]) == ("failed", "worker.lost")
    assert _day_lease(engine)  # the daily prune ran and left its day lease


async def test_stopping_the_embedded_worker_fails_runs_it_had_to_abandon(engine, bodies, people):
    started = asyncio.Event()

    @operation_task(UNIT_TYPE)
    async def forever(ctx: RunContext) -> RunResult:
        started.set()
        await asyncio.sleep(3600)
        return RunResult()

    tenant, user = people
    async with embedded_worker(engine=engine, maintenance=False, drain_timeout=0.1):
        result = await start_operation(
            run_type=UNIT_TYPE,
            tenant_id=tenant.id,
            user_id=user.id,
            inputs={"key": 1},
            dispatcher=get_dispatcher(),
            engine=engine,
        )
        await asyncio.wait_for(started.wait(), 5)

    run = load_run(engine, result.run.id)
    assert (run.status, run.outcome) == ("completed", "failed")
    assert run.failures[0]["code"] == "worker.lost"
    assert embedded.current_embedded_broker() is None


async def test_app_lifespan_runs_the_embedded_worker_only_in_memory_mode(monkeypatch, tmp_path):
    from opsapp.settings import get_settings
    from opsapp.worker.embedded import app_lifespan

    db = tmp_path / "lifespan.db"
    from opsapp.migrate import upgrade

    upgrade(f"sqlite:///{db}")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    get_settings.cache_clear()
    async with app_lifespan():
        assert embedded.current_embedded_broker() is not None
    assert embedded.current_embedded_broker() is None

    monkeypatch.setenv("OPSAPP_BROKER", "redis")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    async with app_lifespan():
        assert embedded.current_embedded_broker() is None
        assert isinstance(get_dispatcher().broker, RedisStreamBroker)
    assert asyncio.get_running_loop() not in embedded._clients
