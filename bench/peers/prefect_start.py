"""Peer benchmark: an idempotent run create in Prefect 3 vs opsapp's start (issue 12).

    .venv/bin/python -m bench.peers.prefect_start              # full: 1,000 samples per variant
    .venv/bin/python -m bench.peers.prefect_start --samples 60 # a quick look (printed only)

Not part of `make test` nor of `make bench`'s default list. Needs PostgreSQL and Redis on
loopback (like bench.start_latency) and, the first time, the package index: Prefect
(`prefect>=3,<4`) is installed with pip's defaults into a virtual environment of its own,
bench/out/peers/prefect-venv (reused afterwards; delete it to reinstall). Prefect is never
imported into opsapp's venv: its server runs as a subprocess of that venv and is driven over
HTTP with httpx.

Prefect: `prefect server start` on a free loopback port with SQLite (the default database) in a
scratch PREFECT_HOME under bench/out/peers/, analytics and UI off, its background services as
shipped. One flow and one deployment are created through the HTTP API, then
POST /api/deployments/{id}/create_flow_run with an `idempotency_key` is timed by the client
(keep-alive connection): "new" = a fresh key each time (a flow run is created, 201), "reused" =
the key of an existing flow run again (that flow run is returned, 200). A create is retried the
way Prefect's own client (prefect.client) retries, with its defaults: the server answers 503
when SQLite is busy and the client waits ~2 s (then ~4 s, …) before trying again; those waits
belong to what a Prefect caller sees, and the table counts the creates that needed them.

opsapp: `start_operation` (authorize → ensure → commit → dispatch → queued notification) of the
benchmark type `bench.noop` on a scratch PostgreSQL database with a Redis stream broker client
(no worker: runs stay queued), timed in process: "new" = a distinct identity each time,
"reused" = the identity of a run that is still active (the run is returned, nothing dispatched).

Samples are interleaved one by one (a Prefect create, an opsapp start, …) so both see the same
machine load; warm-up per variant first, then the samples spread over repeats. The table goes
to stdout and to bench/RESULTS.md, section "Peer: Prefect 3 vs opsapp start". Note the Prefect
figure includes an HTTP round trip on loopback (its API is the start surface), opsapp's does not
(its start surfaces call start_operation in process).

Options: --samples N (a quick run with N < 1000 only prints), --repeats, --warmup,
--prefect-no-services (`prefect server start --no-services`: Prefect's API without its background
services, written to a section of its own), --no-write.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from bench.bodies import NOOP
from bench.common import drop_pg, machine, percentile, scratch_pg, seed_operator, write_section
from bench.peers._venv import PEERS_OUT, PeerInstallFailed, ensure_venv
from bench.start_latency import REDIS_URL
from opsapp.db import get_engine
from opsapp.migrate import upgrade
from opsapp.operations.service import start_operation
from opsapp.settings import get_settings
from opsapp.worker.broker import build_broker
from opsapp.worker.dispatch import TaskiqDispatcher

SECTION = "Peer: Prefect 3 vs opsapp start"
REQUIREMENT = "prefect>=3,<4"
VENV_NAME = "prefect-venv"
PROBE = (
    "import importlib.metadata as m, sys; "
    "sys.exit(0 if m.version('prefect').split('.')[0] == '3' else 1)"
)
PATHS = ("new", "reused")
SYSTEMS = ("Prefect 3", "opsapp")
HEALTH_TIMEOUT = 300.0
FULL_SAMPLES = 1000  # fewer (a quick run) never rewrites bench/RESULTS.md


# -- Prefect: its server in its own venv, driven over HTTP --------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrefectServer:
    """`prefect server start` from the peer venv: SQLite in a scratch PREFECT_HOME, offline."""

    def __init__(self, bin_dir: Path, *, services: bool = True) -> None:
        self.bin_dir, self.services = bin_dir, services
        self.port = _free_port()
        self.log_path = PEERS_OUT / "prefect-server.log"
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.proc: subprocess.Popen | None = None
        self.version = subprocess.run(
            [
                str(bin_dir / "python"),
                "-c",
                "import importlib.metadata as m; print(m.version('prefect'))",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        self.home = Path(tempfile.mkdtemp(prefix="prefect-home-", dir=PEERS_OUT))

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PREFECT_") and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
        }
        database = f"sqlite+aiosqlite:///{self.home / 'prefect.db'}"
        env.update(
            PATH=f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}",
            PREFECT_HOME=str(self.home),
            PREFECT_SERVER_DATABASE_CONNECTION_URL=database,
            PREFECT_SERVER_API_HOST="127.0.0.1",
            PREFECT_SERVER_API_PORT=str(self.port),
            PREFECT_API_URL=self.api,  # the server's own services talk to this server only
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_UI_ENABLED="false",
            PREFECT_SERVER_UI_ENABLED="false",
            PREFECT_SERVER_LOGGING_LEVEL="WARNING",
            PREFECT_CLI_PROMPT="false",
            DO_NOT_TRACK="1",
        )
        return env

    def start(self) -> None:
        args = [str(self.bin_dir / "prefect"), "server", "start"]
        args += ["--host", "127.0.0.1", "--port", str(self.port), "--analytics-off"]
        if not self.services:
            args.append("--no-services")
        print(
            f"[prefect] starting Prefect {self.version} server on {self.api} "
            f"(log: {self.log_path})",
            flush=True,
        )
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                args,
                cwd=self.home,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        t0 = time.monotonic()
        with httpx.Client(timeout=5) as client:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"the Prefect server exited ({self.proc.returncode}) before answering; "
                        f"last lines of {self.log_path}:\n{self._log_tail()}"
                    )
                try:
                    if client.get(f"{self.api}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() - t0 > HEALTH_TIMEOUT:
                    raise RuntimeError(
                        "the Prefect server did not answer /api/health within "
                        f"{HEALTH_TIMEOUT:.0f} s; "
                        f"last lines of {self.log_path}:\n{self._log_tail()}"
                    )
                time.sleep(0.25)
        self.ready_seconds = time.monotonic() - t0
        print(f"[prefect] healthy after {self.ready_seconds:.1f} s", flush=True)

    def _log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.home, ignore_errors=True)


# Prefect's client retry policy (prefect/client/base.py, prefect/utilities/math.py; defaults).
MAX_RETRIES = 5
JITTER = 0.2
_RETRY_CODES = frozenset({408, 429, 502, 503})
_RETRY_EXCEPTIONS = (
    httpx.ReadTimeout,
    httpx.PoolTimeout,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpx.LocalProtocolError,
    httpx.ConnectError,
)


def _poisson_interval(average: float, lower: float = 0, upper: float = 1) -> float:
    return -math.log(max(1 - random.uniform(lower, upper), 1e-10)) * average


def _exponential_cdf(x: float, average: float) -> float:
    return 1 - math.exp(-x / average)


def _clamped_poisson_interval(average: float, clamping_factor: float) -> float:
    upper_multiple = 1 + clamping_factor
    lower_multiple = (
        0.0
        if upper_multiple >= 50
        else math.log(max(2**upper_multiple / (2**upper_multiple - 1), 1e-10), 2)
    )
    upper_rv = _exponential_cdf(average * upper_multiple, average)
    lower_rv = _exponential_cdf(max(0, average * lower_multiple), average)
    return _poisson_interval(average, lower_rv, upper_rv)


def _bounded_poisson_interval(lower: float, upper: float) -> float:
    average = (lower + upper) / 2
    if average <= 0:
        return 0.0
    return _poisson_interval(
        average, _exponential_cdf(lower, average), _exponential_cdf(upper, average)
    )


class PrefectClient:
    """Idempotent flow-run creates from one deployment, over one keep-alive connection."""

    def __init__(self, api: str) -> None:
        self.http = httpx.Client(base_url=api, timeout=60)
        self.retries = 0  # retried requests (Prefect's client would have retried them too)
        self.retried_calls = 0  # requests that needed at least one retry
        flow = self._post("/flows/", {"name": "opsapp-peer-bench"}, (200, 201))
        deployment = self._post(
            "/deployments/", {"name": "bench", "flow_id": flow["id"]}, (200, 201)
        )
        self.deployment_id = deployment["id"]
        self.created = 0

    def _post(self, path: str, body: dict, ok: tuple[int, ...]) -> dict:
        response = self._send_with_retry(path, body)
        if response.status_code not in ok:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:500]}")
        return response.json()

    def create(self, key: str) -> tuple[float, str, bool]:
        """(seconds, flow run id, whether it was created) for one create with this key, retried
        the way Prefect's own client retries (see `_send_with_retry`)."""
        path = f"/deployments/{self.deployment_id}/create_flow_run"
        t0 = time.perf_counter()
        response = self._send_with_retry(path, {"idempotency_key": key})
        elapsed = time.perf_counter() - t0
        if response.status_code not in (200, 201):
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:500]}")
        created = response.status_code == 201
        self.created += created
        return elapsed, response.json()["id"], created

    def _send_with_retry(self, path: str, body: dict) -> httpx.Response:
        """A port of prefect.client.base.PrefectHttpxAsyncClient._send_with_retry (3.x) with
        its defaults: up to PREFECT_CLIENT_MAX_RETRIES=5 retries on 408/429/502/503 and on
        transport errors, waiting Retry-After or 2**attempt s, jittered by
        PREFECT_CLIENT_RETRY_JITTER_FACTOR=0.2. The server answers 503 when SQLite is busy."""
        tries, retried = 0, False
        while True:
            retry_after = None
            try:
                response = self.http.post(path, json=body)
            except _RETRY_EXCEPTIONS:
                tries += 1
                if tries > MAX_RETRIES:
                    raise
            else:
                tries += 1
                if response.status_code not in _RETRY_CODES or tries > MAX_RETRIES:
                    self.retried_calls += retried
                    return response
                try:
                    retry_after = float(response.headers["Retry-After"])
                except (KeyError, ValueError):
                    pass
            retried = True
            self.retries += 1
            if retry_after is None:
                delay = _clamped_poisson_interval(2**tries, JITTER)
            else:
                delay = _bounded_poisson_interval(retry_after, retry_after * (1 + JITTER))
            time.sleep(delay)

    def count_flow_runs(self) -> int:
        return int(self._post("/flow_runs/count", {}, (200,)))

    def close(self) -> None:
        self.http.close()


