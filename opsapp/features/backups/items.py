"""Writing a set's items, one short transaction per chunk, each of which first locks the set row.

A set deleted before or while a run writes raises SetGone (the chunk rolls back; the items of
earlier chunks went with the set through ON DELETE CASCADE), never a raw IntegrityError."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from opsapp.features.backups.capture import IN_CHUNK, Stored
from opsapp.features.common import display_name
from opsapp.models import BackupItem, BackupSet

_S, _I = BackupSet.__table__, BackupItem.__table__


class SetGone(LookupError):
    """The backup set no longer exists (deleted before or during the run)."""


def lock_set(conn: Connection, *, tenant_id: int, set_id: int) -> None:
    """Lock the set row for this transaction, or SetGone. A no-op UPDATE, so the transaction
    starts as a writer (SQLite never has to upgrade a reader) and holds the row on PostgreSQL:
    a concurrent delete waits for it, then removes the items with the set."""
    result = conn.execute(
        sa.update(_S)
        .where(_S.c.id == set_id, _S.c.tenant_id == tenant_id)
        .values(updated_at=_S.c.updated_at)
    )
    if not result.rowcount:
        raise SetGone(set_id)


def set_exists(engine: Engine, *, tenant_id: int, set_id: int) -> bool:
    with engine.connect() as conn:
        query = sa.select(_S.c.id).where(_S.c.id == set_id, _S.c.tenant_id == tenant_id)
        return conn.execute(query).first() is not None


def item_policy_ids(engine: Engine, *, set_id: int) -> set[int]:
    with engine.connect() as conn:
        query = sa.select(_I.c.policy_id).where(_I.c.backup_set_id == set_id)
        return set(conn.execute(query).scalars())


def _insert(conn: Connection):
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


def insert_items(
    engine: Engine,
    *,
    tenant_id: int,
    set_id: int,
    stored: Sequence[Stored],
    include_assignments: bool,
    include_scope_tags: bool,
    run_id: int | None,
    now: datetime,
) -> int:
    """Add the captured policies to the set in one transaction; a policy already in it is left
    as it is (ON CONFLICT DO NOTHING). Bumps the set's updated_at. Returns how many were added;
    SetGone when the set is gone."""
    if not stored:
        return 0
    rows: list[dict[str, Any]] = [
        {
            "backup_set_id": set_id,
            "tenant_id": tenant_id,
            "policy_id": s.policy_id,
            "policy_version_id": s.version_id,
            "policy_type": s.snapshot.policy_type,
            "display_name": display_name(s.snapshot.payload),
            "include_assignments": include_assignments,
            "include_scope_tags": include_scope_tags,
            "added_at": now,
            "operation_run_id": run_id,
        }
        for s in stored
    ]
    added = 0
    try:
        with engine.begin() as conn:
            lock_set(conn, tenant_id=tenant_id, set_id=set_id)
            for start in range(0, len(rows), IN_CHUNK):
                stmt = (
                    _insert(conn)(_I)
                    .values(rows[start : start + IN_CHUNK])
                    .on_conflict_do_nothing(index_elements=["backup_set_id", "policy_id"])
                    .returning(_I.c.id)
                )
                added += len(conn.execute(stmt).all())
            if added:
                conn.execute(sa.update(_S).where(_S.c.id == set_id).values(updated_at=now))
    except sa.exc.IntegrityError:
        # Only a foreign key can fail here (duplicates are ignored): the set went away under us.
        if not set_exists(engine, tenant_id=tenant_id, set_id=set_id):
            raise SetGone(set_id) from None
        raise
    return added


def delete_items(
    engine: Engine, *, tenant_id: int, set_id: int, item_ids: Sequence[int], now: datetime
) -> int:
    """Delete the given items of the set (ids of other sets or tenants are ignored); bumps the
    set's updated_at when something went. Returns how many; SetGone when the set is gone."""
    removed = 0
    with engine.begin() as conn:
        lock_set(conn, tenant_id=tenant_id, set_id=set_id)
        for start in range(0, len(item_ids), IN_CHUNK):
            result = conn.execute(
                sa.delete(_I).where(
                    _I.c.backup_set_id == set_id,
                    _I.c.tenant_id == tenant_id,
                    _I.c.id.in_(list(item_ids[start : start + IN_CHUNK])),
                )
            )
            removed += result.rowcount or 0
        if removed:
            conn.execute(sa.update(_S).where(_S.c.id == set_id).values(updated_at=now))
    return removed
