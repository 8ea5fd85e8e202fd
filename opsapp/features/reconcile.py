"""Reconcile a stream of observed Graph objects with the rows we hold: created / updated /
unchanged, and rows no longer observed marked removed. Shared by inventory, groups (and the
object rows of policy sync). Writes go in chunks, off the event loop."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from opsapp.operations.identity import canonical_json

CHUNK = 500


def content_hash(data: Any) -> str:
    """sha256 of the canonical JSON of `data` without volatile @odata annotations."""
    if isinstance(data, Mapping):
        data = {
            k: v for k, v in data.items() if not (k.startswith("@odata.") and k != "@odata.type")
        }
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


@dataclass
class Known:
    id: int
    hash: str
    removed: bool


@dataclass
class Tally:
    """Running summary counts of a sync (keys from the catalog's count vocabulary)."""

    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("total", "processed", "created", "updated", "unchanged", "removed", "failed"), 0
        )
    )

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


def load_known(engine: Engine, model, *, where: Iterable[Any]) -> dict[str, Known]:
    """graph_id → (row id, content hash, removed?) for the rows in scope."""
    table = model.__table__
    query = sa.select(table.c.graph_id, table.c.id, table.c.content_hash, table.c.removed_at).where(
        *where
    )
    with engine.connect() as conn:
        return {
            gid: Known(rid, h, removed is not None) for gid, rid, h, removed in conn.execute(query)
        }


class Reconciler:
    """Feed observed objects with `observe`; `finish` marks the unseen ones removed."""

    def __init__(
        self,
        engine: Engine,
        model,
        *,
        scope: dict[str, Any],
        known: dict[str, Known],
        now: datetime,
        tally: Tally,
    ) -> None:
        self.engine, self.model, self.scope, self.known = engine, model, scope, known
        self.now, self.tally = now, tally
        self.seen: set[str] = set()
        self._inserts: list[dict[str, Any]] = []
        self._updates: list[dict[str, Any]] = []

    async def observe(self, graph_id: str, values: dict[str, Any], digest: str) -> None:
        if graph_id in self.seen:
            return  # Graph paging can repeat an item; count it once
        self.seen.add(graph_id)
        self.tally.add("total")
        self.tally.add("processed")
        row = {**values, "content_hash": digest, "observed_at": self.now, "removed_at": None}
        known = self.known.get(graph_id)
        if known is None:
            self._inserts.append({**self.scope, "graph_id": graph_id, **row})
            self.tally.add("created")
        elif known.hash != digest or known.removed:
            self._updates.append({"id": known.id, **row})
            self.tally.add("updated")
        else:
            self.tally.add("unchanged")
        if len(self._inserts) + len(self._updates) >= CHUNK:
            await self.flush()

    async def flush(self) -> None:
        inserts, updates = self._inserts, self._updates
        self._inserts, self._updates = [], []
        if inserts or updates:
            await asyncio.to_thread(self._write, inserts, updates)

    def _write(self, inserts: list[dict], updates: list[dict]) -> None:
        with Session(self.engine) as session, session.begin():
            if inserts:
                session.execute(sa.insert(self.model), inserts)
            if updates:
                session.execute(sa.update(self.model), updates)

    async def finish(self) -> int:
        """Flush, then mark rows in scope that were not observed as removed; return how many."""
        await self.flush()
        gone = unseen_ids(self.known, self.seen)
        if gone:
            await asyncio.to_thread(mark_removed, self.engine, self.model, gone, self.now)
        self.tally.add("removed", len(gone))
        return len(gone)


def unseen_ids(known: dict[str, Known], seen: set[str]) -> list[int]:
    """Rows we hold as present that the latest full listing did not contain."""
    return [k.id for gid, k in known.items() if gid not in seen and not k.removed]


def mark_removed(engine: Engine, model, ids: list[int], now: datetime) -> None:
    """Mark rows removed (kept, not deleted: history and versions stay reachable)."""
    table = model.__table__
    with engine.begin() as conn:
        for start in range(0, len(ids), CHUNK):
            conn.execute(
                sa.update(table)
                .where(table.c.id.in_(ids[start : start + CHUNK]))
                .values(removed_at=now)
            )
