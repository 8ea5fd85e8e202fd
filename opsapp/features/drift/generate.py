"""drift.generate: compare a baseline backup set with the tenant's current captured state (the
newest policy versions from policy sync) and reconcile the findings.

Reads only the database. The fast path compares content hashes, so only policies whose captured
content differs are loaded and diffed (a volatile-only change — a new `version` or timestamp —
differs by hash, is diffed, and produces no finding).

Added means first captured after the baseline's newest item was: a policy that already existed
when the baseline was captured and was left out of it (a hand-picked set) is not drift.

Reconciling: the same drift seen again keeps its finding (and an acknowledgement), a drift that
went away resolves its finding, a drift that changed resolves the old finding and opens a new
one (an acknowledgement was given for the old difference, not the new), and a new drift opens a
finding. Only findings of the generation's scope (policy types) are touched.

Counts: total / processed = policies compared; created = findings opened; updated = findings
replaced because their drift changed; unchanged = findings kept; removed = findings resolved.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from opsapp.features.backups import codes
from opsapp.features.backups.items import SetGone, lock_set, set_exists
from opsapp.features.drift.diff import compare
from opsapp.models import BackupItem, DriftFinding, Policy, PolicyVersion
from opsapp.models.drift import OPEN_STATES, FindingKind, FindingState
from opsapp.models.types import utcnow
from opsapp.operations.failures import make_failure
from opsapp.operations.results import RunResult

_F = DriftFinding.__table__
_P = Policy.__table__
_V = PolicyVersion.__table__
_I = BackupItem.__table__
_OPEN = [s.value for s in OPEN_STATES]
DIFF_CHUNK = 500  # versions loaded and diffed per query


@dataclass(frozen=True)
class Detected:
    """One difference found by this generation."""

    policy_id: int
    policy_type: str
    display_name: str
    kind: FindingKind
    fingerprint: str
    changes: list[dict[str, Any]]
    baseline_version_id: int | None
    current_version_id: int | None


@dataclass(frozen=True)
class _Baseline:
    policy_id: int
    policy_type: str
    display_name: str  # as captured
    version_id: int
    content_hash: str
    include_assignments: bool


@dataclass(frozen=True)
class _Current:
    policy_id: int
    policy_type: str
    display_name: str
    version_id: int | None
    content_hash: str
    removed: bool
    first_seen: datetime  # when a sync first captured the policy


def _digest(*parts: Any) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def baseline_gone(total: int = 0) -> RunResult:
    return RunResult(
        counts={"total": total, "processed": 0},
        fatal=make_failure(
            codes.SET_NOT_FOUND,
            "The baseline backup set no longer exists (it was deleted); no drift was generated.",
        ),
    )


def _load_baseline(conn: Connection, set_id: int, types: list[str]) -> dict[int, _Baseline]:
    rows = conn.execute(
        sa.select(
            _I.c.policy_id,
            _I.c.policy_type,
            _I.c.display_name,
            _I.c.policy_version_id,
            _V.c.content_hash,
            _I.c.include_assignments,
        )
        .join(_V, _V.c.id == _I.c.policy_version_id)
        .where(_I.c.backup_set_id == set_id, _I.c.policy_type.in_(types))
    )
    return {
        r.policy_id: _Baseline(
            r.policy_id,
            r.policy_type,
            r.display_name,
            r.policy_version_id,
            r.content_hash,
            bool(r.include_assignments),
        )
        for r in rows
    }


def _load_current(conn: Connection, tenant_id: int, types: list[str]) -> dict[int, _Current]:
    rows = conn.execute(
        sa.select(
            _P.c.id,
            _P.c.policy_type,
            _P.c.display_name,
            _P.c.current_version_id,
            _P.c.content_hash,
            _P.c.removed_at,
            _P.c.created_at,
        ).where(_P.c.tenant_id == tenant_id, _P.c.policy_type.in_(types))
    )
    return {
        r.id: _Current(
            r.id,
            r.policy_type,
            r.display_name,
            r.current_version_id,
            r.content_hash,
            r.removed_at is not None,
            r.created_at,
        )
        for r in rows
    }


def _captured_as_of(conn: Connection, set_id: int) -> datetime | None:
    """When the baseline's newest item was captured (None: it has none)."""
    return conn.execute(
        sa.select(sa.func.max(_I.c.added_at)).where(_I.c.backup_set_id == set_id)
    ).scalar()


