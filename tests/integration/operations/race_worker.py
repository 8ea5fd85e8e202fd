"""Child-process body for the race test (importable under the spawn start method)."""

from __future__ import annotations

import asyncio

from tests.fakes import RecordingDispatcher


def start_same_identity(
    url: str, tenant_id: int, user_id: int, inputs: dict, barrier
) -> tuple[int, bool]:
    from opsapp.db import get_engine
    from opsapp.operations.service import start_operation

    engine = get_engine(url)
    with engine.connect():  # open the connection before the gun goes off
        pass
    barrier.wait()
    result = asyncio.run(
        start_operation(
            run_type="policy.sync",
            tenant_id=tenant_id,
            user_id=user_id,
            inputs=inputs,
            dispatcher=RecordingDispatcher(),
            engine=engine,
        )
    )
    return result.run.id, result.created
