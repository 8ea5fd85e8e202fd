"""Capture policy snapshots and store them as versions: identical content reuses its version.

Writes are set-based: one batch of snapshots (hundreds of policies) costs a handful of
statements whatever its size: the new policies with their versions in one statement on
PostgreSQL (`_insert_both`; elsewhere an INSERT … RETURNING, an INSERT and an UPDATE), and
the changed ones through one version lookup and one executemany UPDATE. Two syncs racing on
the same policies meet on the unique constraints (ON CONFLICT DO NOTHING) and the loser
adopts the winner's row or version."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from opsapp.features.common import canonical_text, display_name, parse_graph_datetime
from opsapp.features.reconcile import (
    Known,
    RawJSON,
    Tally,
    any_of,
    bulk_insert,
    pg_document,
    recordset,
    select_by_keys,
)
from opsapp.models import Policy, PolicyVersion

POLICIES = Policy.__table__
VERSIONS = PolicyVersion.__table__


@dataclass
class Snapshot:
    policy_type: str
    graph_id: str
    payload: dict[str, Any]
    assignments: list[dict[str, Any]] = field(default_factory=list)
    settings: list[dict[str, Any]] | None = None  # settings catalog only

    @property
    def scope_tags(self) -> list[str]:
        return sorted(str(t) for t in self.payload.get("roleScopeTagIds") or [])

    @property
    def stored_payload(self) -> dict[str, Any]:
        payload = {
            k: v
            for k, v in self.payload.items()
            if not k.startswith("@odata.") or k == "@odata.type"
        }
        if self.settings is not None:
            payload["settings"] = self.settings
        return payload

    @cached_property
    def encoded(self) -> tuple[str, str, str]:
        """Canonical JSON of (stored payload, assignments, scope tags), computed once the
        snapshot is complete: the digest hashes them and PostgreSQL stores them as they are.
        (`canonical_text`: the same text as `canonical_json`, faster.)"""
        return (
            canonical_text(self.stored_payload),
            canonical_text(self.assignments),
            canonical_text(self.scope_tags),
        )

    @cached_property
    def digest(self) -> str:
        """content_hash({"payload", "assignments", "scope_tags"}): canonical JSON sorts the
        keys, so the document is the three encodings in that order."""
        payload, assignments, scope_tags = self.encoded
        document = f'{{"assignments":{assignments},"payload":{payload},"scope_tags":{scope_tags}}}'
        return hashlib.sha256(document.encode("utf-8")).hexdigest()


@dataclass
class Stored:
    """What storing one batch did: counts, and the row id of every snapshot's policy."""

    counts: Counter = field(default_factory=Counter)
    row_ids: dict[str, int] = field(default_factory=dict)  # graph id -> policy row id


def lookup_known(
    conn_or_engine: Connection | Engine,
    *,
    tenant_id: int,
    policy_type: str,
    graph_ids: Sequence[str],
) -> dict[str, Known]:
    """The stored policies among `graph_ids` (one SELECT): graph id -> (row id, hash, removed?)."""
    if not graph_ids:
        return {}
    query = select_by_keys(
        conn_or_engine,
        POLICIES,
        [POLICIES.c.graph_id, POLICIES.c.id, POLICIES.c.content_hash, POLICIES.c.removed_at],
        POLICIES.c.graph_id,
        graph_ids,
        [POLICIES.c.tenant_id == tenant_id, POLICIES.c.policy_type == policy_type],
    )
    if isinstance(conn_or_engine, Engine):
        with conn_or_engine.connect() as conn:
            rows = conn.execute(query).all()
    else:
        rows = conn_or_engine.execute(query).all()
    return {gid: Known(rid, h, removed is not None) for gid, rid, h, removed in rows}


def _unchanged(known: Known, snap: Snapshot) -> bool:
    return known.hash == snap.digest and not known.removed


