"""The benchmark's own run type and trivial body. Imported by the benchmarks AND by `taskiq worker`
subprocesses (OPSAPP_EXTRA_TASK_MODULES=bench.bodies), so both sides know the same type.

`bench.noop` has one identity input (`key`, an id): distinct keys are distinct identities, the
same key is the same identity. Its body does nothing and reports one processed item.
"""

from __future__ import annotations

from opsapp.operations import catalog
from opsapp.operations.access import Capability
from opsapp.operations.catalog import OperationType
from opsapp.operations.identity import IdentityField, IdentitySchema
from opsapp.operations.results import RunResult
from opsapp.worker import registry
from opsapp.worker.registry import RunContext

NOOP = "bench.noop"


def _register(key: str, label: str, body) -> None:
    """A benchmark type with one identity input (`key`) and its body, once per process."""
    if key not in catalog.OPERATION_TYPES:
        catalog.register_type(
            OperationType(
                key,
                label,
                IdentitySchema((IdentityField("key", "id"),)),
                ("total", "processed", "created", "failed"),
                Capability.start_operations,
                related="inventory",
            )
        )
    if not registry.is_registered(key):
        registry.register_body(key, body)


async def noop(ctx: RunContext) -> RunResult:
    return RunResult(counts={"total": 1, "processed": 1, "created": 1})


_register(NOOP, "Benchmark no-op", noop)


# -- bench.stamp: the body says when it was entered ------------------------------------------
# Its body pushes "<run id> <time.time()>" onto a Redis list, so a benchmark in another process
# learns (BLPOP, no polling) when the worker entered the body. bench/bare_taskiq.py has the same
# body on a bare taskiq broker: the floor of start → body entered.
STAMP = "bench.stamp"
ENTERED_KEY = "opsapp-bench:entered"

_stamp_clients: dict[int, object] = {}


async def push_entered(key: object) -> None:
    """RPUSH "<key> <now>" onto ENTERED_KEY with a client kept per event loop."""
    import asyncio
    import os
    import time

    from redis.asyncio import Redis

    entered = time.time()
    loop = id(asyncio.get_running_loop())
    client = _stamp_clients.get(loop)
    if client is None:
        url = os.environ.get("OPSAPP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
        client = _stamp_clients[loop] = Redis.from_url(url)
    await client.rpush(ENTERED_KEY, f"{key} {entered}")  # type: ignore[attr-defined]


async def stamp(ctx: RunContext) -> RunResult:
    await push_entered(ctx.run_id)
    return RunResult(counts={"total": 1, "processed": 1, "created": 1})


_register(STAMP, "Benchmark stamp", stamp)
