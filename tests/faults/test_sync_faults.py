"""A Redis outage during a real sync: `policy.sync` of the demo tenant Contoso, made slow by the
demo Graph (its own HTTP process), keeps running on the same worker while Redis is gone and
completes succeeded after Redis comes back empty."""

from __future__ import annotations

import time

import pytest
import redis

from opsapp.graph.demo import CONTOSO
from tests.faults.harness import (
    completed,
    notification_titles,
    record_recovery,
    run_row,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]

OUTAGE = 5.0
# Contoso's policy sync makes ~34 Graph requests (assignments and settings 20 per $batch, up to
# four at once; ~0.6 s unslowed), about 25 of them one after another; 500 ms before each answer
# makes it take ~12-13 s, so the run is still going when the outage ends.
SLOW_MS = 500


def _processed(engine, run_id: int) -> int:
    return int((run_row(engine, run_id)["summary_counts"] or {}).get("processed", 0))


def _has_group(redis_server, queue: str) -> bool:
    client = redis_server.client()
    try:
        return bool(client.exists(queue) and client.xinfo_groups(queue))
    except redis.RedisError:
        return False
    finally:
        client.close()


async def test_redis_down_for_5s_during_a_real_sync_the_same_run_succeeds_on_the_same_worker(
    fault_db, redis_server, queue, spawn, demo_graph, demo_people, start_sync
):
    worker = spawn("worker", OPSAPP_DEMO_GRAPH_URL=demo_graph.url)
    pid = worker.pid
    assert demo_graph.set_faults(CONTOSO.slug, slow_ms=SLOW_MS)["slow_ms"] == SLOW_MS

    begun = time.monotonic()
    started = await start_sync("policy.sync")
    assert started.created, started
    run_id = started.run.id
    wait_until(lambda: _processed(fault_db, run_id) > 0, 15, what="the sync to report progress")
    row = run_row(fault_db, run_id)
    assert (row["status"], row["attempts"]) == ("running", 1), row

    redis_server.crash()
    before = _processed(fault_db, run_id)
    requests_before = demo_graph.stats(CONTOSO.slug)["graph_requests"]
    time.sleep(OUTAGE)
    assert worker.alive, f"the worker died during a {OUTAGE}s Redis outage:\n{worker.log_tail()}"
    assert worker.pid == pid
    assert "stopping this worker" not in worker.log_text(), worker.log_tail()  # not even draining
    row = run_row(fault_db, run_id)
    assert (row["status"], row["attempts"]) == ("running", 1), row
    # The sync kept talking to Graph and reporting to PostgreSQL while Redis was away.
    assert demo_graph.stats(CONTOSO.slug)["graph_requests"] > requests_before
    assert _processed(fault_db, run_id) > before, f"no progress during the Redis outage: {row}"

    redis_server.restart()  # empty: no stream, no consumer group, no pending entries
    back = time.monotonic()
    # Back in service: the worker re-created its consumer group in the empty Redis.
    wait_until(lambda: _has_group(redis_server, queue), 15, what="the worker to reconnect")
    reconnected = time.monotonic() - back

    done = wait_until(lambda: completed(fault_db, run_id), 30, what="the sync to complete")
    finished = time.monotonic()
    assert (done["outcome"], done["attempts"]) == ("succeeded", 1), done
    counts = done["summary_counts"]
    assert (counts["total"], counts["processed"], counts["failed"]) == (CONTOSO.size,) * 2 + (0,)
    assert done["failures"] == [], done["failures"]
    # The same process ran it from start to end: alive throughout, started (ready) once.
    assert worker.alive and worker.returncode is None and worker.pid == pid
    log = worker.log_text()
    assert "Redis reachable again" in log, log[-3000:]
    assert log.count("worker ready") == 1 and f"worker ready (pid {pid}," in log, log[-3000:]
    assert "takes it over" not in log, log[-3000:]
    titles = notification_titles(fault_db, demo_people[1].id)
    assert titles.count("Policy sync succeeded") == 1, titles
    record_recovery(
        "redis_down_5s.real_sync_group_recreated",
        reconnected,
        sync_seconds=round(finished - begun, 2),
        completed_after_restart=round(finished - back, 2),
    )