def _object_values(snap: Snapshot, now: datetime) -> dict[str, Any]:
    return {
        "display_name": display_name(snap.payload),
        "last_modified": parse_graph_datetime(snap.payload.get("lastModifiedDateTime")),
        "content_hash": snap.digest,
        "updated_at": now,
        "removed_at": None,
    }


def _version_row(
    conn: Connection,
    snap: Snapshot,
    policy_id: int,
    tenant_id: int,
    number: int,
    now: datetime,
    run_id: int | None,
) -> dict[str, Any]:
    if conn.dialect.name == "postgresql":  # the encodings the digest was computed from
        payload, assignments, scope_tags = (RawJSON(text) for text in snap.encoded)
    else:
        payload, assignments, scope_tags = snap.stored_payload, snap.assignments, snap.scope_tags
    return {
        "policy_id": policy_id,
        "tenant_id": tenant_id,
        "version_number": number,
        "content_hash": snap.digest,
        "payload": payload,
        "assignments": assignments,
        "scope_tags": scope_tags,
        "captured_at": now,
        "operation_run_id": run_id,
    }


def store_snapshots(
    engine: Engine,
    *,
    tenant_id: int,
    snapshots: list[Snapshot],
    known: dict[str, Known],
    now: datetime,
    run_id: int | None,
    policy_type: str | None = None,
    tally: Tally | None = None,
) -> Stored:
    """Upsert the policies of one batch (one policy type) and their versions, in one
    transaction.

    `known` holds the stored rows among the batch's graph ids (`lookup_known`); it is updated
    with the rows written. Counts (created / updated / unchanged) come back in the result and,
    when `tally` is given, are added to it."""
    if not snapshots:
        return Stored()
    policy_type = policy_type or snapshots[0].policy_type
    stored = _store(engine, tenant_id, policy_type, snapshots, known, now, run_id)
    for snap in snapshots:
        row_id = stored.row_ids.get(snap.graph_id)
        if row_id is not None:
            known[snap.graph_id] = Known(row_id, snap.digest, False)
    if tally is not None:
        for key, n in stored.counts.items():
            tally.add(key, n)
    return stored


def _store(
    engine: Engine,
    tenant_id: int,
    policy_type: str,
    snapshots: list[Snapshot],
    known: dict[str, Known],
    now: datetime,
    run_id: int | None,
) -> Stored:
    stored = Stored()
    fresh: list[Snapshot] = []
    changed: list[tuple[Snapshot, Known]] = []
    for snap in snapshots:
        existing = known.get(snap.graph_id)
        if existing is None:
            fresh.append(snap)
        elif _unchanged(existing, snap):
            stored.counts["unchanged"] += 1
            stored.row_ids[snap.graph_id] = existing.id
        else:
            changed.append((snap, existing))
    if not fresh and not changed:
        return stored
    with engine.begin() as conn:
        if fresh:
            changed += _insert_new(conn, tenant_id, policy_type, fresh, now, run_id, stored)
        if changed:
            _store_changed(conn, tenant_id, changed, now, run_id, stored)
    return stored


def _insert_new(
    conn: Connection,
    tenant_id: int,
    policy_type: str,
    fresh: list[Snapshot],
    now: datetime,
    run_id: int | None,
    stored: Stored,
) -> list[tuple[Snapshot, Known]]:
    """Insert new policies and their first versions, each policy pointing at its version
    (`_insert_both` on PostgreSQL: one statement; `_insert_portable` elsewhere). Returns the
    snapshots another sync inserted meanwhile, as (snapshot, its row), to be handled like
    stored ones."""
    rows = [
        {
            "tenant_id": tenant_id,
            "policy_type": policy_type,
            "graph_id": snap.graph_id,
            "created_at": now,
            **_object_values(snap, now),
        }
        for snap in fresh
    ]
    insert = _insert_both if conn.dialect.name == "postgresql" else _insert_portable
    inserted = insert(conn, rows, fresh, tenant_id, now, run_id)
    raced: list[tuple[Snapshot, Known]] = []
    lost = [snap for snap in fresh if snap.graph_id not in inserted]
    if lost:  # a concurrent sync stored them first: treat them as stored rows
        theirs = lookup_known(
            conn,
            tenant_id=tenant_id,
            policy_type=policy_type,
            graph_ids=[s.graph_id for s in lost],
        )
        for snap in lost:
            existing = theirs[snap.graph_id]
            if _unchanged(existing, snap):
                stored.counts["unchanged"] += 1
                stored.row_ids[snap.graph_id] = existing.id
            else:
                raced.append((snap, existing))
    won = [snap for snap in fresh if snap.graph_id in inserted]
    if won:
        stored.counts["created"] += len(won)
        stored.row_ids.update((s.graph_id, inserted[s.graph_id]) for s in won)
    return raced


