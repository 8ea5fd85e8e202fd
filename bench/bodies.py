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

if NOOP not in catalog.OPERATION_TYPES:
    catalog.register_type(
        OperationType(
            NOOP,
            "Benchmark no-op",
            IdentitySchema((IdentityField("key", "id"),)),
            ("total", "processed", "created", "failed"),
            Capability.start_operations,
            related="inventory",
        )
    )


async def noop(ctx: RunContext) -> RunResult:
    return RunResult(counts={"total": 1, "processed": 1, "created": 1})


if not registry.is_registered(NOOP):
    registry.register_body(NOOP, noop)