# -- opsapp: start_operation on PostgreSQL + Redis -----------------------------------------------
# What bench.start_latency.pg_scenario sets up inline (a broker client on a queue of its own and
# its cleanup) is not importable from there; the same few lines live here.
class OpsappStarter:
    def __init__(self, url: str) -> None:
        upgrade(url)
        self.engine = get_engine(url)
        self.tenant_id, self.user_id = seed_operator(self.engine)
        self.queue = f"opsapp-bench:{uuid.uuid4().hex[:12]}"
        self.broker = build_broker(
            "redis",
            redis_url=REDIS_URL,
            engine=self.engine,
            queue_name=self.queue,
            socket_timeout=get_settings().dispatch_timeout_seconds,
        )
        self.dispatcher = TaskiqDispatcher(self.broker)
        self.keys = itertools.count(1)
        self.created = 0

    async def start(self, key: int) -> tuple[float, int, bool]:
        t0 = time.perf_counter()
        result = await start_operation(
            run_type=NOOP,
            tenant_id=self.tenant_id,
            user_id=self.user_id,
            inputs={"key": key},
            dispatcher=self.dispatcher,
            engine=self.engine,
        )
        elapsed = time.perf_counter() - t0
        self.created += result.created
        return elapsed, result.run.id, result.created

    def stream_len(self) -> int:
        with redis.Redis.from_url(REDIS_URL) as r:
            return r.xlen(self.queue)

    async def close(self) -> None:
        await self.broker.shutdown()
        with redis.Redis.from_url(REDIS_URL) as r:
            r.delete(self.queue, f"autoclaim:{self.broker.consumer_group_name}:{self.queue}")


