"""End-to-end sync fixtures: ONE real `taskiq worker` process per test module (Redis broker, a
unique stream, the session's PostgreSQL database) talking real HTTP to a demo Graph server that
runs in the test process, so a test can switch the demo's faults and mutate its objects.

The demo tenants and users are seeded once per module. Per test: no runs, notifications or synced
rows, the demo Graph reset (objects, faults, tokens), and this process set up as a Redis start
surface (`get_dispatcher()` → the module's queue). Teardown heals the demo Graph and waits until
the worker has no active run left (the next test truncates the tables under it otherwise)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsapp.demo_seed import seed_demo
from opsapp.graph.demo import BackgroundDemoServer, DemoGraph
from opsapp.models import OperationRun
from opsapp.operations.catalog import held_types
from opsapp.operations.service import StartResult, start_operation
from opsapp.settings import get_settings
from opsapp.worker.embedded import app_lifespan, get_dispatcher
from tests import dbutil
from tests.integration.worker.worker_harness import (
    GROUP,
    REDIS_URL,
    ROOT,
    WORKER_ARGS,
    WorkerProcess,
    wait_until,
)

SECRET_KEY = "test-secret-key"  # what tests/conftest.py gives this process; the worker agrees
# Progress writes at most every 0.25 s (the default is 1 s): a 5,000-object sync shows a few.
PROGRESS_INTERVAL = 0.25
_T = OperationRun.__table__

# Demo users seeded by opsapp.demo_seed (all may start syncs on their tenant).
STARTERS = {"contoso": "operator@opsapp.demo", "fabrikam": "fabrikam@opsapp.demo"}


@pytest.fixture(scope="module")
def demo_server():
    server = BackgroundDemoServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def e2e_queue():
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    name = f"opsapp-e2e-sync:{uuid.uuid4().hex[:12]}"
    yield name
    client.delete(name, f"autoclaim:{GROUP}:{name}")
    client.close()


@pytest.fixture(scope="module")
def worker_log_level() -> str:
    """The worker's log level (OPSAPP_WORKER_LOG_LEVEL); a module may override this fixture."""
    return "INFO"


@pytest.fixture(scope="module")
def worker(pg_url, demo_server, e2e_queue, worker_log_level, tmp_path_factory):
    """The module's worker process; SIGKILLed (whole process group) at module teardown."""
    dbutil.migrated_engine(pg_url)  # the worker reaps at start-up: the tables must exist
    proc = WorkerProcess(
        database_url=pg_url,
        queue=e2e_queue,
        log_path=tmp_path_factory.mktemp("e2e-worker") / "worker.log",
        args=list(WORKER_ARGS),
        extra_env={
            "OPSAPP_WORKER_LOG_LEVEL": worker_log_level,
            "OPSAPP_DEMO_GRAPH_URL": demo_server.url,
            "OPSAPP_SECRET_KEY": SECRET_KEY,
            "OPSAPP_PROGRESS_INTERVAL_SECONDS": str(PROGRESS_INTERVAL),
        },
    )
    try:
        yield proc.start()
    finally:
        proc.kill()


