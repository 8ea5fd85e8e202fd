"""Operation task bodies, independent of any broker.

    @operation_task("inventory.sync")
    async def sync_inventory(ctx: RunContext) -> RunResult: ...

A body receives a RunContext (the run's id, tenant, type and normalised identity inputs, an
engine, and `report_progress`) and returns a RunResult. It never sets run status: the run-tracking
middleware claims the run before the body and completes it from the result afterwards. Brokers
built by opsapp.worker.broker expose every body as the taskiq task `opsapp.op.<run_type>`,
including bodies registered after the broker was built.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from opsapp.operations import lifecycle
from opsapp.operations.catalog import get_type
from opsapp.operations.results import RunResult, validate_counts

log = logging.getLogger("opsapp.worker")

TASK_PREFIX = "opsapp.op."

Body = Callable[["RunContext"], Awaitable[RunResult]]


class Listener(Protocol):
    def registry_changed(self, run_type: str, body: Body | None) -> None:
        """`body` is None when the run type was unregistered."""


_BODIES: dict[str, Body] = {}
# Weak: a broker's binder lives as long as its broker, not as long as the registry.
_LISTENERS: weakref.WeakSet[Listener] = weakref.WeakSet()


class NoTaskForRunType(LookupError):
    """No task body is registered for a run type: nothing could execute such a run."""

    def __init__(self, run_type: str) -> None:
        self.run_type = run_type
        super().__init__(f"no task body is registered for operation type '{run_type}'")


def task_name_for(run_type: str) -> str:
    """The taskiq task name of a run type's body."""
    return f"{TASK_PREFIX}{run_type}"


def run_type_of(task_name: str) -> str | None:
    return task_name.removeprefix(TASK_PREFIX) if task_name.startswith(TASK_PREFIX) else None


class RunNoLongerOwned(RuntimeError):
    """A progress write was refused: the run was taken over by another worker or completed
    elsewhere while this one worked. The body must stop; nothing it writes counts any more."""

    def __init__(self, run_id: int, attempt: int | None) -> None:
        super().__init__(f"run {run_id} is no longer running on attempt {attempt}")


@dataclass
class RunContext:
    """What a task body gets. `inputs` are the normalised identity inputs of the run.
    `attempt` is the fence token of the worker's claim (None outside a worker)."""

    run_id: int
    tenant_id: int
    run_type: str
    inputs: dict[str, Any]
    engine: Engine
    progress_interval: float = 1.0
    attempt: int | None = None
    _last_write: float | None = field(default=None, init=False, repr=False)
    _latest: dict[str, int] | None = field(default=None, init=False, repr=False)
    _written: dict[str, int] | None = field(default=None, init=False, repr=False)
    _deferred: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    @property
    def last_counts(self) -> dict[str, int]:
        """The counts most recently reported (written or not)."""
        return dict(self._latest or {})

    async def report_progress(self, counts: Mapping[str, int], *, final: bool = False) -> None:
        """Store running counts (validated against the type's summary keys; InvalidCounts
        otherwise). Writes at most once per `progress_interval`; a report that arrives sooner is
        written when the interval has passed, and `final=True` writes at once. Raises
        RunNoLongerOwned when a write is refused because the worker's attempt was fenced."""
        self._latest = validate_counts(self.run_type, counts)
        wait = self._wait_before_write()
        if final or wait <= 0:
            await self._write()
        elif self._deferred is None or self._deferred.done():
            self._deferred = asyncio.create_task(self._write_later(wait))

    async def flush_progress(self) -> None:
        """Write the latest counts now if they were not written yet."""
        if self._latest is not None and self._latest != self._written:
            await self._write()

    def close(self) -> None:
        """Stop a pending deferred write (the run is being completed with its final counts)."""
        if self._deferred is not None and not self._deferred.done():
            self._deferred.cancel()

    def _wait_before_write(self) -> float:
        if self._last_write is None:
            return 0.0
        return self._last_write + self.progress_interval - time.monotonic()

    async def _write_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await self.flush_progress()
        except RunNoLongerOwned as exc:  # the heartbeat notices too and stops the body
            log.warning("progress of run %s refused: %s", self.run_id, exc)
        except Exception:  # progress is best effort; the final counts come with completion
            log.exception("could not store progress of run %s", self.run_id)

    async def _write(self) -> None:
        counts = dict(self._latest or {})
        self._last_write = time.monotonic()
        self._written = counts
        stored = await asyncio.to_thread(
            lifecycle.update_progress,
            self.run_id,
            counts,
            attempt=self.attempt,
            engine=self.engine,
        )
        if not stored and self.attempt is not None:
            raise RunNoLongerOwned(self.run_id, self.attempt)


def operation_task(run_type: str) -> Callable[[Body], Body]:
    """Register the decorated coroutine as the body of `run_type` (a catalog type)."""

    def decorator(body: Body) -> Body:
        register_body(run_type, body)
        return body

    return decorator


def register_body(run_type: str, body: Body, *, replace: bool = False) -> None:
    """Register a body; UnknownOperationType for a type the catalog does not know."""
    get_type(run_type)
    if not asyncio.iscoroutinefunction(body):
        raise TypeError(f"the body of {run_type} must be an async function")
    current = _BODIES.get(run_type)
    if current is not None and current is not body and not replace:
        raise ValueError(f"a body for {run_type} is already registered ({current.__qualname__})")
    _BODIES[run_type] = body
    _notify(run_type, body)


def unregister(run_type: str) -> None:
    """Forget the body of `run_type` (tests)."""
    if _BODIES.pop(run_type, None) is not None:
        _notify(run_type, None)


def reset_registry() -> None:
    """Forget every body (tests)."""
    for run_type in list(_BODIES):
        unregister(run_type)


@contextmanager
def registry_snapshot() -> Iterator[None]:
    """Restore the registry to its current content on exit (tests registering their own)."""
    saved = dict(_BODIES)
    try:
        yield
    finally:
        reset_registry()
        for run_type, body in saved.items():
            register_body(run_type, body)


def get_body(run_type: str) -> Body:
    try:
        return _BODIES[run_type]
    except KeyError:
        raise NoTaskForRunType(run_type) from None


def is_registered(run_type: str) -> bool:
    return run_type in _BODIES


def registered_types() -> list[str]:
    return sorted(_BODIES)


def add_listener(listener: Listener) -> None:
    """Tell `listener` about every later (un)registration. Held weakly: keep it alive."""
    _LISTENERS.add(listener)


def _notify(run_type: str, body: Body | None) -> None:
    for listener in list(_LISTENERS):
        listener.registry_changed(run_type, body)
