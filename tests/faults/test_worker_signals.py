"""Signals to workers: SIGTERM (idle, and busy past the shutdown grace), SIGKILL mid-run with no
scheduler, and SIGSTOP past the lost threshold (a zombie that wakes up after a take-over)."""

from __future__ import annotations

import re
import signal
import time

import pytest

from tests.faults.conftest import HEARTBEAT, LOST_AFTER
from tests.faults.fault_bodies import ATTEMPT_STRIDE, SLOW
from tests.faults.harness import (
    completed,
    executions,
    failure_codes,
    notification_titles,
    record_recovery,
    run_row,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]


def _processed(engine, run_id: int) -> int:
    return int((run_row(engine, run_id)["summary_counts"] or {}).get("processed", 0))


def _by_pid(engine, run_id: int, pid: int) -> list[dict]:
    return [e for e in executions(engine, run_id) if e["pid"] == pid]


async def test_sigterm_an_idle_worker_exits_within_5s(fault_db, spawn):
    worker = spawn("worker")
    sent = time.monotonic()
    worker.signal(signal.SIGTERM)
    code = worker.wait_exit(15)
    elapsed = time.monotonic() - sent
    assert code is not None, f"still running 15 s after SIGTERM:\n{worker.log_tail()}"
    assert elapsed <= 5, f"exited {elapsed:.1f}s after SIGTERM"
    assert code == 0, f"exit code {code}:\n{worker.log_tail()}"
    record_recovery("sigterm_idle.exit", elapsed)


async def test_sigterm_during_a_run_longer_than_the_grace_hands_it_to_another_worker(
    fault_db, spawn, start_run, people
):
    grace = 2.0
    stopping = spawn("stopping", OPSAPP_WORKER_SHUTDOWN_GRACE_SECONDS=grace)
    started = await start_run(key=1, ms=8000)
    run_id = started.run.id
    wait_until(lambda: _by_pid(fault_db, run_id, stopping.pid), 15, what="the body to start")
    other = spawn("other")

    sent, sent_at = time.monotonic(), time.time()
    stopping.signal(signal.SIGTERM)
    code = stopping.wait_exit(grace + 10)
    exited = time.monotonic() - sent
    assert code == 0, f"exit code {code} after {exited:.1f}s:\n{stopping.log_tail()}"
    assert exited <= grace + 5, f"exited {exited:.1f}s after SIGTERM (grace {grace}s)"

    taken = wait_until(
        lambda: _by_pid(fault_db, run_id, other.pid), 20, what="the other worker to run it"
    )
    handed_over = taken[0]["started_at"] - sent_at
    done = wait_until(lambda: completed(fault_db, run_id), 20, what="the run to complete")
    assert (done["outcome"], done["attempts"]) == ("succeeded", 2), done
    runs = executions(fault_db, run_id)
    assert [(e["pid"], e["attempt"]) for e in runs] == [(stopping.pid, 1), (other.pid, 2)], runs
    assert runs[0]["ended"] != "finished" and runs[1]["ended"] == "finished", runs
    titles = notification_titles(fault_db, people[1].id)
    assert titles.count(f"Test {SLOW} succeeded") == 1, titles
    assert not [t for t in titles if "failed" in t], titles
    record_recovery("sigterm_busy.worker_exit", exited, grace=grace)
    record_recovery("sigterm_busy.other_worker_started", handed_over, grace=grace)


async def test_sigkill_mid_run_without_scheduler_is_reaped_as_lost_and_the_identity_restarts(
    fault_db, spawn, start_run
):
    doomed = spawn("doomed")
    first = await start_run(key=1, ms=30000)
    run_id = first.run.id
    wait_until(lambda: _by_pid(fault_db, run_id, doomed.pid), 15, what="the body to start")
    survivor = spawn("survivor")  # no scheduler anywhere: the survivor's sweep must reap
    wait_until(lambda: _processed(fault_db, run_id) > ATTEMPT_STRIDE + 3, 5, what="progress")

    doomed.kill()
    killed = time.monotonic()
    reaped = wait_until(lambda: completed(fault_db, run_id), LOST_AFTER + 20, what="the reaper")
    elapsed = time.monotonic() - killed
    assert reaped["outcome"] == "failed" and failure_codes(reaped) == ["worker.lost"], reaped
    assert elapsed <= LOST_AFTER + HEARTBEAT + 1.5, f"reaped {elapsed:.1f}s after SIGKILL"
    record_recovery("sigkill.reaped_as_lost", elapsed, lost_after=LOST_AFTER)

    again = await start_run(key=1, ms=300)
    assert again.created and again.run.id != run_id
    final = wait_until(lambda: completed(fault_db, again.run.id), 20, what="the new run")
    assert final["outcome"] == "succeeded", final
    assert [e["pid"] for e in executions(fault_db, again.run.id)] == [survivor.pid]
    assert len(executions(fault_db, run_id)) == 1  # the lost run was never run again


