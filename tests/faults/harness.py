"""Processes of the fault suite: a private redis-server, `opsapp.worker.runner` workers, the
taskiq scheduler; and the small helpers the tests share (polling, rows, recovery times).

Every process is started in its own session (process group) and killed with SIGKILL to the
group when the test ends, whatever state it is in (stopped, hung, already gone). The machine's
Redis (6379) is never touched: each test gets its own redis-server on a free loopback port,
without persistence, so "restart" after a SIGKILL always means "restart empty"."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsapp.models import OperationRun
from tests.faults.fault_bodies import TABLE
from tests.integration.worker.worker_harness import notification_titles, wait_until

__all__ = ["notification_titles", "wait_until"]  # the suite imports them from here

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = os.environ.get("OPSAPP_FAULT_REDIS_SERVER", "/usr/bin/redis-server")
BODIES_MODULE = "tests.faults.fault_bodies"
RUNNER_ARGS = ["-m", "opsapp.worker.runner"]
RUNNER_READY = "worker ready"
SCHEDULER_ARGS = [
    "-m",
    "taskiq",
    "scheduler",
    "opsapp.worker.scheduler:scheduler",
    "--log-level",
    "INFO",
]
SCHEDULER_READY = "Startup completed"
RESULTS_ENV = "OPSAPP_FAULT_RESULTS"
_T = OperationRun.__table__


# -- polling & recovery times ---------------------------------------------------------------
def results_path() -> Path:
    explicit = os.environ.get(RESULTS_ENV)
    if explicit:
        return Path(explicit)
    return Path(tempfile.gettempdir()) / "opsapp-faults" / "recovery.jsonl"


def record_recovery(name: str, seconds: float, **extra: Any) -> float:
    """Print a recovery time (run pytest with -s to see it) and append it to the results file
    (JSON lines: {"name", "seconds", "at", ...extra})."""
    print(f"\nRECOVERY {name}: {seconds:.2f} s {extra or ''}", flush=True)
    path = results_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write(
            json.dumps({"name": name, "seconds": round(seconds, 3), "at": time.time(), **extra})
        )
        out.write("\n")
    return seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- processes -------------------------------------------------------------------------------
class _Process:
    """A child in its own process group, logging to a file."""

    def __init__(self, argv: list[str], *, env: dict[str, str], log_path: Path, cwd: Path) -> None:
        self.argv, self.env, self.log_path, self.cwd = argv, env, log_path, cwd
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def _spawn(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it open
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def signal(self, signum: int) -> None:
        """Send `signum` to the process itself (not its group)."""
        assert self.proc is not None
        self.proc.send_signal(signum)

    def wait_exit(self, timeout: float) -> int | None:
        """The exit code, or None if it is still running after `timeout` seconds."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL the whole process group and reap the child (stopped processes die too)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_text()[-chars:]


class RedisServer(_Process):
    """A private, non-persistent redis-server on a fixed loopback port."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        argv = [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--protected-mode",
            "no",
        ]
        super().__init__(argv, env=dict(os.environ), log_path=workdir / "redis.log", cwd=workdir)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def ping(self) -> bool:
        """One raw PING, no client-side retries (redis-py retries refused connections)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def start(self, timeout: float = 10.0) -> RedisServer:
        self._spawn()
        try:
            wait_until(self.ping, timeout, interval=0.02, what=f"redis-server on port {self.port}")
        except AssertionError:
            self.kill()
            raise AssertionError(f"redis-server did not start:\n{self.log_tail()}") from None
        return self

    def crash(self) -> None:
        """kill -9: everything in memory is gone; the port is free again."""
        self.kill()
        wait_until(lambda: not self.ping(), 5, what="redis to be down")

    def restart(self) -> RedisServer:
        return self.start()


class DemoGraphServer(_Process):
    """The demo Graph (`python -m opsapp.graph.demo`) as its own process on a free loopback
    port; its admin API (`/_demo/...`) switches a tenant's faults over HTTP."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        argv = [sys.executable, "-m", "opsapp.graph.demo", "--host", "127.0.0.1"]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        super().__init__(
            [*argv, "--port", str(self.port)],
            env=env,
            log_path=workdir / "demo-graph.log",
            cwd=ROOT,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def admin(self, method: str, path: str, body: dict | None = None) -> Any:
        """One admin API call (`/_demo/<path>`); the decoded JSON answer (raises on non-200)."""
        response = httpx.request(method, f"{self.url}/_demo/{path}", json=body, timeout=5)
        response.raise_for_status()
        return response.json()

    def set_faults(self, tenant: str, **switches: Any) -> dict:
        return self.admin("POST", f"tenants/{tenant}/faults", switches)

    def stats(self, tenant: str) -> dict:
        return self.admin("GET", f"tenants/{tenant}/stats")

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/_demo/tenants", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self, timeout: float = 30.0) -> DemoGraphServer:
        self._spawn()
        try:
            wait_until(
                lambda: self._ready() or not self.alive, timeout, interval=0.05, what="demo Graph"
            )
        except AssertionError:
            self.kill()
            raise AssertionError(f"the demo Graph did not start:\n{self.log_tail()}") from None
        if not self.alive:
            raise AssertionError(f"the demo Graph exited at start:\n{self.log_tail()}")
        return self


class WorkerProcess(_Process):
    """One `python -m opsapp.worker.runner` (or, with argv/ready, one taskiq scheduler)."""

    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str,
        queue: str,
        log_path: Path,
        extra_env: dict[str, Any] | None = None,
        args: list[str] | None = None,
        ready: str = RUNNER_READY,
    ) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": database_url,
            "OPSAPP_BROKER": "redis",
            "REDIS_URL": redis_url,
            "OPSAPP_REDIS_QUEUE": queue,
            "OPSAPP_EXTRA_TASK_MODULES": BODIES_MODULE,
            "OPSAPP_SECRET_KEY": "test-secret-key",
            **{k: str(v) for k, v in (extra_env or {}).items()},
        }
        super().__init__(
            [sys.executable, *(args or RUNNER_ARGS)], env=env, log_path=log_path, cwd=ROOT
        )
        self.ready = ready

    def start(self, timeout: float = 30.0) -> WorkerProcess:
        self._spawn()
        try:
            wait_until(
                lambda: self.ready in self.log_text() or not self.alive,
                timeout,
                interval=0.05,
                what=f"{self.log_path.name} to be ready",
            )
        except AssertionError:
            self.kill()
            raise AssertionError(
                f"{self.log_path.name} did not start:\n{self.log_tail()}"
            ) from None
        if not self.alive:
            raise AssertionError(f"{self.log_path.name} exited at start:\n{self.log_tail()}")
        return self

    def stop(self) -> None:
        self.signal(signal.SIGSTOP)

    def cont(self) -> None:
        self.signal(signal.SIGCONT)


# -- database reads ----------------------------------------------------------------------------
def run_row(engine: Engine, run_id: int) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(_T).where(_T.c.id == run_id)).mappings().one())


def completed(engine: Engine, run_id: int) -> dict | None:
    row = run_row(engine, run_id)
    return row if row["status"] == "completed" else None


def executions(engine: Engine, run_id: int) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(f"SELECT * FROM {TABLE} WHERE run_id = :r ORDER BY id"), {"r": run_id}
        )
        return [dict(r) for r in rows.mappings()]


def failure_codes(row: dict) -> list[str]:
    return [f.get("code") for f in (row.get("failures") or [])]
