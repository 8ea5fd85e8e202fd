"""The one body of backup_schedule.run_now / .retry / .scheduled: a new set named after the
schedule and the time, every policy of the schedule's types captured into it, then retention.

Counts — total: policies listed from Graph; processed: policies handled (captured or failed);
created: items added to the new set; unchanged: of those, items whose captured state was already
stored (the existing PolicyVersion was reused, nothing new written); removed: older sets of the
schedule deleted by retention; skipped: policy types the schedule names that opsapp no longer
supports (each also reported as a failure, code policy_type.unsupported); failed: policies whose
capture failed, plus one per policy type Graph refused to list (e.g. 403).

Retention runs last, and only when the new set got items or nothing failed: a run that captured
nothing never prunes the good sets it would have replaced.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from opsapp.features.backups import codes
from opsapp.features.backups.capture import GROUP, capture_policies
from opsapp.features.backups.errors import BackupInputError
from opsapp.features.backups.items import SetGone
from opsapp.features.backups.set_retention import apply_retention
from opsapp.features.backups.sets import create_backup_set, free_set_name
from opsapp.features.backups.writer import Pipeline, SetWriter, set_gone
from opsapp.features.common import graph_failure
from opsapp.graph import GraphClient, GraphError
from opsapp.models import BackupSchedule
from opsapp.models.types import utcnow
from opsapp.operations import lifecycle
from opsapp.operations.failures import make_failure
from opsapp.operations.results import RunResult
from opsapp.policy_types import POLICY_TYPES_BY_KEY

COUNT_KEYS = ("total", "processed", "created", "unchanged", "removed", "skipped", "failed")
_SCHED = BackupSchedule.__table__


def _claim(engine: Engine, *, tenant_id: int, schedule_id: int, run_id: int | None) -> dict | None:
    """Record the run as the schedule's last run and read what the run needs (None: gone)."""
    mine = (_SCHED.c.id == schedule_id) & (_SCHED.c.tenant_id == tenant_id)
    with engine.begin() as conn:  # the write first: SQLite never upgrades a reader
        values = {"last_run_id": run_id} if run_id is not None else {"name": _SCHED.c.name}
        if not conn.execute(sa.update(_SCHED).where(mine).values(**values)).rowcount:
            return None
        return dict(conn.execute(sa.select(_SCHED).where(mine)).mappings().one())


def set_name_for(schedule: dict, when: datetime) -> str:
    """ "Nightly · 2026-11-30 02:00 CET": the schedule's name and the time in its own zone."""
    local = when.astimezone(ZoneInfo(schedule["timezone"]))
    return f"{schedule['name']} · {local:%Y-%m-%d %H:%M %Z}"


def _create_set(
    engine: Engine, *, tenant_id: int, schedule: dict, when: datetime, run_id: int | None
) -> int:
    base = set_name_for(schedule, when)
    for _attempt in range(5):  # a concurrent create may take the free name first
        try:
            with Session(engine) as session, session.begin():
                name = free_set_name(session, tenant_id=tenant_id, base=base)
                return create_backup_set(
                    session,
                    tenant_id=tenant_id,
                    name=name,
                    schedule_id=schedule["id"],
                    writer_run_id=run_id,
                ).id
        except BackupInputError:
            continue
    raise RuntimeError("could not find a free backup set name")  # pragma: no cover


def _when(inputs: dict[str, Any]) -> datetime:
    scheduled_for = inputs.get("scheduled_for")
    return datetime.fromisoformat(scheduled_for) if scheduled_for else utcnow()


async def run_schedule(
    *,
    engine: Engine,
    graph: GraphClient,
    tenant_id: int,
    inputs: dict[str, Any],
    run_id: int | None,
    report_progress,
) -> RunResult:
    counts = dict.fromkeys(COUNT_KEYS, 0)
    schedule = await asyncio.to_thread(
        _claim, engine, tenant_id=tenant_id, schedule_id=inputs["schedule_id"], run_id=run_id
    )
    if schedule is None:
        return RunResult(
            counts=counts,
            fatal=make_failure(
                codes.SCHEDULE_NOT_FOUND,
                "The backup schedule no longer exists (it was deleted); no backup was made.",
            ),
        )
    set_id = await asyncio.to_thread(
        _create_set,
        engine,
        tenant_id=tenant_id,
        schedule=schedule,
        when=_when(inputs),
        run_id=run_id,
    )
    if run_id is not None:  # the run page links the set it made
        await asyncio.to_thread(
            lifecycle.record_produced, run_id, {"backup_set_id": set_id}, engine=engine
        )
    result = RunResult(counts=counts, produced={"backup_set_id": set_id})
    writer = SetWriter(
        engine,
        tenant_id=tenant_id,
        set_id=set_id,
        run_id=run_id,
        counts=counts,
        failures=result.item_failures,
        report_progress=report_progress,
    )
    try:
        for policy_type in schedule["policy_types"] or []:
            if policy_type not in POLICY_TYPES_BY_KEY:
                counts["skipped"] += 1
                result.fail_item(
                    codes.TYPE_UNSUPPORTED,
                    f"Policy type '{policy_type[:64]}' is no longer supported; it was skipped.",
                    item=policy_type[:64],
                )
                continue
            await _capture_type(graph, policy_type, writer, result)
            await report_progress(dict(counts))
    except SetGone:
        return set_gone(counts)
    if counts["created"] or not result.item_failures:  # never prune good sets for a failed one
        counts["removed"] = await asyncio.to_thread(
            apply_retention,
            engine,
            tenant_id=tenant_id,
            schedule_id=schedule["id"],
            keep_last=schedule["keep_last"],
            run_id=run_id,
        )
    return result


async def _capture_type(
    graph: GraphClient, policy_type: str, writer: SetWriter, result: RunResult
) -> None:
    pipeline = Pipeline(
        lambda group: capture_policies(graph, policy_type, listed=group),
        writer.store,
    )
    seen: set[str] = set()
    group: list[dict] = []
    try:
        async for item in graph.list_policies(policy_type):
            graph_id = str(item.get("id", ""))
            if not graph_id or graph_id in seen:
                continue
            seen.add(graph_id)
            writer.counts["total"] += 1
            group.append(item)
            if len(group) >= GROUP:
                await pipeline.feed(group)
                group = []
        if group:
            await pipeline.feed(group)
        await pipeline.drain()
    except GraphError as exc:
        if group:  # what was listed before the failure is still captured
            await pipeline.feed(group)
        await pipeline.drain()
        result.item_failures.append(graph_failure(exc, item=policy_type))
        writer.counts["failed"] += 1
    finally:
        pipeline.cancel()