@dataclass
class E2E:
    """What a test drives: the database, the demo Graph, the worker and start helpers."""

    engine: Engine
    db_url: str
    queue: str
    demo: DemoGraph
    demo_url: str
    worker: WorkerProcess
    seeded: dict[str, Any]
    started: list[int] = field(default_factory=list)

    # -- ids ------------------------------------------------------------------------------
    def tenant_id(self, slug: str) -> int:
        return next(t["id"] for t in self.seeded["tenants"] if t["slug"] == slug)

    def user_id(self, email: str) -> int:
        return next(u["id"] for u in self.seeded["users"] if u["email"] == email)

    # -- starting -------------------------------------------------------------------------
    async def start(self, run_type: str, tenant: str = "contoso", **inputs: Any) -> StartResult:
        """Start a run as the tenant's demo operator through the configured (Redis) dispatcher."""
        result = await start_operation(
            run_type=run_type,
            tenant_id=self.tenant_id(tenant),
            user_id=self.user_id(STARTERS[tenant]),
            inputs=inputs,
            dispatcher=get_dispatcher(),
            engine=self.engine,
        )
        self.started.append(result.run.id)
        return result

    async def run(self, run_type: str, tenant: str = "contoso", timeout: float = 30, **inputs):
        """Start a run and wait for it to complete; return the completed row."""
        result = await self.start(run_type, tenant, **inputs)
        assert result.created, "a fresh run was expected, not a reused active one"
        return await self.wait_completed(result.run.id, timeout)

    # -- reading --------------------------------------------------------------------------
    def row(self, run_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.select(_T).where(_T.c.id == run_id)).mappings().one())

    async def wait_completed(self, run_id: int, timeout: float = 30) -> dict[str, Any]:
        def completed():
            row = self.row(run_id)
            return row if row["status"] == "completed" else None

        try:
            return await asyncio.to_thread(
                wait_until, completed, timeout, 0.02, f"run {run_id} to complete"
            )
        except AssertionError:
            raise AssertionError(
                f"run {run_id} did not complete: {self.row(run_id)}\n"
                f"--- worker log ---\n{self.worker.log_tail()}"
            ) from None

    def watch(self, run_id: int, timeout: float = 30) -> tuple[list[dict[str, Any]], dict]:
        """Poll the run row until it completes; return every distinct state seen (status,
        outcome, summary_counts, updated_at) and the completed row. Blocking: call it via
        `asyncio.to_thread`."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            row = self.row(run_id)
            state = {k: row[k] for k in ("status", "outcome", "summary_counts", "updated_at")}
            if not seen or seen[-1] != state:
                seen.append(state)
            if row["status"] == "completed":
                return seen, row
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"run {run_id} did not complete within {timeout}s: {row}\n"
                    f"--- worker log ---\n{self.worker.log_tail()}"
                )
            time.sleep(0.005)

    def object_count(self, tenant: str, key: str | None = None) -> int:
        """Objects the demo Graph currently holds: one policy type, "groups", or all policies."""
        data = self.demo.tenant(tenant).data
        if key is not None:
            return data.collection(key).live_count()
        return sum(c.live_count() for c in data.policies.values())

    def notifications(self, run_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT * FROM notifications WHERE operation_run_id = :r ORDER BY id"),
                {"r": run_id},
            )
            return [dict(r) for r in rows.mappings()]

    def final_notifications(self, run_id: int) -> list[dict[str, Any]]:
        """The run's notifications once the terminal one is there (the worker writes it just
        after completing the run)."""
        wait_until(
            lambda: len(self.notifications(run_id)) >= 2, 10, what=f"run {run_id}'s notification"
        )
        return self.notifications(run_id)

    def active_runs(self) -> list[int]:
        """Runs the worker has or will have: queued or running, except held runs nobody
        dispatched (a previewed restore's run waits for Execute, not for the worker)."""
        held = sa.and_(_T.c.type.in_(held_types()), _T.c.dispatched_at.is_(None))
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(_T.c.id).where(_T.c.status.in_(("queued", "running")), ~held)
                ).scalars()
            )

    def count(self, table: str, where: str = "TRUE", **params: Any) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE {where}"), params
            ).scalar_one()

    # -- the CLI as a subprocess ------------------------------------------------------------
    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """`opsapp …` against the test database and the module's Redis queue."""
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": self.db_url,
            "OPSAPP_BROKER": "redis",
            "REDIS_URL": REDIS_URL,
            "OPSAPP_REDIS_QUEUE": self.queue,
            "OPSAPP_SECRET_KEY": SECRET_KEY,
            "OPSAPP_DEMO_GRAPH_URL": self.demo_url,  # the Graph the worker talks to
        }
        return subprocess.run(
            [sys.executable, "-m", "opsapp.cli", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


DATA_TABLES = (
    "policy_versions",
    "policies",
    "inventory_items",
    "directory_groups",
    "notifications",
    "operation_runs",
)


@pytest.fixture(scope="module")
def seeded_db(pg_url):
    """The session's PostgreSQL database, emptied and seeded with the demo tenants and users
    once per module (hashing the demo passwords is the slow part of seeding)."""
    engine = dbutil.migrated_engine(pg_url)
    dbutil.empty_tables(engine)
    with pytest.MonkeyPatch.context() as mp:  # encrypt the demo secrets with the tests' key
        mp.setenv("OPSAPP_SECRET_KEY", SECRET_KEY)
        get_settings.cache_clear()
        seeded = seed_demo(engine)
    get_settings.cache_clear()
    return engine, seeded


@pytest.fixture
async def e2e(seeded_db, pg_url, worker, demo_server, e2e_queue, monkeypatch):
    """Seeded tenants, no runs or synced rows, a healthy demo Graph; this process dispatches to
    the module's worker."""
    engine, seeded = seeded_db
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(DATA_TABLES)} RESTART IDENTITY CASCADE"))
    for name, value in {
        "DATABASE_URL": pg_url,
        "OPSAPP_BROKER": "redis",
        "REDIS_URL": REDIS_URL,
        "OPSAPP_REDIS_QUEUE": e2e_queue,
        "OPSAPP_SECRET_KEY": SECRET_KEY,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    demo_server.demo.reset()
    ctx = E2E(
        engine=engine,
        db_url=pg_url,
        queue=e2e_queue,
        demo=demo_server.demo,
        demo_url=demo_server.url,
        worker=worker,
        seeded=seeded,
    )
    async with app_lifespan():  # closes this loop's Redis client on the way out
        yield ctx
    # A test that failed half-way may leave a run executing: heal the demo and let it finish
    # before the next test empties the tables under the worker.
    demo_server.demo.reset()
    if worker.proc is not None and worker.proc.poll() is None:
        wait_until(lambda: not ctx.active_runs(), 60, 0.05, "the worker to finish its runs")
    get_settings.cache_clear()
