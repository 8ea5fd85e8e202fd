"""Redis faults: an outage during a running run, an empty restart while a run is queued, and an
outage longer than the worker's grace."""

from __future__ import annotations

import time

import pytest

from tests.faults.conftest import REDELIVER_AFTER
from tests.faults.fault_bodies import ATTEMPT_STRIDE
from tests.faults.harness import (
    completed,
    executions,
    record_recovery,
    run_row,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]

OUTAGE = 5.0


def _processed(engine, run_id: int) -> int:
    return int((run_row(engine, run_id)["summary_counts"] or {}).get("processed", 0))


async def test_redis_down_for_5s_during_a_run_the_run_succeeds_on_the_same_worker(
    fault_db, redis_server, spawn, start_run
):
    worker = spawn("worker")
    started = await start_run(key=1, ms=9000)
    run_id = started.run.id
    first = wait_until(lambda: executions(fault_db, run_id), 15, what="the body to start")
    assert first[0]["pid"] == worker.pid, worker.log_tail()
    wait_until(lambda: _processed(fault_db, run_id) > ATTEMPT_STRIDE, 5, what="progress")

    redis_server.crash()
    before = _processed(fault_db, run_id)
    time.sleep(OUTAGE)
    assert worker.alive, f"the worker died during a {OUTAGE}s Redis outage:\n{worker.log_tail()}"
    # The body kept running (and reporting to PostgreSQL) while Redis was away.
    row = run_row(fault_db, run_id)
    assert row["status"] == "running", f"{row} {executions(fault_db, run_id)}"
    assert _processed(fault_db, run_id) > before, f"no progress during the Redis outage: {row}"

    redis_server.restart()  # empty: no stream, no consumer group, no pending entries
    back = time.monotonic()
    # Service restored: a run started right after the restart completes on the same process,
    # while the outage run is still going.
    after = await start_run(key=2, ms=200)
    done_after = wait_until(
        lambda: completed(fault_db, after.run.id), 30, what="a run started after the restart"
    )
    restored = time.monotonic() - back
    assert done_after["outcome"] == "succeeded", done_after
    assert [e["pid"] for e in executions(fault_db, after.run.id)] == [worker.pid]

    done = wait_until(lambda: completed(fault_db, run_id), 30, what="the run to complete")
    assert (done["outcome"], done["attempts"]) == ("succeeded", 1), done
    runs = executions(fault_db, run_id)
    assert [(e["pid"], e["ended"]) for e in runs] == [(worker.pid, "finished")]
    assert worker.alive and worker.returncode is None
    record_recovery("redis_down_5s.new_run_after_restart", restored)


async def test_redis_restarted_empty_while_a_run_is_queued_it_runs_once_within_30s(
    fault_db, redis_server, spawn, start_run
):
    busy_worker = spawn("busy", OPSAPP_WORKER_CONCURRENCY=1)
    busy = await start_run(key=1, ms=4000)
    wait_until(lambda: executions(fault_db, busy.run.id), 15, what="the busy run to start")
    queued = await start_run(key=2, ms=500)
    time.sleep(0.3)
    assert run_row(fault_db, queued.run.id)["status"] == "queued"

    redis_server.crash()
    redis_server.restart()  # the queued run's message is gone with it
    back = time.monotonic()
    spare = spawn("spare")

    done = wait_until(lambda: completed(fault_db, queued.run.id), 45, what="the queued run")
    recovered = time.monotonic() - back
    assert done["outcome"] == "succeeded", done
    assert recovered <= 30, f"the queued run completed {recovered:.1f}s after the restart"
    busy_done = wait_until(lambda: completed(fault_db, busy.run.id), 15, what="the busy run")
    assert busy_done["outcome"] == "succeeded", busy_done

    # Exactly one execution of each body, even after more re-send rounds had the chance to run.
    time.sleep(REDELIVER_AFTER / 2)
    queued_runs = executions(fault_db, queued.run.id)
    assert len(queued_runs) == 1, queued_runs
    assert queued_runs[0]["pid"] in (busy_worker.pid, spare.pid)
    assert queued_runs[0]["ended"] == "finished"
    assert len(executions(fault_db, busy.run.id)) == 1
    assert run_row(fault_db, queued.run.id) == done
    record_recovery("redis_restart_empty.queued_run_completed", recovered)


async def test_redis_down_longer_than_the_grace_the_worker_exits_with_code_3(
    fault_db, redis_server, spawn
):
    grace = 3.0
    worker = spawn("worker", OPSAPP_REDIS_OUTAGE_GRACE_SECONDS=grace)
    redis_server.crash()
    down = time.monotonic()
    code = worker.wait_exit(grace + 10)
    elapsed = time.monotonic() - down
    assert code == 3, f"exit code {code} after {elapsed:.1f}s:\n{worker.log_tail()}"
    assert grace - 0.5 <= elapsed <= grace + 5, f"exited {elapsed:.1f}s after Redis went down"
    record_recovery("redis_down_past_grace.exit_3", elapsed, grace=grace)
