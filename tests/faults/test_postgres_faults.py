"""PostgreSQL connection loss: the worker's backends are terminated (pg_terminate_backend) while
it runs a body; the worker reconnects, the run ends cleanly, and the worker keeps serving."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tests.faults.harness import (
    completed,
    executions,
    failure_codes,
    record_recovery,
    run_row,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]


def _terminate(engine, application_name: str) -> int:
    with engine.connect() as conn:
        return len(
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :a AND pid <> pg_backend_pid()"
                ),
                {"a": application_name},
            ).all()
        )


async def test_postgres_backends_terminated_during_a_run_the_worker_reconnects(
    fault_db, pg_url, spawn, start_run
):
    app = f"opsapp-fault-{uuid.uuid4().hex[:8]}"
    worker = spawn("worker", database_url=f"{pg_url}?application_name={app}")
    started = await start_run(key=1, ms=6000)
    run_id = started.run.id
    wait_until(lambda: executions(fault_db, run_id), 15, what="the body to start")
    wait_until(lambda: run_row(fault_db, run_id)["heartbeat_at"], 5, what="a heartbeat")

    terminated = 0
    for _ in range(3):  # idle pooled connections and the ones in use, a few times over
        terminated += _terminate(fault_db, app)
        time.sleep(0.5)
    assert terminated >= 1, "the worker holds no PostgreSQL backend to terminate"
    cut, cut_wall = time.monotonic(), datetime.now(UTC)

    def _beat_after_cut():
        row = run_row(fault_db, run_id)
        return row["status"] == "completed" or (
            row["heartbeat_at"] is not None and row["heartbeat_at"] > cut_wall
        )

    wait_until(_beat_after_cut, 15, what="the worker to write again after the cut")
    resumed = time.monotonic() - cut
    done = wait_until(lambda: completed(fault_db, run_id), 30, what="the run to end (not stuck)")
    ended = time.monotonic() - cut
    if done["outcome"] != "succeeded":  # a clean failure is allowed: stored, with a code
        assert done["outcome"] == "failed" and failure_codes(done), done
        assert all(failure_codes(done)), done
    assert worker.alive, f"the worker died:\n{worker.log_tail()}"

    after = await start_run(key=2, ms=300)
    done_after = wait_until(lambda: completed(fault_db, after.run.id), 20, what="a new run")
    assert done_after["outcome"] == "succeeded", done_after
    assert [e["pid"] for e in executions(fault_db, after.run.id)] == [worker.pid]
    record_recovery("pg_terminate.writes_resumed", resumed, terminated=terminated)
    record_recovery("pg_terminate.run_ended", ended, outcome=str(done["outcome"]))