async def test_sigstop_past_the_lost_threshold_then_sigcont_one_completion_zombie_fenced(
    fault_db, spawn, start_run, people
):
    ms, idle = 15000, 1.0
    zombie = spawn("zombie")
    started = await start_run(key=1, ms=ms)
    run_id = started.run.id
    mine = wait_until(lambda: _by_pid(fault_db, run_id, zombie.pid), 15, what="the body")
    # The taker starts while the zombie is healthy (so its start-up reap finds nothing stale).
    # It auto-claims the zombie's unacknowledged message whenever it is idle `idle` seconds;
    # while the zombie's heartbeat is fresh that claim must leave the run alone (and keep the
    # message), once it is stale it takes the run over. Its sweep is off: nothing reaps the run,
    # the take-over is the only way it can complete.
    taker = spawn("taker", OPSAPP_WORKER_SWEEP_SECONDS=0, OPSAPP_REDIS_IDLE_TIMEOUT_SECONDS=idle)
    wait_until(lambda: _processed(fault_db, run_id) > ATTEMPT_STRIDE, 5, what="progress")
    assert _by_pid(fault_db, run_id, taker.pid) == []

    zombie.stop()
    stopped = time.time()
    taken = wait_until(
        lambda: _by_pid(fault_db, run_id, taker.pid), LOST_AFTER + 20, what="the take-over"
    )
    takeover = taken[0]["started_at"] - stopped
    assert takeover >= LOST_AFTER - HEARTBEAT - 0.5, f"taken over {takeover:.1f}s after SIGSTOP"
    assert taken[0]["attempt"] == 2, taken
    wait_until(lambda: _processed(fault_db, run_id) > 2 * ATTEMPT_STRIDE, 5, what="new progress")
    assert mine[0]["started_at"] + ms / 1000 - time.time() > 2, "no time left to see the zombie"

    zombie.cont()
    resumed = time.monotonic()
    while time.monotonic() - resumed < 3:  # the taker's body still has > 5 s to go
        row = run_row(fault_db, run_id)
        assert row["status"] == "running" and row["attempts"] == 2, row
        processed = int(row["summary_counts"].get("processed", 0))
        assert processed > 2 * ATTEMPT_STRIDE, f"a zombie progress write landed: {row}"
        time.sleep(0.1)

    done = wait_until(lambda: completed(fault_db, run_id), ms / 1000 + 10, what="completion")
    assert (done["outcome"], done["attempts"]) == ("succeeded", 2), done
    # Past the zombie body's own deadline: had it kept running, it would have finished by now.
    time.sleep(max(mine[0]["started_at"] + ms / 1000 + 1.5 - time.time(), 0) + 1.0)
    assert run_row(fault_db, run_id) == done
    runs = executions(fault_db, run_id)
    assert [(e["pid"], e["attempt"]) for e in runs] == [(zombie.pid, 1), (taker.pid, 2)], runs
    assert [e["pid"] for e in runs if e["ended"] == "finished"] == [taker.pid], runs
    titles = notification_titles(fault_db, people[1].id)
    assert titles.count(f"Test {SLOW} succeeded") == 1, titles
    assert not [t for t in titles if "failed" in t], titles
    assert zombie.alive, f"the zombie died after SIGCONT:\n{zombie.log_tail()}"
    log = zombie.log_text()
    assert re.search(r"fenc|no longer|refus|superseded|taken over", log, re.I), log[-4000:]
    record_recovery("sigstop.taken_over", takeover, lost_after=LOST_AFTER, ended=runs[0]["ended"])
