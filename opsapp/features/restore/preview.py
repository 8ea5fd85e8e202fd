"""Preview: read the live tenant through Graph and plan every item of a restore — create
(missing in the tenant), update (differs: the changed setting paths, live → backup, from the drift
differ), unchanged, or skip — plus the conflicts that would make the restore wrong: assignment
groups or filters that no longer exist, scope tags that are gone, a type no longer supported.

Reads go through `$batch` (20 per round trip). The plan is written in one transaction that also
moves the restore to `previewed` and gives it its held run (the restore adapter)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from opsapp.db import session_scope
from opsapp.features.drift.diff import compare
from opsapp.features.policies.snapshots import Snapshot
from opsapp.features.restore import adapter
from opsapp.features.restore.drafts import get_restore
from opsapp.features.restore.errors import RestoreStateError
from opsapp.graph import GraphClient, GraphError
from opsapp.models import ItemAction, PolicyVersion, RestoreItem, RestoreRun, RestoreStatus
from opsapp.models.types import utcnow
from opsapp.policy_types import POLICY_TYPES_BY_KEY

SETTINGS_CATALOG = "settingsCatalogPolicy"
MAX_CHANGES_KEPT = 200  # per item; the count says how many there were
DEFAULT_SCOPE_TAG = "0"  # "Default": always there


@dataclass
class Source:
    """One item and the captured state it restores."""

    item_id: int
    policy_type: str
    graph_id: str
    version: dict[str, Any] | None  # {payload, assignments, scope_tags}; None: gone


@dataclass
class Plan:
    action: str
    changes: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)


def load_sources(session: Session, restore_id: int) -> list[Source]:
    rows = session.exec(
        select(RestoreItem, PolicyVersion)
        .outerjoin(PolicyVersion, PolicyVersion.id == RestoreItem.policy_version_id)
        .where(RestoreItem.restore_run_id == restore_id)
        .order_by(RestoreItem.id)
    ).all()
    return [
        Source(
            item.id,
            item.policy_type,
            item.graph_id,
            None
            if version is None
            else {
                "payload": version.payload,
                "assignments": version.assignments,
                "scope_tags": version.scope_tags,
            },
        )
        for item, version in rows
    ]


def referenced(version: dict[str, Any], *, assignments: bool, scope_tags: bool):
    """(group ids, filter ids, scope tag ids) a captured state refers to."""
    groups, filters, tags = set(), set(), set()
    if assignments:
        for assignment in version.get("assignments") or []:
            target = assignment.get("target") or {}
            if target.get("groupId"):
                groups.add(str(target["groupId"]))
            filter_id = target.get("deviceAndAppManagementAssignmentFilterId")
            if filter_id and target.get("deviceAndAppManagementAssignmentFilterType") != "none":
                filters.add(str(filter_id))
    if scope_tags:
        tags = {str(t) for t in version.get("scope_tags") or []} - {DEFAULT_SCOPE_TAG}
    return groups, filters, tags


async def _missing(graph: GraphClient, paths: dict[str, str], api_version: str) -> set[str]:
    """Which of {id: path} no longer exist (404). Other failures are the preview's failure."""
    ids = sorted(paths)
    if not ids:
        return set()
    answers = await graph.batch_get([paths[i] for i in ids], api_version=api_version)
    gone = set()
    for ref, answer in zip(ids, answers, strict=True):
        if isinstance(answer, GraphError):
            if answer.code != "graph.not_found":
                raise answer
            gone.add(ref)
    return gone


async def _live_states(
    graph: GraphClient, policy_type: str, graph_ids: list[str], *, assignments: bool
) -> dict[str, dict[str, Any] | None]:
    """{graph id: the live state as a version dict, or None when it does not exist}."""
    answers = await graph.get_policies_many(policy_type, graph_ids)
    live: dict[str, dict[str, Any] | None] = {}
    for gid, answer in answers.items():
        if isinstance(answer, GraphError):
            if answer.code != "graph.not_found":
                raise answer
            live[gid] = None
        else:
            # Shaped like a captured version (policy sync's own snapshot rules).
            snap = Snapshot(policy_type, gid, answer)
            live[gid] = {
                "payload": snap.stored_payload,
                "assignments": [],
                "scope_tags": snap.scope_tags,
            }
    present = [gid for gid, state in live.items() if state is not None]
    if present and policy_type == SETTINGS_CATALOG:
        for gid, settings in (await graph.list_policy_settings_many(present)).items():
            if isinstance(settings, GraphError):
                raise settings
            live[gid]["payload"]["settings"] = settings
    if present and assignments and POLICY_TYPES_BY_KEY[policy_type].has_assignments:
        for gid, found in (await graph.list_assignments_many(policy_type, present)).items():
            if isinstance(found, GraphError):
                raise found
            live[gid]["assignments"] = found
    return live


def _without_scope_tags(version: dict[str, Any]) -> dict[str, Any]:
    payload = {k: v for k, v in version["payload"].items() if k != "roleScopeTagIds"}
    return {**version, "payload": payload, "scope_tags": []}