# -- the interleaved measurement ----------------------------------------------------------------
@dataclass
class Samples:
    repeats: list[list[float]] = field(default_factory=list)
    retried: int | None = None  # Prefect: creates its client had to retry (503: SQLite busy)

    @property
    def pooled(self) -> list[float]:
        return [s for r in self.repeats for s in r]


async def _block(prefect: PrefectClient, ops: OpsappStarter, path: str, n: int):
    """n Prefect creates and n opsapp starts of one path, alternating; returns both lists."""
    p_samples: list[float] = []
    o_samples: list[float] = []
    if path == "reused":  # one identity per block, created first (not timed)
        p_key = f"reused-{uuid.uuid4().hex}"
        _, p_id, p_created = prefect.create(p_key)
        o_key = next(ops.keys)
        _, o_id, o_created = await ops.start(o_key)
        assert p_created and o_created, "the reused identity must be new at first"
    for _ in range(n):
        if path == "new":
            dt, _, created = prefect.create(f"new-{uuid.uuid4().hex}")
            assert created, "a fresh idempotency key must create a flow run"
            p_samples.append(dt)
            dt, _, created = await ops.start(next(ops.keys))
            assert created, "a distinct identity must create a run"
            o_samples.append(dt)
        else:
            dt, run_id, created = prefect.create(p_key)
            assert not created and run_id == p_id, "Prefect must return the same flow run"
            p_samples.append(dt)
            dt, run_id, created = await ops.start(o_key)
            assert not created and run_id == o_id, "opsapp must reuse the active run"
            o_samples.append(dt)
    return p_samples, o_samples


