"""Fixtures of the fault suite (PostgreSQL only): a private redis-server per test, a dispatcher
on it, worker processes started on demand, the executions table of the fault bodies, and a
tenant + user to start runs as; for real syncs, the demo Graph as its own HTTP process and a
demo tenant (Contoso) + operator to start them as."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
import sqlalchemy as sa

from opsapp.graph.demo import CONTOSO
from opsapp.models import ProviderKind
from opsapp.settings import get_settings
from opsapp.worker.broker import build_broker
from opsapp.worker.dispatch import TaskiqDispatcher
from opsapp.worker.loader import load_task_modules
from tests.factories import make_tenant, make_user
from tests.faults import fault_bodies  # noqa: F401 - registers the fault run types here too
from tests.faults.fault_bodies import CREATE_TABLE, SLOW, TABLE
from tests.faults.harness import (
    SCHEDULER_ARGS,
    SCHEDULER_READY,
    DemoGraphServer,
    RedisServer,
    WorkerProcess,
)
from tests.integration.worker.worker_harness import start_as

# Short thresholds so the suite runs in a few minutes. The run-creating side (this process)
# reads OPSAPP_REDELIVER_AFTER_SECONDS too: it stamps a new run's first re-send time.
HEARTBEAT = 0.5
LOST_AFTER = 3.0
REDELIVER_AFTER = 5.0
WORKER_ENV = {
    "OPSAPP_HEARTBEAT_SECONDS": HEARTBEAT,
    "OPSAPP_LOST_AFTER_SECONDS": LOST_AFTER,
    "OPSAPP_REDELIVER_AFTER_SECONDS": REDELIVER_AFTER,
    "OPSAPP_PROGRESS_INTERVAL_SECONDS": 0.2,
    "OPSAPP_WORKER_SHUTDOWN_GRACE_SECONDS": 5,
    "OPSAPP_REDIS_OUTAGE_GRACE_SECONDS": 30,
    "OPSAPP_REDIS_CONNECT_TIMEOUT_SECONDS": 1,
}


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(autouse=True)
def _fault_settings(monkeypatch):
    for key, value in WORKER_ENV.items():
        monkeypatch.setenv(key, str(value))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def fault_db(pg_engine):
    """The migrated test database, emptied, with an empty executions table."""
    with pg_engine.begin() as conn:
        conn.execute(sa.text(CREATE_TABLE))
        conn.execute(sa.text(f"TRUNCATE {TABLE} RESTART IDENTITY"))
    return pg_engine


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.kill()


@pytest.fixture
def queue():
    return f"opsapp-fault:{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def dispatcher(redis_server, queue):
    broker = build_broker("redis", redis_url=redis_server.url, queue_name=queue, socket_timeout=2.0)
    yield TaskiqDispatcher(broker)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(broker.shutdown(), 5)


@pytest.fixture
def people(fault_db):
    tenant = make_tenant(fault_db)
    return tenant, make_user(fault_db, tenant=tenant)


@pytest.fixture
def demo_graph(request, tmp_path):
    """The demo Graph as a real HTTP process on a free loopback port (workers get its URL as
    OPSAPP_DEMO_GRAPH_URL); SIGKILLed at teardown, its log printed when the test failed."""
    server = DemoGraphServer(tmp_path / "demo-graph").start()
    yield server
    server.kill()
    if getattr(getattr(request.node, "rep_call", None), "failed", False):
        print(f"\n----- demo-graph.log -----\n{server.log_tail(3000)}")


@pytest.fixture
def demo_people(fault_db):
    """The demo tenant Contoso (provider demo: its Graph is the demo server's `contoso`) and an
    operator who may start syncs on it."""
    tenant = make_tenant(
        fault_db,
        slug=CONTOSO.slug,
        name=CONTOSO.name,
        entra_tenant_id=CONTOSO.entra_tenant_id,
        provider=ProviderKind.demo,
    )
    return tenant, make_user(fault_db, tenant=tenant)


@pytest.fixture
def start_sync(fault_db, dispatcher, demo_people):
    """await start_sync(run_type, **inputs) → the StartResult of a sync (policy.sync, …) started
    by Contoso's operator, as the app does: through the suite's Redis dispatcher."""
    load_task_modules()  # the start surface only offers types it knows a body for
    tenant, user = demo_people

    async def _start(run_type: str, **inputs):
        return await start_as(fault_db, dispatcher, (tenant, user), run_type, **inputs)

    return _start


@pytest.fixture
def start_run(fault_db, dispatcher, people):
    """await start_run(key, ms) → the StartResult of a user-started `test.fault_slow` run."""

    async def _start(key: int, ms: int = 1000):
        return await start_as(fault_db, dispatcher, people, SLOW, key=key, ms=ms)

    return _start


@pytest.fixture
def spawn(request, pg_url, redis_server, queue, tmp_path):
    """spawn(name, database_url=None, ready=True, **env) → a started runner worker (or, with
    scheduler=True, a taskiq scheduler). Every process is SIGKILLed (its group) at teardown;
    their logs are printed when the test failed."""
    started: list[WorkerProcess] = []

    def _spawn(
        name: str,
        *,
        database_url: str | None = None,
        scheduler: bool = False,
        **extra_env,
    ) -> WorkerProcess:
        kwargs = {"args": SCHEDULER_ARGS, "ready": SCHEDULER_READY} if scheduler else {}
        worker = WorkerProcess(
            database_url=database_url or pg_url,
            redis_url=redis_server.url,
            queue=queue,
            log_path=tmp_path / f"{name}.log",
            extra_env={**WORKER_ENV, **extra_env},
            **kwargs,
        )
        started.append(worker)
        return worker.start()

    yield _spawn
    for worker in started:
        worker.kill()
    failed = any(
        getattr(getattr(request.node, f"rep_{when}", None), "failed", False)
        for when in ("setup", "call")
    )
    if failed:
        for worker in started:
            print(f"\n----- {worker.log_path.name} (pid {worker.proc and worker.proc.pid}) -----")
            print(worker.log_tail(6000))
