"""The worker process of the scaled mode (`opsapp worker`, or `python -m opsapp.worker.runner`).

It reads operation messages from the Redis stream and executes them through taskiq's Receiver
(so the run-tracking middleware claims, heartbeats, fences and completes every run), and it owns
what a plain `taskiq worker` could not give us:

- **Redis blips.** A lost connection is retried with backoff for OPSAPP_REDIS_OUTAGE_GRACE_SECONDS
  (60 s); the process and every running body go on (bodies need only the database).
  Acknowledgements that could not be sent are sent after the reconnect. A Redis that came back
  without its data (NOGROUP) gets its consumer group re-created and every queued run's message
  made due in the outbox. Past the grace the worker stops gracefully and exits with 3.
- **SIGTERM / SIGINT.** The worker stops reading at once; idle, it exits at once. Busy, it lets
  running bodies finish for OPSAPP_WORKER_SHUTDOWN_GRACE_SECONDS (30 s), then hands the rest back:
  each run returns to queued (fenced by its attempt), its message stays unacknowledged, and the
  outbox sends it again so another worker runs it. A type marked `resumable=False` in the catalog
  (restore.execute: a second pass could create a policy twice) is failed as worker.lost instead.
  A second signal skips the grace.
- **Sweeps.** Every OPSAPP_WORKER_SWEEP_SECONDS (default: the heartbeat interval) each worker
  reaps lost runs and relays due outbox messages, so a dead worker's run is settled within the
  lost threshold plus one sweep, with or without the scheduler.
- **Reading only what it can run.** XREADGROUP asks for as many messages as there are free
  slots, so no message waits in this worker's hands while another worker is idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.engine import Engine
from taskiq import AsyncBroker
from taskiq.receiver import Receiver

from opsapp.db import get_engine
from opsapp.operations import outbox
from opsapp.settings import get_settings
from opsapp.worker._compat import RedisStreamBroker
from opsapp.worker.broker import create_group, tracking_middleware
from opsapp.worker.config import WorkerSettings, get_worker_settings
from opsapp.worker.dispatch import TaskiqDispatcher
from opsapp.worker.maintenance import reap_lost_runs_job

log = logging.getLogger("opsapp.worker.runner")

EXIT_OK = 0
EXIT_CRASHED = 1
EXIT_REDIS_GONE = 3  # Redis stayed unreachable past the outage grace
_BROKEN = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError, asyncio.TimeoutError)
_AUTOCLAIM_EVERY_SECONDS = 5.0
_HAND_BACK_WAIT_SECONDS = 10.0


class Outage:
    """Tracks one Redis outage: its start, the backoff, and whether the grace is used up."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.since: float | None = None
        self._delay = 0.1

    def failed(self, exc: BaseException) -> float:
        """Note a failure; return how long to wait before trying again."""
        if self.since is None:
            self.since = time.monotonic()
            log.warning("Redis unreachable (%s); reconnecting", type(exc).__name__)
        delay, self._delay = self._delay, min(self._delay * 2, 2.0)
        return delay

    @property
    def exhausted(self) -> bool:
        return self.since is not None and time.monotonic() - self.since > self.grace

    def recovered(self) -> None:
        if self.since is not None:
            log.warning("Redis reachable again after %.1f s", time.monotonic() - self.since)
        self.since, self._delay = None, 0.1