async def measure(prefect, ops, *, samples: int, repeats: int, warmup: int) -> dict:
    per_repeat = math.ceil(samples / repeats)
    results = {(path, system): Samples() for path in PATHS for system in SYSTEMS}
    for path in PATHS:
        print(f"[bench] warm-up: {warmup} × {path} per system", flush=True)
        await _block(prefect, ops, path, warmup)
    for r in range(repeats):
        for path in PATHS:
            t0, retried = time.perf_counter(), prefect.retried_calls
            p, o = await _block(prefect, ops, path, per_repeat)
            results[(path, SYSTEMS[0])].repeats.append(p)
            results[(path, SYSTEMS[0])].retried = (results[(path, SYSTEMS[0])].retried or 0) + (
                prefect.retried_calls - retried
            )
            results[(path, SYSTEMS[1])].repeats.append(o)
            print(
                f"[bench] repeat {r + 1}/{repeats} {path}: {per_repeat} pairs in "
                f"{time.perf_counter() - t0:.1f} s — Prefect p50 {_ms(p, 50)}, "
                f"opsapp p50 {_ms(o, 50)}",
                flush=True,
            )
    return results


# -- the table ----------------------------------------------------------------------------------
def _ms(samples: list[float], pct: float) -> str:
    return _fmt(percentile(samples, pct))


def _fmt(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.1f} ms" if ms >= 10 else f"{ms:.2f} ms"


def _range(s: Samples, pct: float) -> str:
    per = [percentile(r, pct) for r in s.repeats]
    return f"{_fmt(min(per))}–{_fmt(max(per))}"


