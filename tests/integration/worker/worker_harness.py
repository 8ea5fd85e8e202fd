"""Real `opsapp worker` processes (opsapp.worker.runner) and `taskiq scheduler` processes for the
integration tests, and Redis helpers.

Processes are started in their own session (process group) and stopped with SIGKILL to the
whole group, so nothing outlives a test; tests/faults covers SIGTERM and the other signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[3]
REDIS_URL = os.environ.get("OPSAPP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
GROUP = "opsapp-workers"
BODIES_MODULE = "tests.integration.worker.worker_test_bodies"


def wait_until(
    predicate: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def notification_titles(engine, user_id: int) -> list[str]:
    """The titles of a user's notifications, oldest first."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.text("SELECT title FROM notifications WHERE user_id = :u ORDER BY id"),
                {"u": user_id},
            ).scalars()
        )


async def start_as(engine, dispatcher, people, run_type: str, **inputs):
    """Start a run as the (tenant, user) pair `people` would, through `dispatcher`."""
    from opsapp.operations.service import start_operation

    tenant, user = people
    return await start_operation(
        run_type=run_type,
        tenant_id=tenant.id,
        user_id=user.id,
        inputs=inputs,
        dispatcher=dispatcher,
        engine=engine,
    )


def pending(client: redis.Redis, queue: str) -> int:
    try:
        return int(client.xpending(queue, GROUP)["pending"])
    except redis.ResponseError:  # no stream / group yet
        return 0


def entries_read(client: redis.Redis, queue: str) -> int:
    for group in client.xinfo_groups(queue):
        if group["name"] in (GROUP, GROUP.encode()):
            return int(group.get("entries-read") or 0)
    return 0


WORKER_ARGS = ["opsapp.worker.runner"]
SCHEDULER_ARGS = [
    "taskiq",
    "scheduler",
    "opsapp.worker.scheduler:scheduler",
    "--log-level",
    "INFO",
]


class WorkerProcess:
    """One worker process (`python -m opsapp.worker.runner`) on a test queue — or, with
    args=SCHEDULER_ARGS and ready="Startup completed", one `taskiq scheduler`."""

    def __init__(
        self,
        *,
        database_url: str,
        queue: str,
        log_path: Path,
        extra_env: dict[str, str] | None = None,
        args: list[str] | None = None,
        ready: str = "worker ready",
    ) -> None:
        self.log_path = log_path
        self.args = args or WORKER_ARGS
        self.ready = ready
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": database_url,
            "OPSAPP_BROKER": "redis",
            "REDIS_URL": REDIS_URL,
            "OPSAPP_REDIS_QUEUE": queue,
            "OPSAPP_EXTRA_TASK_MODULES": BODIES_MODULE,
            "OPSAPP_SECRET_KEY": "test-secret-key",
            **(extra_env or {}),
        }
        self.queue = queue
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> WorkerProcess:
        """Start and wait until the worker listens (Redis 7.0 lists a blocked XREADGROUP reader
        as a consumer only once it received something, so the log line is the signal)."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it open
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *self.args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            wait_until(
                lambda: self.ready in self.log_tail() or self.proc.poll() is not None,
                timeout,
                what="the worker to listen",
            )
        except AssertionError:
            self.kill()
            raise AssertionError(f"worker did not start:\n{self.log_tail()}") from None
        if self.proc.poll() is not None:
            raise AssertionError(f"worker exited at start:\n{self.log_tail()}")
        return self

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL the whole process group (supervisor and child) and reap it."""
        if self.proc is None or self.proc.returncode is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=timeout)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return "(no log)"
