"""Writing captured groups into a set: the Graph/database pipeline, the writer that keeps the
counts, and the result of a run whose set is gone. Shared by add_policies and schedule runs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.engine import Engine

from opsapp.features.backups import codes
from opsapp.features.backups.capture import Capture, store_versions
from opsapp.features.backups.items import insert_items
from opsapp.models.types import utcnow
from opsapp.operations.failures import make_failure
from opsapp.operations.results import RunResult

Progress = Callable[..., Awaitable[None]]


def set_gone(counts: dict[str, int]) -> RunResult:
    """The set is gone: the run failed as a whole and nothing of it remains."""
    kept = {k: 0 for k in counts}
    kept.update(total=counts.get("total", 0), processed=0)  # processed 0: the outcome is failed
    return RunResult(
        counts=kept,
        fatal=make_failure(
            codes.SET_NOT_FOUND,
            "The backup set no longer exists (it was deleted); nothing was added to or "
            "removed from it.",
        ),
    )


class Pipeline:
    """Capture group n+1 from Graph while group n is being written to the database."""

    def __init__(
        self,
        capture: Callable[[Any], Awaitable[Capture]],
        store: Callable[[Capture], Awaitable[None]],
    ) -> None:
        self.capture, self.store = capture, store
        self._pending: asyncio.Task[Capture] | None = None

    async def feed(self, group: Any) -> None:
        task = asyncio.ensure_future(self.capture(group))
        try:
            await self.drain()
        except BaseException:
            task.cancel()
            raise
        self._pending = task

    async def drain(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            await self.store(await pending)

    def cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()


class SetWriter:
    """Stores captured groups as versions and as items of one set, keeping the counts."""

    def __init__(
        self,
        engine: Engine,
        *,
        tenant_id: int,
        set_id: int,
        run_id: int | None,
        include_assignments: bool = True,
        include_scope_tags: bool = True,
        counts: dict[str, int],
        failures: list[dict[str, Any]],
        report_progress: Progress,
    ) -> None:
        self.engine, self.tenant_id, self.set_id, self.run_id = engine, tenant_id, set_id, run_id
        self.include = (include_assignments, include_scope_tags)
        self.counts, self.failures, self.report_progress = counts, failures, report_progress

    def _write(self, capture: Capture) -> None:
        now = utcnow()
        stored = store_versions(
            self.engine,
            tenant_id=self.tenant_id,
            policy_type=capture.policy_type,
            snapshots=capture.snapshots,
            run_id=self.run_id,
            now=now,
        )
        added = insert_items(
            self.engine,
            tenant_id=self.tenant_id,
            set_id=self.set_id,
            stored=stored,
            include_assignments=self.include[0],
            include_scope_tags=self.include[1],
            run_id=self.run_id,
            now=now,
        )
        c = self.counts
        c["processed"] += len(capture.snapshots) + len(capture.failures)
        c["created"] += added
        c["skipped"] += len(stored) - added  # added to the set meanwhile by a concurrent run
        c["failed"] += len(capture.failures)
        if "unchanged" in c:
            c["unchanged"] += sum(1 for s in stored if s.reused)
        self.failures.extend(capture.failures)

    async def store(self, capture: Capture) -> None:
        await asyncio.to_thread(self._write, capture)
        await self.report_progress(dict(self.counts))