def table(results: dict) -> list[str]:
    lines = [
        "| path | system | p50 | p95 | p99 | max | p50 per repeat | p99 per repeat | n | retried |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for path in PATHS:
        for system in SYSTEMS:
            s = results[(path, system)]
            pooled = s.pooled
            lines.append(
                f"| {path} | {system} | {_ms(pooled, 50)} | {_ms(pooled, 95)} | "
                f"{_ms(pooled, 99)} | {_fmt(max(pooled))} | {_range(s, 50)} | "
                f"{_range(s, 99)} | {len(pooled)} | "
                f"{'—' if s.retried is None else s.retried} |"
            )
        p, o = (results[(path, system)].pooled for system in SYSTEMS)
        ratios = [percentile(p, q) / percentile(o, q) for q in (50, 95, 99)] + [max(p) / max(o)]
        lines.append(
            f"| {path} | **Prefect/opsapp** | "
            + " | ".join(f"**{x:.1f}×**" for x in ratios)
            + " | | | | |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--samples",
        type=int,
        default=FULL_SAMPLES,
        help=f"samples per variant and system (default {FULL_SAMPLES}; fewer = a quick run, "
        "printed only)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="repeats the samples spread over")
    parser.add_argument("--warmup", type=int, default=50, help="warm-up samples per variant")
    parser.add_argument(
        "--prefect-no-services",
        action="store_true",
        help="run Prefect's API alone (`prefect server start --no-services`): no late-runs "
        "marking, scheduler, event persister, … writing to its SQLite meanwhile",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone"
    )
    args = parser.parse_args(argv)
    if args.samples < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error("--samples and --repeats must be ≥ 1, --warmup ≥ 0")
    repeats = min(args.repeats, args.samples)

    t_start = time.perf_counter()
    try:
        bin_dir, install_seconds = ensure_venv(VENV_NAME, REQUIREMENT, PROBE)
    except PeerInstallFailed as exc:
        print(f"[peer] {exc}", file=sys.stderr)
        return 2
    header = machine()
    server = PrefectServer(bin_dir, services=not args.prefect_no_services)
    url = None
    prefect = ops = None
    try:
        server.start()
        prefect = PrefectClient(server.api)
        url = scratch_pg()
        ops = OpsappStarter(url)
        t0 = time.perf_counter()
        results = asyncio.run(
            _run(prefect, ops, samples=args.samples, repeats=repeats, warmup=args.warmup)
        )
        measured_s = time.perf_counter() - t0
        prefect_runs = prefect.count_flow_runs()
        stream = ops.final_stream_len
        checks = (
            f"Afterwards Prefect held {prefect_runs} flow runs ({prefect.created} created by the "
            f"benchmark{'' if prefect_runs == prefect.created else ' — MISMATCH'}; its client "
            f"retried {prefect.retries} requests in all, setup and warm-up included) and "
            f"opsapp's Redis stream {stream} messages for {ops.created} runs created"
            + (
                " (every new start was dispatched, no reuse was)."
                if stream == ops.created
                else " — MISMATCH."
            )
        )
    finally:
        if prefect is not None:
            prefect.close()
        server.stop()
        if url is not None:
            drop_pg(url)

    per = math.ceil(args.samples / repeats)
    install = (
        f"installed in {install_seconds:.0f} s this run"
        if install_seconds is not None
        else "reused"
    )
    lines = [
        f"Machine: {header}",
        "",
        f"Prefect {server.version} (`prefect server start"
        f"{'' if server.services else ' --no-services'}`, SQLite, "
        f"{'background services as shipped' if server.services else 'API only, no services'}"
        f", analytics and UI off; venv bench/out/peers/{VENV_NAME}, {install}; "
        f"healthy {server.ready_seconds:.0f} s after launch): "
        "`POST /api/deployments/{id}/create_flow_run` with an `idempotency_key`, timed by an "
        "httpx client on one keep-alive loopback connection and retried the way Prefect's own "
        "client retries (its defaults: a 503 — the server's answer when SQLite is busy — is "
        "retried after ~2 s, then ~4 s, …; **retried** counts the creates that needed it). "
        "opsapp: `start_operation` of "
        "`bench.noop` on PostgreSQL + Redis (stream broker client, no worker), in process. "
        "**new** = a fresh key / distinct identity each time (a run is created; opsapp also "
        "dispatches it); **reused** = the key / identity of an existing active run (it is "
        "returned). Samples interleaved one by one (Prefect, opsapp, Prefect, …) after "
        f"{args.warmup} warm-up samples per variant; {per} per variant and system in each of "
        f"{repeats} repeats; {measured_s:.0f} s of measuring.",
        "",
        *table(results),
        "",
        checks + " Prefect's figure includes its HTTP round trip on loopback; opsapp's start "
        "surfaces call `start_operation` in process."
        + (
            " Prefect's background services (late-runs marking of the never-executed scheduled "
            "runs, event persister, …) write to the same SQLite file meanwhile: its 503s come "
            "from there; `--prefect-no-services` measures its API alone."
            if server.services
            else ""
        ),
    ]
    body = "\n".join(lines)
    print()
    print(body)
    section = SECTION if server.services else f"{SECTION} (Prefect API only, no services)"
    if args.no_write or args.samples < FULL_SAMPLES:
        print(f"\n[bench] bench/RESULTS.md left alone (--no-write, or < {FULL_SAMPLES} samples)")
    else:
        write_section(section, body)
        print(f"\n[bench] section “{section}” written to bench/RESULTS.md")
    print(f"[bench] whole run took {time.perf_counter() - t_start:.0f} s")
    return 0


async def _run(prefect, ops, **kwargs) -> dict:
    try:
        results = await measure(prefect, ops, **kwargs)
        ops.final_stream_len = ops.stream_len()  # before close() deletes the queue
        return results
    finally:
        await ops.close()


if __name__ == "__main__":
    sys.exit(main())
