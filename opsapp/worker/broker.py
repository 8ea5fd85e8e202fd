"""The broker factory: in-process (embedded mode, unit tests) or Redis streams (scaled mode).

Every broker gets the run-tracking middleware, one `opsapp.op.<run_type>` task per registered
body (bodies registered later are added as they appear) and the maintenance tasks, which carry
their cron schedules as labels for the scheduler (reap lost runs and fire due backup schedules
every minute, prune daily). The backup schedule task runs in a worker and dispatches the runs it
starts through that worker's own broker.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from redis.asyncio import Redis, ResponseError
from sqlalchemy.engine import Engine
from taskiq import AsyncBroker, BrokerMessage, InMemoryBroker, TaskiqEvents, TaskiqState

from opsapp.settings import get_settings
from opsapp.worker import registry
from opsapp.worker._compat import RedisStreamBroker
from opsapp.worker.config import get_worker_settings
from opsapp.worker.maintenance import (
    BACKUP_SCHEDULES_CRON,
    BACKUP_SCHEDULES_TASK,
    PRUNE_CRON,
    PRUNE_TASK,
    REAP_CRON,
    REAP_TASK,
    fire_backup_schedules_job,
    prune_runs_job,
    reap_lost_runs_job,
)
from opsapp.worker.middleware import RunTrackingMiddleware, task_function

log = logging.getLogger("opsapp.worker")

BrokerKind = Literal["memory", "redis"]
# Approximate cap of the stream: far above any sane backlog, so only acknowledged history goes.
STREAM_MAXLEN = 100_000
XREAD_BLOCK_MS = 2000


class _TaskBinder:
    """Keeps a broker's `opsapp.op.*` tasks in step with the body registry."""

    def __init__(self, broker: AsyncBroker, middleware: RunTrackingMiddleware) -> None:
        self.broker, self.middleware = broker, middleware

    def registry_changed(self, run_type: str, body: registry.Body | None) -> None:
        name = registry.task_name_for(run_type)
        if body is None:
            self.broker.local_task_registry.pop(name, None)
        elif name not in self.broker.local_task_registry:
            self.broker.register_task(task_function(self.middleware, run_type), task_name=name)


def tracking_middleware(broker: AsyncBroker) -> RunTrackingMiddleware:
    """The run-tracking middleware of a broker built here."""
    for middleware in broker.middlewares:
        if isinstance(middleware, RunTrackingMiddleware):
            return middleware
    raise LookupError("this broker has no run-tracking middleware")


class OpsStreamBroker(RedisStreamBroker):
    """taskiq-redis's stream broker with one kept client for sending.

    Its own `kick` builds a `Redis` client object for every message; building one (its
    response-callback table) costs more than the XADD round trip itself on the start path."""

    _sender: Redis | None = None

    async def kick(self, message: BrokerMessage) -> None:
        if self._sender is None:
            self._sender = Redis(connection_pool=self.connection_pool)
        await self._sender.xadd(
            message.labels.get("queue_name") or self.queue_name,
            {b"data": message.message},
            maxlen=self.maxlen,
            approximate=self.approximate,
        )


def _redis_broker(
    redis_url: str, *, queue_name: str | None, socket_timeout: float | None
) -> RedisStreamBroker:
    ws = get_worker_settings()
    # socket_timeout bounds every command: a worker's must exceed its XREADGROUP block (the
    # setting refuses less); a client that never listens may pass a shorter one.
    timeout = socket_timeout or ws.socket_timeout_seconds
    return OpsStreamBroker(
        redis_url,
        queue_name=queue_name or ws.queue_name,
        consumer_group_name=ws.consumer_group,
        consumer_id="0",  # a group (re-)created after messages arrived must still see them
        xread_block=XREAD_BLOCK_MS,
        maxlen=STREAM_MAXLEN,
        idle_timeout=int(ws.idle_timeout_seconds * 1000),
        # A worker killed while it holds the autoclaim lock must not stop redelivery for good.
        unacknowledged_lock_timeout=60,
        socket_connect_timeout=ws.connect_timeout_seconds,
        socket_timeout=timeout,
    )