_VERSION_COLUMNS = ("tenant_id", "version_number", "content_hash", "payload", "assignments",
                    "scope_tags", "captured_at", "operation_run_id")  # fmt: skip


def _insert_both(
    conn: Connection,
    rows: list[dict[str, Any]],
    fresh: list[Snapshot],
    tenant_id: int,
    now: datetime,
    run_id: int | None,
) -> dict[str, int]:
    """PostgreSQL: the policies and their versions in one statement (one round trip per
    batch): the policies' INSERT … ON CONFLICT DO NOTHING draws each one's version id from the
    versions' sequence (`current_version_id`) and RETURNs it; a second INSERT in the same
    statement writes the versions of exactly the rows it returned (joined on graph id). A
    policy another sync inserted first returns nothing, so neither row is written for it; the
    ids drawn for it stay unused. The foreign key from version to policy is checked at the end
    of the statement, when the policies are there. Returns graph id -> policy row id."""
    versions = [
        {"graph_id": snap.graph_id, **_version_row(conn, snap, 0, tenant_id, 1, now, run_id)}
        for snap in fresh
    ]
    for row in versions:
        del row["policy_id"]  # the joined policy's id
    p_names, v_names = list(rows[0]), list(_VERSION_COLUMNS)
    graph_id = f", graph_id {POLICIES.c.graph_id.type.compile(dialect=conn.dialect)}"
    sql = (
        f"WITH p AS (INSERT INTO {POLICIES.name} (current_version_id, {', '.join(p_names)}) "
        f"SELECT nextval((SELECT pg_get_serial_sequence('{VERSIONS.name}', 'id')::regclass)), "
        f"{', '.join(p_names)} FROM {recordset(conn, POLICIES, p_names, 'policies')} "
        "ON CONFLICT (tenant_id, policy_type, graph_id) DO NOTHING "
        "RETURNING id, graph_id, current_version_id), "
        f"v AS (INSERT INTO {VERSIONS.name} (id, policy_id, {', '.join(v_names)}) "
        f"SELECT p.current_version_id, p.id, {', '.join('r.' + n for n in v_names)} "
        f"FROM p JOIN {recordset(conn, VERSIONS, v_names, 'versions', graph_id)} "
        "ON r.graph_id = p.graph_id) "
        "SELECT graph_id, id FROM p"
    )
    documents = {"policies": pg_document(rows), "versions": pg_document(versions)}
    return dict(conn.execute(sa.text(sql), documents).all())