class WorkerRuntime:
    """One worker process's loop over a Redis stream broker (see the module docstring)."""

    def __init__(
        self,
        broker: RedisStreamBroker,
        *,
        settings: WorkerSettings | None = None,
        engine: Engine | None = None,
        sweep_seconds: float | None = None,
    ) -> None:
        ws = settings or get_worker_settings()
        self.broker = broker
        self.middleware = tracking_middleware(broker)
        self.middleware.decides_acks = True  # _execute asks should_ack after each message
        self.dispatcher = TaskiqDispatcher(broker)
        self._engine = engine
        self.concurrency = ws.concurrency
        self.shutdown_grace = ws.shutdown_grace_seconds
        self.outage = Outage(ws.outage_grace_seconds)
        self.idle_timeout_ms = int(ws.idle_timeout_seconds * 1000)
        heartbeat = get_settings().heartbeat_seconds
        self.sweep_seconds = ws.sweep_seconds if ws.sweep_seconds is not None else heartbeat
        if sweep_seconds is not None:
            self.sweep_seconds = sweep_seconds
        self.queue, self.group = broker.queue_name, broker.consumer_group_name
        self.consumer = broker.consumer_name
        self.receiver = Receiver(
            broker, max_async_tasks=self.concurrency, run_startup=False, propagate_exceptions=True
        )
        self.active: set[asyncio.Task[None]] = set()
        self.stopping = asyncio.Event()
        self.hurry = asyncio.Event()  # a second signal: skip the grace
        self.exit_code = EXIT_OK
        self._unacked: list[str] = []  # acks that Redis could not take yet
        self._to_ack: list[str] = []  # acks waiting for the XACK in flight (see _ack_soon)
        self._acker: asyncio.Task[None] | None = None
        self._last_autoclaim = 0.0
        self._redis = Redis(connection_pool=broker.connection_pool)

    @property
    def engine(self) -> Engine:
        return self._engine or get_engine()

    # -- the main loop ---------------------------------------------------------------------
    async def run(self) -> int:
        await self._startup()
        if self.stopping.is_set():
            return self.exit_code
        log.info(
            "worker ready (pid %s, consumer %s, queue %s, concurrency %d)",
            os.getpid(),
            self.consumer,
            self.queue,
            self.concurrency,
        )
        sweeper = asyncio.create_task(self._sweep_forever()) if self.sweep_seconds > 0 else None
        reader = asyncio.create_task(self._read_forever())
        stop = asyncio.create_task(self.stopping.wait())
        await asyncio.wait({reader, stop}, return_when=asyncio.FIRST_COMPLETED)
        if reader.done() and not reader.cancelled() and reader.exception() is not None:
            # Cannot happen by design (the reader catches everything); if it does, say so and
            # exit non-zero so that a supervisor starts another worker.
            log.error("the reader stopped unexpectedly: %r", reader.exception())
            self.exit_code = EXIT_CRASHED
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        stop.cancel()
        await self._drain()
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sweeper
        await self._goodbye()
        return self.exit_code

    def request_stop(self, reason: str) -> None:
        if self.stopping.is_set():
            log.warning("%s again: handing running operations back now", reason)
            self.hurry.set()
            return
        log.warning("%s: no new work; %d operation(s) running", reason, len(self.active))
        self.stopping.set()

    async def _startup(self) -> None:
        self.broker.is_worker_process = True
        fresh = False
        while not self.stopping.is_set():
            try:
                # broker.startup() declares the group too, so ask first whether it exists.
                fresh = await create_group(self._redis, self.queue, self.group) or fresh
                await self.broker.startup()  # the start-up reap
                self.outage.recovered()
                if fresh:  # a first deploy, or a Redis that lost its data: trust no message
                    await self._make_all_due("consumer group created")
                return
            except _BROKEN as exc:
                if self.outage.exhausted:
                    log.error("Redis unreachable for the whole grace at start; giving up")
                    self.exit_code = EXIT_REDIS_GONE
                    self.stopping.set()
                    return
                await asyncio.sleep(self.outage.failed(exc))

    async def _read_forever(self) -> None:
        while not self.stopping.is_set():
            free = self.concurrency - len(self.active)
            if free <= 0:
                await asyncio.wait(self.active, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                messages = await self._read(free)
                self.outage.recovered()
            except ResponseError as exc:
                if "NOGROUP" in str(exc):
                    await self._recreate_group()
                else:  # e.g. a READONLY replica during a failover: try again shortly
                    log.warning("Redis refused the read: %s", exc)
                    await asyncio.sleep(1.0)
                continue
            except _BROKEN as exc:
                if self.outage.exhausted:
                    log.error(
                        "Redis unreachable for more than %.0f s; stopping this worker",
                        self.outage.grace,
                    )
                    self.exit_code = EXIT_REDIS_GONE
                    self.stopping.set()
                    return
                await asyncio.sleep(self.outage.failed(exc))
                continue
            except Exception:  # never let the reader die silently: the worker would idle
                log.exception("reading the operation stream failed; retrying")
                await asyncio.sleep(1.0)
                continue
            for message_id, data in messages:
                self._spawn(message_id, data)
            await self._flush_acks()

    async def _read(self, count: int) -> list[tuple[str, bytes]]:
        """New messages (up to `count`), or messages a dead consumer left pending too long."""
        now = time.monotonic()
        every = min(_AUTOCLAIM_EVERY_SECONDS, self.idle_timeout_ms / 2000)
        if now - self._last_autoclaim > every:
            self._last_autoclaim = now
            claimed = await self._redis.xautoclaim(
                self.queue, self.group, self.consumer, self.idle_timeout_ms, count=count
            )
            found = [(mid, fields[b"data"]) for mid, fields in claimed[1] if fields]
            if found:
                log.info("took over %d message(s) left pending by another consumer", len(found))
                return found
        fetched = await self._redis.xreadgroup(
            self.group, self.consumer, {self.queue: ">"}, count=count, block=2000
        )
        return [(mid, fields[b"data"]) for _stream, entries in fetched for mid, fields in entries]

    async def _recreate_group(self) -> None:
        """Redis came back without its data: the group and every message are gone."""
        try:
            await create_group(self._redis, self.queue, self.group)
        except Exception as exc:  # the next read tries again
            log.warning("could not re-create the consumer group (%s)", type(exc).__name__)
            await asyncio.sleep(0.5)
            return
        self.outage.recovered()
        await self._make_all_due("Redis lost its data: consumer group re-created")
        if self.sweep_seconds > 0:
            await self._relay()

    async def _make_all_due(self, why: str) -> None:
        try:
            due = await asyncio.to_thread(outbox.make_all_due, self.engine)
        except Exception as exc:  # no database now: the runs fall due by themselves later
            log.warning("%s; could not make queued runs due (%s)", why, type(exc).__name__)
            return
        log.warning("%s; %d queued run(s) to be sent again", why, due)

    # -- executing one message ---------------------------------------------------------------
    def _spawn(self, message_id: str | bytes, data: bytes) -> None:
        mid = message_id.decode() if isinstance(message_id, bytes) else str(message_id)
        task = asyncio.create_task(self._execute(mid, data))
        self.active.add(task)
        task.add_done_callback(self.active.discard)

    async def _execute(self, message_id: str, data: bytes) -> None:
        try:
            task_id = self.broker.formatter.loads(data).task_id
        except Exception:  # the Receiver logs and skips an unreadable message
            task_id = ""
        try:
            await self.receiver.callback(data)
        except Exception:
            log.exception("message %s failed outside its body", message_id)
        if self.middleware.should_ack(task_id):
            self._ack_soon(message_id)

    def _ack_soon(self, message_id: str) -> None:
        """Acknowledge a processed message. One XACK is in flight at a time and carries every
        id that finished meanwhile: idle, each message is acked at once; draining a backlog,
        one round trip acknowledges many."""
        self._to_ack.append(message_id)
        if self._acker is None or self._acker.done():
            self._acker = asyncio.create_task(self._send_acks())

    async def _send_acks(self) -> None:
        while self._to_ack:
            batch, self._to_ack = self._to_ack, []
            await self._ack(batch)

    async def _ack(self, message_ids: list[str]) -> None:
        try:
            await self._redis.xack(self.queue, self.group, *message_ids)
        except _BROKEN:
            self._unacked.extend(message_ids)  # sent after the reconnect
        except ResponseError as exc:  # NOGROUP: Redis lost the messages; nothing to ack
            log.info("ack of %d message(s) dropped: %s", len(message_ids), exc)

    async def _flush_acks(self) -> None:
        """Send the acks held during an outage."""
        pending, self._unacked = self._unacked, []
        if pending:
            await self._ack(pending)
            log.info("sent %d acknowledgement(s) held during the outage", len(pending))

    # -- sweeps ------------------------------------------------------------------------------
    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_seconds)
            try:
                await asyncio.to_thread(reap_lost_runs_job, engine=self.engine)
            except Exception as exc:
                log.warning("sweep: could not reap lost runs (%s)", type(exc).__name__)
            if self.outage.since is None:
                await self._relay()

    async def _relay(self) -> None:
        try:
            await outbox.relay(self.dispatcher.send, engine=self.engine)
        except Exception as exc:
            log.warning("sweep: could not relay the outbox (%s)", type(exc).__name__)

    # -- stopping ----------------------------------------------------------------------------
    async def _drain(self) -> None:
        if not self.active:
            return
        log.warning(
            "waiting up to %.0f s for %d running operation(s)",
            self.shutdown_grace,
            len(self.active),
        )
        hurry = asyncio.create_task(self.hurry.wait())
        deadline = time.monotonic() + self.shutdown_grace
        while self.active and not self.hurry.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            await asyncio.wait(
                {*self.active, hurry}, timeout=left, return_when=asyncio.FIRST_COMPLETED
            )
        hurry.cancel()
        if not self.active:
            return
        executions = self.middleware.hand_back_all()
        log.warning(
            "handing %d running operation(s) back to the queue; %d not resumable will fail",
            len(executions),
            len(self.active) - len(executions),
        )
        for task in list(self.active):
            task.cancel()
        await asyncio.wait(set(self.active), timeout=_HAND_BACK_WAIT_SECONDS)
        if self.outage.since is None:
            await self._relay()  # another worker gets them now, not at its next sweep

    async def _goodbye(self) -> None:
        if self._acker is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._acker, 2.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._flush_acks(), 2.0)
        with contextlib.suppress(Exception):  # drop this consumer if it holds nothing
            info = await asyncio.wait_for(
                self._redis.xpending_range(
                    self.queue, self.group, "-", "+", 1, consumername=self.consumer
                ),
                2.0,
            )
            if not info:
                await asyncio.wait_for(
                    self._redis.xgroup_delconsumer(self.queue, self.group, self.consumer), 2.0
                )
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.broker.shutdown(), 5.0)
        with contextlib.suppress(Exception):
            await self._redis.aclose()


