"""The embedded mode: operations run inside the current process and event loop (the Reflex
backend's lifespan, or the CLI), with light maintenance loops instead of a scheduler: reap lost
runs and relay the outbox every heartbeat interval, prune once a day, and fire due backup schedules every 30 s (each slot once,
whatever the number of processes: see opsapp.features.backups.scheduler).

    app.register_lifespan_task(app_lifespan)           # Reflex backend (either mode)

    async with embedded_worker():                      # CLI
        await start_operation(..., dispatcher=get_dispatcher())

`get_dispatcher()` is what every start surface uses in either mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncIterator
from datetime import timedelta

from sqlalchemy.engine import Engine
from taskiq import AsyncBroker, InMemoryBroker

from opsapp import locks
from opsapp.db import get_engine
from opsapp.models.types import utcnow
from opsapp.operations import outbox
from opsapp.settings import get_settings
from opsapp.worker.broker import build_broker
from opsapp.worker.config import get_worker_settings
from opsapp.worker.dispatch import TaskiqDispatcher
from opsapp.worker.loader import load_task_modules
from opsapp.worker.maintenance import (
    fire_backup_schedules_job,
    prune_runs_job,
    reap_lost_runs_job,
)

log = logging.getLogger("opsapp.worker.embedded")

REAP_INTERVAL_SECONDS: float | None = None  # the heartbeat interval: lost after + one beat
PRUNE_CHECK_SECONDS = 60.0
SCHEDULE_INTERVAL_SECONDS = 30.0  # a due backup schedule fires at most this late
DRAIN_TIMEOUT_SECONDS = 10.0

_embedded: list[InMemoryBroker] = []  # a stack: the innermost running embedded worker wins
_clients: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, str], TaskiqDispatcher]
] = weakref.WeakKeyDictionary()


class WorkerNotRunning(RuntimeError):
    """Embedded mode, but no embedded worker runs in this process: nothing would execute runs."""


def _prune_once_per_day(engine: Engine) -> str | None:
    """Prune unless this process or another already did today (a day-keyed lease)."""
    today = utcnow().date().isoformat()
    if not locks.acquire(
        engine, f"schedule:embedded.prune:{today}", locks.new_holder(), timedelta(hours=25)
    ):
        return None
    return prune_runs_job(engine=engine)


async def maintenance_loop(
    *,
    engine: Engine | None = None,
    reap_interval: float | None = REAP_INTERVAL_SECONDS,
    dispatcher: TaskiqDispatcher | None = None,
) -> None:
    """Reap lost runs now and every `reap_interval` seconds (None: the heartbeat interval),
    relay the outbox through `dispatcher` (runs a previous process left queued), prune once a
    day. Never raises (except cancellation)."""
    interval = reap_interval or get_settings().heartbeat_seconds
    last_prune_check = -1e9
    while True:
        eng = engine or get_engine()
        try:
            await asyncio.to_thread(reap_lost_runs_job, engine=eng)
        except Exception:
            log.exception("embedded maintenance: reaping lost runs failed")
        if dispatcher is not None:
            try:
                await outbox.relay(dispatcher.send, engine=eng)
            except Exception:
                log.exception("embedded maintenance: relaying the outbox failed")
        if time.monotonic() - last_prune_check < PRUNE_CHECK_SECONDS:
            await asyncio.sleep(interval)
            continue
        last_prune_check = time.monotonic()
        try:
            outcome = await asyncio.to_thread(_prune_once_per_day, eng)
            if outcome:
                log.info("embedded maintenance: %s", outcome)
        except Exception:
            log.exception("embedded maintenance: pruning failed")
        await asyncio.sleep(interval)


async def backup_schedule_loop(
    *,
    dispatcher: TaskiqDispatcher,
    engine: Engine | None = None,
    interval: float = SCHEDULE_INTERVAL_SECONDS,
) -> None:
    """Fire due backup schedules now and every `interval` seconds through `dispatcher` (the
    embedded broker). Never raises (except cancellation)."""
    try:  # once: `supports` checks the registered bodies
        await asyncio.to_thread(load_task_modules)
    except Exception:
        log.exception("embedded maintenance: loading the task modules failed")
    while True:
        try:
            await fire_backup_schedules_job(dispatcher=dispatcher, engine=engine or get_engine())
        except Exception:
            log.exception("embedded maintenance: firing backup schedules failed")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def embedded_worker(
    *,
    engine: Engine | None = None,
    maintenance: bool = True,
    reap_interval: float | None = REAP_INTERVAL_SECONDS,
    schedule_interval: float = SCHEDULE_INTERVAL_SECONDS,
    drain_timeout: float = DRAIN_TIMEOUT_SECONDS,
) -> AsyncIterator[AsyncBroker]:
    """Start an in-process broker in the running event loop (and, with `maintenance`, the
    maintenance and backup schedule loops); on exit wait up to `drain_timeout` for running
    operations, then cancel them (their runs are failed as worker.lost by the middleware) and
    shut the broker down."""
    broker = build_broker("memory", engine=engine)
    assert isinstance(broker, InMemoryBroker)
    await broker.startup()
    loop_tasks: list[asyncio.Task[None]] = []
    if maintenance:
        loop_tasks = [
            asyncio.create_task(
                maintenance_loop(
                    engine=engine,
                    reap_interval=reap_interval,
                    dispatcher=TaskiqDispatcher(broker),
                )
            ),
            asyncio.create_task(
                backup_schedule_loop(
                    dispatcher=TaskiqDispatcher(broker), engine=engine, interval=schedule_interval
                )
            ),
        ]
    _embedded.append(broker)
    try:
        yield broker
    finally:
        _embedded.remove(broker)
        for loop_task in loop_tasks:
            loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop_task
        await _drain(broker, drain_timeout)
        await broker.shutdown()


async def _drain(broker: InMemoryBroker, timeout: float) -> None:
    running = list(broker._running_tasks)
    if not running:
        return
    _done, pending = await asyncio.wait(running, timeout=timeout)
    for task in pending:
        task.cancel()
    if pending:
        log.warning("embedded worker stopped with %d operation(s) still running", len(pending))
        await asyncio.wait(pending, timeout=5)


@contextlib.asynccontextmanager
async def app_lifespan() -> AsyncIterator[None]:
    """For the web backend: run the embedded worker in memory mode; in redis mode the workers
    are separate processes, so only close this loop's Redis client on the way out."""
    if get_settings().broker == "memory":
        async with embedded_worker():
            yield
        return
    try:
        yield
    finally:
        loop = asyncio.get_running_loop()
        for dispatcher in _clients.pop(loop, {}).values():
            with contextlib.suppress(Exception):
                await dispatcher.broker.shutdown()


def current_embedded_broker() -> InMemoryBroker | None:
    return _embedded[-1] if _embedded else None


def get_dispatcher() -> TaskiqDispatcher:
    """The dispatcher of the configured mode: the running embedded worker (memory), or a Redis
    client broker (one per event loop: redis-py connections belong to one loop)."""
    load_task_modules()  # the client must know which types have a body
    settings = get_settings()
    if settings.broker == "memory":
        broker = current_embedded_broker()
        if broker is None:
            raise WorkerNotRunning(
                "OPSAPP_BROKER=memory but no embedded worker runs in this process; start "
                "operations inside `async with embedded_worker():` (or use OPSAPP_BROKER=redis)"
            )
        return TaskiqDispatcher(broker)
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    key = (settings.redis_url, get_worker_settings().queue_name)
    cache = _clients.setdefault(loop, {}) if loop is not None else {}
    if key not in cache:
        client = build_broker(
            "redis", redis_url=settings.redis_url, socket_timeout=settings.dispatch_timeout_seconds
        )
        cache[key] = TaskiqDispatcher(client)
    return cache[key]
