"""Worker-only knobs (the shared ones — heartbeat, lost-after, retention — live in settings)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # The Redis stream that carries operation messages, and the consumer group of the workers.
    queue_name: str = Field(default="opsapp:operations", alias="OPSAPP_REDIS_QUEUE")
    consumer_group: str = Field(default="opsapp-workers", alias="OPSAPP_REDIS_CONSUMER_GROUP")
    # A message a dead worker left unacknowledged is handed to another worker after this long.
    # Redelivery is harmless (a completed run is a no-op, a live one is left alone); the reaper,
    # not redelivery, is what completes a lost run.
    idle_timeout_seconds: float = Field(
        default=600.0, gt=0, alias="OPSAPP_REDIS_IDLE_TIMEOUT_SECONDS"
    )
    # A dead Redis must fail a dispatch fast: refused connections fail in ~1 ms, a stalled server
    # after these timeouts. The worker's socket timeout must exceed the XREADGROUP block (2 s).
    connect_timeout_seconds: float = Field(
        default=1.0, gt=0, alias="OPSAPP_REDIS_CONNECT_TIMEOUT_SECONDS"
    )
    socket_timeout_seconds: float = Field(
        default=5.0, gt=2.0, alias="OPSAPP_REDIS_SOCKET_TIMEOUT_SECONDS"
    )
    # Comma-separated modules imported besides opsapp.features.*.tasks (tests, plug-ins).
    extra_task_modules: str = Field(default="", alias="OPSAPP_EXTRA_TASK_MODULES")
    # opsapp worker (opsapp.worker.runner): bodies run at once in one process.
    concurrency: int = Field(default=20, ge=1, le=1000, alias="OPSAPP_WORKER_CONCURRENCY")
    # SIGTERM: running bodies get this long to finish; the rest are handed back to the queue.
    shutdown_grace_seconds: float = Field(
        default=30.0, ge=0, alias="OPSAPP_WORKER_SHUTDOWN_GRACE_SECONDS"
    )
    # A Redis outage this long is ridden out (bodies go on, acks wait); longer, the worker stops.
    outage_grace_seconds: float = Field(
        default=60.0, ge=0, alias="OPSAPP_REDIS_OUTAGE_GRACE_SECONDS"
    )
    # How often each worker reaps lost runs and relays the outbox; unset: the heartbeat
    # interval; 0: never (tests that need a run to stay lost).
    sweep_seconds: float | None = Field(default=None, ge=0, alias="OPSAPP_WORKER_SWEEP_SECONDS")
    # Progress writes from a task body: at most one per interval (the final one is never held).
    progress_interval_seconds: float = Field(
        default=1.0, ge=0, alias="OPSAPP_PROGRESS_INTERVAL_SECONDS"
    )


def get_worker_settings() -> WorkerSettings:
    """Read afresh each time (cheap): tests and subprocesses change the environment."""
    return WorkerSettings()