def plan_item(
    source: Source,
    live: dict[str, Any] | None,
    *,
    restore: RestoreRun,
    missing: dict[str, set[str]],
) -> Plan:
    """The plan of one item, given its live state (None: missing) and the missing references."""
    if source.policy_type not in POLICY_TYPES_BY_KEY:
        return Plan(
            ItemAction.skip.value,
            conflicts=[
                _conflict(
                    "type_unsupported",
                    source.policy_type,
                    f"Policy type '{source.policy_type}' is no longer supported; the item is skipped.",
                )
            ],
        )
    if source.version is None:
        return Plan(
            ItemAction.skip.value,
            conflicts=[
                _conflict(
                    "source_missing",
                    source.graph_id,
                    "The captured version of this item no longer exists; it cannot be restored.",
                )
            ],
        )
    groups, filters, tags = referenced(
        source.version,
        assignments=restore.restore_assignments,
        scope_tags=restore.restore_scope_tags,
    )
    conflicts = [
        *(_group_conflict(g, restore.group_map) for g in sorted(groups & missing["groups"])),
        *(
            _conflict(
                "filter_missing",
                f,
                f"Assignment filter {f} no longer exists; the assignments that use it are skipped.",
            )
            for f in sorted(filters & missing["filters"])
        ),
        *(
            _conflict("scope_tag_missing", t, f"Scope tag {t} no longer exists; it is left out.")
            for t in sorted(tags & missing["scope_tags"])
        ),
    ]
    if live is None:
        if not restore.create_missing:
            return Plan(
                ItemAction.skip.value,
                conflicts=conflicts
                + [
                    _conflict(
                        "missing_update_only",
                        source.graph_id,
                        "Missing in the tenant; this restore only updates existing policies.",
                    )
                ],
            )
        return Plan(ItemAction.create.value, conflicts=conflicts)
    backup, current = source.version, live
    if not restore.restore_scope_tags:
        backup, current = _without_scope_tags(backup), _without_scope_tags(current)
    result = compare(current, backup, include_assignments=restore.restore_assignments)
    if not result.changed:
        return Plan(ItemAction.unchanged.value, conflicts=conflicts)
    changes = [c.to_json() for c in result.changes[:MAX_CHANGES_KEPT]]
    return Plan(ItemAction.update.value, changes=changes, conflicts=conflicts)


def _conflict(kind: str, ref: str, message: str) -> dict[str, Any]:
    return {"kind": kind, "ref": ref, "message": message}


def _group_conflict(group_id: str, group_map: dict[str, Any]) -> dict[str, Any]:
    conflict = _conflict(
        "group_missing",
        group_id,
        f"Assignment group {group_id} no longer exists: map it to an existing group, or its "
        "assignments are skipped.",
    )
    conflict["mapped_to"] = (group_map or {}).get(group_id)
    return conflict


async def preview(
    engine: Engine,
    graph: GraphClient,
    *,
    tenant_id: int,
    restore_id: int,
    user_id: int | None,
    user_name: str,
) -> dict[str, int]:
    """Plan the restore against the live tenant; returns the counts by action. Raises NotFound,
    RestoreStateError, or GraphError (nothing is written then)."""
    with session_scope(engine) as session:
        restore = get_restore(session, tenant_id=tenant_id, restore_id=restore_id)
        if restore.status not in (RestoreStatus.draft.value, RestoreStatus.previewed.value):
            raise RestoreStateError("This restore already ran; start a new restore to preview.")
        sources = load_sources(session, restore.id)
        session.expunge(restore)
    groups, filters, tags = set(), set(), set()
    for source in sources:
        if source.version is not None:
            g, f, t = referenced(
                source.version,
                assignments=restore.restore_assignments,
                scope_tags=restore.restore_scope_tags,
            )
            groups |= g
            filters |= f
            tags |= t
    missing = {
        "groups": await _missing(graph, {g: f"groups/{g}" for g in groups}, "v1.0"),
        "filters": await _missing(
            graph, {f: f"deviceManagement/assignmentFilters/{f}" for f in filters}, "beta"
        ),
        "scope_tags": await _missing(
            graph, {t: f"deviceManagement/roleScopeTags/{t}" for t in tags}, "beta"
        ),
    }
    live: dict[tuple[str, str], dict[str, Any] | None] = {}
    by_type: dict[str, list[str]] = {}
    for source in sources:
        if source.policy_type in POLICY_TYPES_BY_KEY and source.version is not None:
            by_type.setdefault(source.policy_type, []).append(source.graph_id)
    for policy_type, ids in by_type.items():
        states = await _live_states(
            graph, policy_type, ids, assignments=restore.restore_assignments
        )
        live.update({(policy_type, gid): state for gid, state in states.items()})
    plans = {
        s.item_id: plan_item(
            s, live.get((s.policy_type, s.graph_id)), restore=restore, missing=missing
        )
        for s in sources
    }
    return _write_plan(engine, tenant_id, restore_id, plans, user_id=user_id, name=user_name)


def _write_plan(
    engine: Engine,
    tenant_id: int,
    restore_id: int,
    plans: dict[int, Plan],
    *,
    user_id: int | None,
    name: str,
) -> dict[str, int]:
    counts = dict.fromkeys((a.value for a in ItemAction if a != ItemAction.pending), 0)
    conflicts = 0
    with session_scope(engine) as session:
        restore = get_restore(session, tenant_id=tenant_id, restore_id=restore_id)
        if restore.status not in (RestoreStatus.draft.value, RestoreStatus.previewed.value):
            raise RestoreStateError("This restore started running while it was previewed.")
        items = RestoreItem.__table__
        for item_id, plan in plans.items():
            session.execute(
                sa.update(items)
                .where(items.c.id == item_id)
                .values(action=plan.action, changes=plan.changes, conflicts=plan.conflicts)
            )
            counts[plan.action] += 1
            conflicts += len(plan.conflicts)
        counts["conflicts"] = conflicts
        now = utcnow()
        restore.status, restore.preview_counts = RestoreStatus.previewed.value, counts
        restore.previewed_at = restore.updated_at = now
        adapter.attach_run(session, restore, user_id=user_id, name=name)
        session.add(restore)
    return counts
