"""The floor of "start → body entered": a bare taskiq task on taskiq-redis's RedisStreamBroker,
run by a plain `taskiq worker` — no database, no run tracking, the same Redis. Its body is the
one `bench.stamp` runs (bench.bodies.push_entered).

Worker: `python -m taskiq worker bench.bare_taskiq:broker --workers 1` with
OPSAPP_BENCH_BARE_QUEUE naming the stream."""

from __future__ import annotations

import os

from bench.bodies import push_entered
from opsapp.worker._compat import RedisStreamBroker

broker = RedisStreamBroker(
    os.environ.get("OPSAPP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
    queue_name=os.environ.get("OPSAPP_BENCH_BARE_QUEUE", "opsapp-bench:bare"),
    consumer_group_name="opsapp-bench-bare",
)


@broker.task(task_name="bench.bare_stamp")
async def bare_stamp(key: str) -> None:
    await push_entered(key)