def install_signal_handlers(runtime: WorkerRuntime) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, runtime.request_stop, sig.name)


async def serve(broker: AsyncBroker | None = None) -> int:
    if broker is None:
        from opsapp.worker.app import broker as app_broker

        broker = app_broker
    if not isinstance(broker, RedisStreamBroker):
        log.error("opsapp worker needs OPSAPP_BROKER=redis (the embedded mode runs in the app)")
        return 2
    runtime = WorkerRuntime(broker)
    install_signal_handlers(runtime)
    code = await runtime.run()
    log.info("worker stopped (exit %d)", code)
    return code


def main() -> int:
    logging.basicConfig(
        level=os.environ.get("OPSAPP_WORKER_LOG_LEVEL", "INFO").upper(),
        format="[%(asctime)s][%(levelname)-7s][%(name)s] %(message)s",
        stream=sys.stderr,
    )
    # taskiq's receiver logs every task it executes at INFO: one line per run costs a drain
    # more than the run's own database work. Its warnings and errors still show.
    logging.getLogger("taskiq.receiver").setLevel(
        max(logging.WARNING, logging.getLogger().getEffectiveLevel())
    )
    return asyncio.run(serve())


def supervise(processes: int) -> int:
    """`opsapp worker --workers N`: N worker processes; SIGTERM / SIGINT are passed on (each
    child stops gracefully), a child that crashed is started again after a second."""
    import subprocess

    argv = [sys.executable, "-m", "opsapp.worker.runner"]
    children = [subprocess.Popen(argv) for _ in range(processes)]
    stopping = False

    def _forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    while True:
        time.sleep(0.2)
        if stopping and all(child.poll() is not None for child in children):
            return max(child.returncode or 0 for child in children)
        for i, child in enumerate(children):
            code = child.poll()
            if code not in (None, EXIT_OK) and not stopping:
                log.error("worker process %s exited with %s; starting another", child.pid, code)
                time.sleep(1.0)
                children[i] = subprocess.Popen(argv)


if __name__ == "__main__":
    sys.exit(main())
