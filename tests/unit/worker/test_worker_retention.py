"""Retention: batched pruning of old completed runs, never an active run, never two prunes at
once (the "operations.prune" lease) — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa

from opsapp.models import Notification, OperationRun
from opsapp.models.types import utcnow
from opsapp.operations import retention
from opsapp.operations.retention import SKIPPED, prune_completed_runs, prune_job
from tests.factories import make_tenant, make_user

_T = OperationRun.__table__
NOW = utcnow()


def _run(
    engine,
    tenant_id: int,
    *,
    status: str = "completed",
    age_days: float = 100,
    user_id: int | None = None,
) -> int:
    at = NOW - timedelta(days=age_days)
    values = dict(
        tenant_id=tenant_id,
        user_id=user_id,
        initiator_name="t",
        type="policy.sync",
        status=status,
        outcome="succeeded" if status == "completed" else "pending",
        run_identity_hash=uuid.uuid4().hex,
        summary_counts={},
        failures=[],
        context={},
        created_at=at,
        updated_at=at,
        attempts=0,
        started_at=at if status != "queued" else None,
        completed_at=at if status == "completed" else None,
    )
    with engine.begin() as conn:
        return conn.execute(sa.insert(_T).values(**values).returning(_T.c.id)).scalar_one()


def _ids(engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(_T.c.id)).scalars())


def test_prunes_only_completed_runs_older_than_the_window_in_batches(engine):
    tenant = make_tenant(engine)
    old = {_run(engine, tenant.id, age_days=91 + i) for i in range(5)}
    recent = _run(engine, tenant.id, age_days=89)
    old_running = _run(engine, tenant.id, status="running", age_days=200)
    old_queued = _run(engine, tenant.id, status="queued", age_days=200)
    batches = []

    deleted = prune_completed_runs(
        engine=engine, now=NOW, older_than_days=90, batch_size=2, on_batch=batches.append
    )

    assert deleted == 5
    assert batches == [2, 4, 5]
    assert _ids(engine) == {recent, old_running, old_queued}
    assert not old & _ids(engine)


def test_retention_window_and_batch_size_come_from_settings(engine, monkeypatch):
    monkeypatch.setenv("OPSAPP_RUN_RETENTION_DAYS", "10")
    monkeypatch.setenv("OPSAPP_PRUNE_BATCH_SIZE", "1")
    from opsapp.settings import get_settings

    get_settings.cache_clear()
    tenant = make_tenant(engine)
    keep = _run(engine, tenant.id, age_days=9)
    _run(engine, tenant.id, age_days=11)
    _run(engine, tenant.id, age_days=12)
    batches = []

    assert prune_completed_runs(engine=engine, now=NOW, on_batch=batches.append) == 2
    assert batches == [1, 2]
    assert _ids(engine) == {keep}


def test_pruning_detaches_notifications_of_deleted_runs(engine):
    tenant = make_tenant(engine)
    user = make_user(engine, tenant=tenant)
    run_id = _run(engine, tenant.id, user_id=user.id)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Notification.__table__).values(
                user_id=user.id,
                tenant_id=tenant.id,
                operation_run_id=run_id,
                level="info",
                title="done",
                body="",
                link="",
                created_at=NOW,
            )
        )

    assert prune_completed_runs(engine=engine, now=NOW) == 1
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT operation_run_id FROM notifications")).scalar() is None


def test_prune_job_reports_what_it_did_and_releases_its_lease(engine):
    tenant = make_tenant(engine)
    _run(engine, tenant.id)

    assert prune_job(engine=engine, now=NOW) == "pruned 1 runs"
    assert prune_job(engine=engine, now=NOW) == "pruned 0 runs"  # lease released in between
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM job_locks")).scalar() == 0


def test_a_prune_overlapping_a_running_one_is_skipped(engine, monkeypatch):
    tenant = make_tenant(engine)
    _run(engine, tenant.id)
    inside, release = threading.Event(), threading.Event()
    real = retention.prune_completed_runs

    def slow_prune(**kwargs):
        inside.set()
        assert release.wait(10)
        return real(**kwargs)

    monkeypatch.setattr(retention, "prune_completed_runs", slow_prune)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(prune_job, engine=engine, now=NOW)
        assert inside.wait(10)
        second = pool.submit(prune_job, engine=engine, now=NOW).result(timeout=10)
        release.set()
        assert (first.result(timeout=10), second) == ("pruned 1 runs", SKIPPED)


def test_two_prunes_started_at_the_same_instant_never_both_run(engine, monkeypatch):
    real = retention.prune_completed_runs
    running, overlap = [0], []
    guard = threading.Lock()

    def tracked_prune(**kwargs):
        with guard:
            running[0] += 1
            overlap.append(running[0])
        try:
            threading.Event().wait(0.05)  # hold the lease a little while
            return real(**kwargs)
        finally:
            with guard:
                running[0] -= 1

    monkeypatch.setattr(retention, "prune_completed_runs", tracked_prune)
    for _ in range(5):
        barrier = threading.Barrier(2)

        def invoke(_i, barrier=barrier):
            with engine.connect():
                pass
            barrier.wait()
            return prune_job(engine=engine, now=NOW)

        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(invoke, range(2)))
        assert outcomes == ["pruned 0 runs", SKIPPED]
    assert max(overlap) == 1