def _insert_portable(
    conn: Connection,
    rows: list[dict[str, Any]],
    fresh: list[Snapshot],
    tenant_id: int,
    now: datetime,
    run_id: int | None,
) -> dict[str, int]:
    """Other dialects: the policies (one multi-row INSERT … RETURNING), then the versions of
    those inserted (one INSERT), then one UPDATE pointing each policy at its version."""
    inserted = {
        gid: rid
        for rid, gid in bulk_insert(
            conn,
            POLICIES,
            rows,
            conflict=["tenant_id", "policy_type", "graph_id"],
            returning=["id", "graph_id"],
        )
    }
    won = [snap for snap in fresh if snap.graph_id in inserted]
    if not won:
        return inserted
    bulk_insert(
        conn,
        VERSIONS,
        [_version_row(conn, s, inserted[s.graph_id], tenant_id, 1, now, run_id) for s in won],
        returning=["id"],  # with RETURNING, SQLAlchemy sends multi-row VALUES (not per row)
    )
    current = (
        sa.select(VERSIONS.c.id)
        .where(
            VERSIONS.c.policy_id == POLICIES.c.id,
            VERSIONS.c.content_hash == POLICIES.c.content_hash,
        )
        .scalar_subquery()
    )
    conn.execute(
        sa.update(POLICIES)
        .where(any_of(conn, POLICIES.c.id, [inserted[s.graph_id] for s in won]))
        .values(current_version_id=current)
    )
    return inserted


def _store_changed(
    conn: Connection,
    tenant_id: int,
    changed: list[tuple[Snapshot, Known]],
    now: datetime,
    run_id: int | None,
    stored: Stored,
) -> None:
    """Stored policies with new content (or back from removal): reuse the version with the
    same content when the policy has one, else add version max+1; then update the rows."""
    ids = [k.id for _, k in changed]
    versions = {
        (pid, h): vid
        for pid, h, vid in conn.execute(
            sa.select(VERSIONS.c.policy_id, VERSIONS.c.content_hash, VERSIONS.c.id).where(
                any_of(conn, VERSIONS.c.policy_id, ids),
                any_of(conn, VERSIONS.c.content_hash, list({s.digest for s, _ in changed})),
            )
        )
    }
    missing = [(s, k) for s, k in changed if (k.id, s.digest) not in versions]
    if missing:
        latest = dict(
            conn.execute(
                sa.select(VERSIONS.c.policy_id, sa.func.max(VERSIONS.c.version_number))
                .where(any_of(conn, VERSIONS.c.policy_id, [k.id for _, k in missing]))
                .group_by(VERSIONS.c.policy_id)
            ).all()
        )
        new_rows = [
            _version_row(conn, s, k.id, tenant_id, (latest.get(k.id) or 0) + 1, now, run_id)
            for s, k in missing
        ]
        for vid, pid, h in bulk_insert(
            conn,
            VERSIONS,
            new_rows,
            conflict=["policy_id", "content_hash"],
            returning=["id", "policy_id", "content_hash"],
        ):
            versions[(pid, h)] = vid
        raced = [(s, k) for s, k in missing if (k.id, s.digest) not in versions]
        if raced:  # a concurrent sync captured the same content first: reuse its version
            for pid, h, vid in conn.execute(
                sa.select(VERSIONS.c.policy_id, VERSIONS.c.content_hash, VERSIONS.c.id).where(
                    any_of(conn, VERSIONS.c.policy_id, [k.id for _, k in raced]),
                    any_of(conn, VERSIONS.c.content_hash, list({s.digest for s, _ in raced})),
                )
            ):
                versions[(pid, h)] = vid
    conn.execute(
        sa.update(POLICIES)
        .where(POLICIES.c.id == sa.bindparam("row_id"))
        .values(
            display_name=sa.bindparam("new_display_name"),
            last_modified=sa.bindparam("new_last_modified"),
            content_hash=sa.bindparam("new_content_hash"),
            updated_at=sa.bindparam("new_updated_at"),
            removed_at=None,
            current_version_id=sa.bindparam("new_version_id"),
        ),
        [
            {
                "row_id": k.id,
                **{
                    f"new_{key}": v
                    for key, v in _object_values(s, now).items()
                    if key != "removed_at"
                },
                "new_version_id": versions[(k.id, s.digest)],
            }
            for s, k in changed
        ],
    )
    stored.counts["updated"] += len(changed)
    stored.row_ids.update((s.graph_id, k.id) for s, k in changed)
