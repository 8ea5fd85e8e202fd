"""restore.execute: write each planned item back through the Graph client — create (POST) or
update (the type's verb: PATCH, or PUT for settings catalog), then assignments via `/assign` —
and record a result per item. One item failing never stops the others; the run ends partially
succeeded then. The restore record moves with the run (adapter.start / adapter.finish).

Counts: total (items), processed, created, updated, unchanged, skipped, failed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsapp.db import session_scope
from opsapp.features.restore import adapter, codes
from opsapp.features.restore.preview import MAX_CHANGES_KEPT, Source, load_sources
from opsapp.graph import GraphClient, GraphError
from opsapp.graph.writes import assignment_body, write_body
from opsapp.models import ItemAction, ItemResult, Policy, RestoreItem, RestoreRun
from opsapp.models.types import utcnow
from opsapp.operations.failures import make_failure
from opsapp.operations.results import RunResult, decide_outcome
from opsapp.policy_types import POLICY_TYPES_BY_KEY

CONCURRENCY = 4  # items written at once (the Graph client paces requests on top)
WRITE_PERMISSION = "DeviceManagementConfiguration.ReadWrite.All"
_I = RestoreItem.__table__
_P = Policy.__table__


@dataclass
class Outcome:
    result: str
    message: str = ""
    target: str = ""
    failure: dict[str, Any] | None = None


@dataclass(frozen=True)
class Settings:
    restore_assignments: bool
    restore_scope_tags: bool
    create_missing: bool
    group_map: dict[str, str | None]  # missing group → existing group, or None (skip)
    skip_filters: frozenset[str]
    drop_tags: frozenset[str]


def _settings(restore: RestoreRun, conflicts: list[dict[str, Any]]) -> Settings:
    missing_groups = {c["ref"] for c in conflicts if c.get("kind") == "group_missing"}
    mapped = {g: (restore.group_map or {}).get(g) for g in missing_groups}
    return Settings(
        restore.restore_assignments,
        restore.restore_scope_tags,
        restore.create_missing,
        mapped,
        frozenset(c["ref"] for c in conflicts if c.get("kind") == "filter_missing"),
        frozenset(c["ref"] for c in conflicts if c.get("kind") == "scope_tag_missing"),
    )


def graph_failure(exc: GraphError, *, item: str) -> dict[str, Any]:
    if exc.code == "graph.forbidden":
        message = (
            f"Graph refused the write (403 Forbidden): the app registration needs the "
            f"{WRITE_PERMISSION} application permission, with admin consent."
        )
    else:
        message = exc.message
    return make_failure(exc.code, message, item=item)


def _assignments(source: Source, settings: Settings) -> list[dict[str, Any]]:
    kept = []
    for assignment in source.version.get("assignments") or []:
        target = assignment.get("target") or {}
        if target.get("deviceAndAppManagementAssignmentFilterId") in settings.skip_filters:
            continue
        kept.append(assignment)
    return assignment_body(kept, group_map=settings.group_map)


def _body(source: Source, settings: Settings) -> dict[str, Any]:
    payload = dict(source.version["payload"])
    if settings.restore_scope_tags and settings.drop_tags and payload.get("roleScopeTagIds"):
        tags = [t for t in payload["roleScopeTagIds"] if str(t) not in settings.drop_tags]
        payload["roleScopeTagIds"] = tags
    return write_body(source.policy_type, payload, include_scope_tags=settings.restore_scope_tags)


def _quiet(action: str) -> Outcome | None:
    """The outcome of an item that needs no Graph call (unchanged or skipped), else None."""
    if action == ItemAction.unchanged.value:
        return Outcome(ItemResult.unchanged.value, "Already matched the backup.")
    if action not in (ItemAction.create.value, ItemAction.update.value):
        return Outcome(ItemResult.skipped.value, "Skipped (see the preview).")
    return None


def _needs_assign(action: str, source: Source, changes: list[dict[str, Any]]) -> bool:
    """/assign replaces every assignment: send it only when they differ (an update whose plan
    changed an assignment path) or for a created policy that had some."""
    if action == ItemAction.create.value:
        return bool(source.version.get("assignments"))
    if len(changes) >= MAX_CHANGES_KEPT:  # the plan kept only the first paths: do not guess
        return True
    return any(str(c.get("path", "")).startswith("assignments[") for c in changes)


async def restore_item(
    graph: GraphClient,
    source: Source,
    action: str,
    settings: Settings,
    changes: list[dict[str, Any]] | None = None,
) -> Outcome:
    label = f"{source.policy_type}/{source.graph_id}"
    quiet = _quiet(action)
    if quiet is not None:
        return quiet
    if source.version is None:
        return _failed(codes.SOURCE_MISSING, "The captured version of this item is gone.", label)
    payload = source.version.get("payload")
    if not isinstance(payload, dict) or not payload.get("@odata.type"):
        return _failed(
            codes.PAYLOAD_INVALID,
            "The backed-up payload has no @odata.type; it cannot be written.",
            label,
        )
    try:
        body = _body(source, settings)
        target, result = await _write(graph, source, action, body, settings)
    except GraphError as exc:
        return Outcome(
            ItemResult.failed.value, _message(exc), failure=graph_failure(exc, item=label)
        )
    except (TypeError, ValueError, AttributeError) as exc:  # a payload of the wrong shape
        return _failed(
            codes.PAYLOAD_INVALID,
            f"The backed-up payload cannot be written ({type(exc).__name__}).",
            label,
        )
    written = ItemAction.create.value if result == ItemResult.created.value else action
    if (
        settings.restore_assignments
        and POLICY_TYPES_BY_KEY[source.policy_type].has_assignments
        and _needs_assign(written, source, changes or [])
    ):
        try:
            await graph.assign_policy(
                source.policy_type, target, assignments=_assignments(source, settings)
            )
        except GraphError as exc:
            failure = graph_failure(exc, item=label)
            return Outcome(
                ItemResult.failed.value,
                f"Written, but its assignments were not: {failure['message']}",
                target,
                failure,
            )
    verb = "Created" if result == ItemResult.created.value else "Updated"
    return Outcome(result, f"{verb}.", target)


async def _write(graph, source: Source, action: str, body: dict, settings: Settings):
    if action == ItemAction.update.value:
        try:
            await graph.update_policy(source.policy_type, source.graph_id, payload=body)
            return source.graph_id, ItemResult.updated.value
        except GraphError as exc:
            if exc.code != "graph.not_found" or not settings.create_missing:
                raise
    created = await graph.create_policy(source.policy_type, payload=body)
    new_id = str(created.get("id") or "")
    if not new_id:
        raise GraphError("graph.bad_response", "Graph created the policy but sent no id.")
    return new_id, ItemResult.created.value


def _failed(code: str, message: str, item: str) -> Outcome:
    return Outcome(ItemResult.failed.value, message, failure=make_failure(code, message, item=item))


def _message(exc: GraphError) -> str:
    return graph_failure(exc, item="")["message"]


def _load(engine: Engine, tenant_id: int, restore_id: int):
    with session_scope(engine) as session:
        restore = session.get(RestoreRun, restore_id)
        if restore is None or restore.tenant_id != tenant_id:
            return None
        items = list(
            session.execute(
                sa.select(_I.c.id, _I.c.action, _I.c.conflicts, _I.c.policy_id, _I.c.changes).where(
                    _I.c.restore_run_id == restore_id
                )
            )
        )
        sources = {s.item_id: s for s in load_sources(session, restore_id)}
        conflicts = [c for row in items for c in row.conflicts or []]
        session.expunge(restore)
        work = [(sources[r.id], r.action, r.policy_id, r.changes or []) for r in items]
        return restore, work, _settings(restore, conflicts)


def _record_quiet(engine: Engine, quiet: list[tuple[Source, Outcome]]) -> None:
    now = utcnow()
    with engine.begin() as conn:
        for result in {o.result for _, o in quiet}:
            ids = [s.item_id for s, o in quiet if o.result == result]
            message = next(o.message for _, o in quiet if o.result == result)
            for start in range(0, len(ids), 1000):
                conn.execute(
                    sa.update(_I)
                    .where(_I.c.id.in_(ids[start : start + 1000]))
                    .values(result=result, result_message=message, executed_at=now)
                )


def _record(engine: Engine, source: Source, policy_id: int | None, outcome: Outcome) -> None:
    """Store the item's result. A policy re-created under a new id is relinked: opsapp's policy
    row takes the new id, so the next sync captures it as the same policy (and drift against
    the backup shows no drift) instead of one removed and one added policy."""
    with engine.begin() as conn:
        conn.execute(
            sa.update(_I)
            .where(_I.c.id == source.item_id)
            .values(
                result=outcome.result,
                result_message=outcome.message[:500],
                target_graph_id=outcome.target[:128],
                executed_at=utcnow(),
            )
        )
        if outcome.result != ItemResult.created.value or policy_id is None:
            return
        taken = conn.execute(
            sa.select(_P.c.id).where(
                _P.c.graph_id == outcome.target,
                _P.c.policy_type == source.policy_type,
                _P.c.id != policy_id,
                _P.c.tenant_id
                == sa.select(_P.c.tenant_id).where(_P.c.id == policy_id).scalar_subquery(),
            )
        ).first()
        if taken is None:  # a sync already captured the new object as a policy of its own
            conn.execute(
                sa.update(_P)
                .where(_P.c.id == policy_id)
                .values(graph_id=outcome.target, removed_at=None, updated_at=utcnow())
            )


async def execute_restore(
    *,
    engine: Engine,
    graph: GraphClient,
    tenant_id: int,
    inputs: dict[str, Any],
    run_id: int | None,
    report_progress,
) -> RunResult:
    restore_id = int(inputs["restore_run_id"])
    loaded = await asyncio.to_thread(_load, engine, tenant_id, restore_id)
    if loaded is None or not await asyncio.to_thread(adapter.start, engine, restore_id):
        return RunResult(
            counts={"total": 0, "processed": 0},
            fatal=make_failure(codes.RESTORE_NOT_FOUND, "The restore no longer exists."),
        )
    _restore, work, settings = loaded
    counts = {
        "total": len(work),
        "processed": 0,
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
    }
    failures: list[dict[str, Any]] = []
    gate = asyncio.Semaphore(CONCURRENCY)

    def count(outcome: Outcome) -> None:
        counts["processed"] += 1
        counts[outcome.result] += 1
        if outcome.failure:
            failures.append(outcome.failure)

    # Unchanged and skipped items need no Graph call: recorded together, in one transaction.
    outcomes = [_quiet(w[1]) for w in work]
    quiet = [(w[0], o) for w, o in zip(work, outcomes, strict=True) if o is not None]
    loud = [w for w, o in zip(work, outcomes, strict=True) if o is None]
    await asyncio.to_thread(_record_quiet, engine, quiet)
    for _source, outcome in quiet:
        count(outcome)
    if quiet:
        await report_progress(dict(counts))

    async def one(source: Source, action: str, policy_id: int | None, changes: list) -> None:
        async with gate:
            outcome = await restore_item(graph, source, action, settings, changes)
        await asyncio.to_thread(_record, engine, source, policy_id, outcome)
        count(outcome)
        await report_progress(dict(counts))

    try:
        await asyncio.gather(*(one(*w) for w in loud))
    finally:
        outcome = decide_outcome(counts, failures, None)
        await asyncio.to_thread(adapter.finish, engine, restore_id, outcome)
    return RunResult(counts=counts, item_failures=failures)