def _versions(conn: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = conn.execute(
        sa.select(_V.c.id, _V.c.payload, _V.c.assignments, _V.c.scope_tags).where(_V.c.id.in_(ids))
    )
    return {
        r.id: {"payload": r.payload, "assignments": r.assignments, "scope_tags": r.scope_tags}
        for r in rows
    }


def detect(
    conn: Connection, *, tenant_id: int, set_id: int, types: list[str]
) -> tuple[int, list[Detected]]:
    """(policies compared, the differences) between the set and the current state."""
    baseline = _load_baseline(conn, set_id, types)
    current = _load_current(conn, tenant_id, types)
    as_of = _captured_as_of(conn, set_id)
    found: list[Detected] = []
    candidates: list[tuple[_Baseline, _Current]] = []
    compared = len(baseline)
    for policy_id, base in baseline.items():
        now = current.get(policy_id)
        if now is None or now.removed or now.version_id is None:
            # Removed: the same baseline version gone again is the same finding.
            found.append(_removed(base, now))
        elif now.content_hash != base.content_hash and now.version_id != base.version_id:
            candidates.append((base, now))
    for now in current.values():
        if (
            now.policy_id not in baseline
            and not now.removed
            and now.version_id is not None
            and as_of is not None
            and now.first_seen > as_of
        ):
            compared += 1
            found.append(
                Detected(
                    now.policy_id,
                    now.policy_type,
                    now.display_name,
                    FindingKind.added,
                    _digest("added"),
                    [],
                    None,
                    now.version_id,
                )
            )
    for start in range(0, len(candidates), DIFF_CHUNK):
        chunk = candidates[start : start + DIFF_CHUNK]
        ids = {b.version_id for b, _ in chunk} | {c.version_id for _, c in chunk}
        versions = _versions(conn, sorted(i for i in ids if i is not None))
        for base, now in chunk:
            result = compare(
                versions[base.version_id],
                versions[now.version_id],
                include_assignments=base.include_assignments,
            )
            if result.changed:
                found.append(
                    Detected(
                        now.policy_id,
                        now.policy_type,
                        now.display_name,
                        FindingKind.modified,
                        result.fingerprint,
                        [c.to_json() for c in result.changes],
                        base.version_id,
                        now.version_id,
                    )
                )
    return compared, found


def _removed(base: _Baseline, now: _Current | None) -> Detected:
    return Detected(
        base.policy_id,
        base.policy_type,
        (now.display_name if now else "") or base.display_name,
        FindingKind.removed,
        _digest("removed", base.content_hash),
        [],
        base.version_id,
        None,
    )


def reconcile(
    conn: Connection,
    *,
    tenant_id: int,
    set_id: int,
    types: list[str],
    found: list[Detected],
    run_id: int | None,
    now: datetime,
) -> dict[str, int]:
    """Write the findings for `found` (see the module docstring); returns the counts."""
    open_rows = {
        r.policy_id: r
        for r in conn.execute(
            sa.select(_F.c.id, _F.c.policy_id, _F.c.kind, _F.c.fingerprint).where(
                _F.c.baseline_set_id == set_id,
                _F.c.state.in_(_OPEN),
                _F.c.policy_type.in_(types),
            )
        )
    }
    kept: list[int] = []
    resolved: list[int] = []
    opened: list[dict[str, Any]] = []
    replaced = 0
    for item in found:
        existing = open_rows.pop(item.policy_id, None)
        if existing is not None and (existing.kind, existing.fingerprint) == (
            item.kind.value,
            item.fingerprint,
        ):
            kept.append(existing.id)
            continue
        if existing is not None:
            resolved.append(existing.id)
            replaced += 1
        opened.append(_new_row(item, tenant_id=tenant_id, set_id=set_id, run_id=run_id, now=now))
    gone = [r.id for r in open_rows.values()]
    for ids, values in (
        (kept, {"last_seen_at": now, "last_run_id": run_id}),
        (
            resolved + gone,
            {"state": FindingState.resolved.value, "resolved_at": now, "last_run_id": run_id},
        ),
    ):
        for start in range(0, len(ids), 1000):
            conn.execute(sa.update(_F).where(_F.c.id.in_(ids[start : start + 1000])).values(values))
    if kept:
        _refresh_names(conn, found, kept)
    if opened:
        conn.execute(sa.insert(_F), opened)
    return {
        "created": len(opened),
        "updated": replaced,
        "unchanged": len(kept),
        "removed": len(gone) + replaced,
    }


def _refresh_names(conn: Connection, found: list[Detected], kept_ids: list[int]) -> None:
    """Kept findings show the policy's current name (an added policy renamed keeps its
    finding: its fingerprint does not depend on content)."""
    names = {d.policy_id: d.display_name for d in found if d.display_name}
    rows = conn.execute(
        sa.select(_F.c.id, _F.c.policy_id, _F.c.display_name).where(_F.c.id.in_(kept_ids))
    )
    for row in rows.all():
        name = names.get(row.policy_id)
        if name and name != row.display_name:
            conn.execute(sa.update(_F).where(_F.c.id == row.id).values(display_name=name))


def _new_row(item: Detected, *, tenant_id: int, set_id: int, run_id: int | None, now: datetime):
    return {
        "tenant_id": tenant_id,
        "baseline_set_id": set_id,
        "policy_id": item.policy_id,
        "policy_type": item.policy_type,
        "display_name": item.display_name[:400],
        "kind": item.kind.value,
        "state": FindingState.new.value,
        "fingerprint": item.fingerprint,
        "changes": item.changes,
        "changed_paths": len(item.changes),
        "baseline_version_id": item.baseline_version_id,
        "current_version_id": item.current_version_id,
        "first_seen_at": now,
        "last_seen_at": now,
        "resolved_at": None,
        "acknowledged_at": None,
        "acknowledged_by_user_id": None,
        "acknowledged_by_name": "",
        "acknowledgement_note": "",
        "first_run_id": run_id,
        "last_run_id": run_id,
    }


def generate_drift(
    engine: Engine, *, tenant_id: int, inputs: dict[str, Any], run_id: int | None
) -> RunResult:
    """Detect with a reading connection (no write lock held while diffing), then write the
    findings in one short transaction that locks the baseline set row first: a set deleted
    meanwhile fails the run with backup_set.not_found and nothing is half-written, and two
    generations of one baseline reconcile one after the other."""
    set_id, types = int(inputs["baseline_id"]), list(inputs["policy_types"])
    now = utcnow()
    if not set_exists(engine, tenant_id=tenant_id, set_id=set_id):
        return baseline_gone()
    with engine.connect() as conn:
        compared, found = detect(conn, tenant_id=tenant_id, set_id=set_id, types=types)
    try:
        with engine.begin() as conn:
            lock_set(conn, tenant_id=tenant_id, set_id=set_id)
            counts = reconcile(
                conn,
                tenant_id=tenant_id,
                set_id=set_id,
                types=types,
                found=found,
                run_id=run_id,
                now=now,
            )
    except SetGone:
        return baseline_gone(compared)
    return RunResult(counts={"total": compared, "processed": compared, **counts, "failed": 0})
