"""`taskiq scheduler opsapp.worker.scheduler:scheduler` stops promptly on SIGTERM."""

from __future__ import annotations

import signal
import time

import pytest

from tests.faults.harness import record_recovery

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]


async def test_sigterm_the_scheduler_exits_within_5s(fault_db, spawn):
    scheduler = spawn("scheduler", scheduler=True)
    sent = time.monotonic()
    scheduler.signal(signal.SIGTERM)
    code = scheduler.wait_exit(15)
    elapsed = time.monotonic() - sent
    assert code is not None, f"still running 15 s after SIGTERM:\n{scheduler.log_tail()}"
    assert elapsed <= 5, f"exited {elapsed:.1f}s after SIGTERM"
    record_recovery("scheduler_sigterm.exit", elapsed, code=code)