def build_broker(
    kind: BrokerKind,
    *,
    redis_url: str | None = None,
    engine: Engine | None = None,
    queue_name: str | None = None,
    socket_timeout: float | None = None,
    middleware_options: dict[str, Any] | None = None,
) -> AsyncBroker:
    """A broker with run tracking and every registered body as `opsapp.op.<run_type>`.

    `engine` defaults (lazily, per use) to the configured DATABASE_URL. A Redis broker reaps lost
    runs once when it starts as a worker (`taskiq worker`). `socket_timeout` (Redis) is for
    dispatch-only clients; a worker must keep it above the 2 s XREADGROUP block."""
    if kind == "memory":
        broker: AsyncBroker = InMemoryBroker(max_async_tasks=100, max_stored_results=200)
    elif kind == "redis":
        broker = _redis_broker(
            redis_url or get_settings().redis_url,
            queue_name=queue_name,
            socket_timeout=socket_timeout,
        )

        @broker.on_event(TaskiqEvents.WORKER_STARTUP)
        async def _reap_at_startup(_state: TaskiqState) -> None:
            try:
                reaped = await asyncio.to_thread(reap_lost_runs_job, engine=engine)
                log.info("worker start: reaped %d lost run(s)", len(reaped))
            except Exception:  # a worker must still start; the scheduled reaper retries
                log.exception("worker start: could not reap lost runs")
    else:
        raise ValueError(f"unknown broker kind {kind!r}; use 'memory' or 'redis'")

    middleware = RunTrackingMiddleware(engine=engine, **(middleware_options or {}))
    broker.add_middlewares(middleware)

    async def reap_lost_runs_task() -> int:
        return len(await asyncio.to_thread(reap_lost_runs_job, engine=engine))

    async def prune_runs_task() -> str:
        return await asyncio.to_thread(prune_runs_job, engine=engine)

    broker.register_task(
        reap_lost_runs_task,
        task_name=REAP_TASK,
        schedule=[{"cron": REAP_CRON, "schedule_id": REAP_TASK}],
    )

    async def fire_backup_schedules_task() -> int:
        from opsapp.worker.dispatch import TaskiqDispatcher  # imports this module

        return await fire_backup_schedules_job(dispatcher=TaskiqDispatcher(broker), engine=engine)

    broker.register_task(
        fire_backup_schedules_task,
        task_name=BACKUP_SCHEDULES_TASK,
        schedule=[{"cron": BACKUP_SCHEDULES_CRON, "schedule_id": BACKUP_SCHEDULES_TASK}],
    )
    broker.register_task(
        prune_runs_task,
        task_name=PRUNE_TASK,
        schedule=[{"cron": PRUNE_CRON, "schedule_id": PRUNE_TASK}],
    )

    binder = _TaskBinder(broker, middleware)
    broker._opsapp_binder = binder  # type: ignore[attr-defined]  # keeps the weak listener alive
    registry.add_listener(binder)
    for run_type in registry.registered_types():
        binder.registry_changed(run_type, registry.get_body(run_type))
    return broker


async def ensure_stream_group(broker: AsyncBroker) -> None:
    """Create the stream and its consumer group if missing. The group starts at "0", the
    stream's beginning: a group created after messages were added (a dispatcher that wrote to a
    Redis which came back empty, before any worker re-created the group) must still see them.
    A stream that already has the group is left alone."""
    if not isinstance(broker, RedisStreamBroker):
        return
    async with Redis(connection_pool=broker.connection_pool) as conn:
        await create_group(conn, broker.queue_name, broker.consumer_group_name)


async def create_group(conn: Redis, queue: str, group: str) -> bool:
    """XGROUP CREATE … 0 MKSTREAM; False when the group already existed."""
    try:
        await conn.xgroup_create(queue, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
        return False
    return True
