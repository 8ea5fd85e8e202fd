"""Reconcile a stream of observed Graph objects with the rows we hold: created / updated /
unchanged, and rows no longer observed marked removed. Shared by inventory, groups (and the
object rows of policy sync). Writes go in chunks, off the event loop."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from opsapp.operations.identity import canonical_json

CHUNK = 500

logger = logging.getLogger(__name__)


def _insert_ignoring(conn: Connection, table: sa.Table, conflict: list[str]):
    """INSERT … ON CONFLICT (conflict) DO NOTHING for the connection's dialect."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing(index_elements=conflict)


def any_of(conn: Connection | Engine, column: sa.Column, values: Sequence[Any]):
    """`column IN values`; on PostgreSQL `column = ANY(array)`: one parameter, so psycopg can
    cache the statement (it re-parses any statement with more than 50 parameters)."""
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def select_by_keys(
    conn: Connection | Engine,
    table: sa.Table,
    columns: Sequence[sa.ColumnElement],
    key: sa.Column,
    keys: Sequence[Any],
    where: Iterable[Any] = (),
) -> sa.Select:
    """SELECT `columns` of the rows in `where` whose `key` is one of `keys`.

    PostgreSQL: joined to unnest(the keys as one array): one index probe per key whatever the
    plan (a `key = ANY(array)` filter may be planned, generic plan and stale statistics, as a
    scan of the whole scope comparing every row with every key)."""
    if conn.dialect.name == "postgresql":
        wanted = (
            sa.func.unnest(sa.bindparam(None, list(keys), type_=ARRAY(key.type)))
            .table_valued("k")
            .render_derived(name="wanted")
        )
        return sa.select(*columns).select_from(table.join(wanted, key == wanted.c.k)).where(*where)
    return sa.select(*columns).where(*where, key.in_(list(keys)))


class RawJSON(str):
    """A JSON column's value already encoded (canonical JSON text): `bulk_insert` embeds it as
    is on PostgreSQL instead of encoding the value again. Other dialects need the value."""


def _pg_json_default(value: Any) -> Any:
    """What the encoder cannot encode itself: datetimes, as ISO 8601 (jsonb_to_recordset
    reads them back into timestamp columns). Called only for such values, not for every one."""
    if isinstance(value, datetime):
        return _isoformat(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


@functools.lru_cache(maxsize=1024)
def _isoformat(value: datetime) -> str:
    """Cached: a batch's rows mostly share one timestamp (its `now`)."""
    return value.isoformat()


_PG_JSON = json.JSONEncoder(ensure_ascii=False, default=_pg_json_default)
# Stands in for a RawJSON value while the rows are encoded in one call; each occurrence (a JSON
# string) is then replaced by its row's text. Private-use characters: no Graph value has them,
# and a document where one did is detected (occurrences miscounted) and encoded row by row.
_RAW_SLOT = "\ue000opsapp:raw\ue000"
_RAW_SLOT_JSON = _PG_JSON.encode(_RAW_SLOT)


def pg_document(rows: list[dict[str, Any]]) -> str:
    """The rows as one JSON array; RawJSON values are spliced in without re-encoding.

    Rows share the first row's keys, in its order (they are one INSERT's rows); a column whose
    first value is RawJSON is RawJSON in every row. orjson first (a few times faster than the
    standard encoder; it writes datetimes as ISO 8601 itself); what it cannot encode (an
    integer past 64 bits, say) takes the standard encoder, `_pg_document_std`."""
    raw = [n for n, v in rows[0].items() if isinstance(v, RawJSON)]
    try:
        return _pg_document_orjson(rows, raw)
    except TypeError:  # orjson.JSONEncodeError
        return _pg_document_std(rows, raw)


def _pg_document_orjson(rows: list[dict[str, Any]], raw: list[str]) -> str:
    if raw:  # Fragment: embedded as it is (the text is JSON already; it takes an exact str)
        rows = [{**row, **{n: orjson.Fragment(str(row[n])) for n in raw}} for row in rows]
    return orjson.dumps(rows, default=_pg_json_default).decode("utf-8")


def _pg_document_std(rows: list[dict[str, Any]], raw: list[str]) -> str:
    """`pg_document` with the standard encoder, in one C call (a Python call per value or per
    row would cost more than the encoding itself)."""
    if not raw:
        return _PG_JSON.encode(rows)
    slots = dict.fromkeys(raw, _RAW_SLOT)
    parts = _PG_JSON.encode([{**row, **slots} for row in rows]).split(_RAW_SLOT_JSON)
    if len(parts) != len(rows) * len(raw) + 1:
        return _pg_document_by_row(rows, raw)
    texts = iter(parts)
    pieces = [next(texts)]
    for row in rows:
        for name in raw:
            pieces += (row[name], next(texts))
    return "".join(pieces)


def _pg_document_by_row(rows: list[dict[str, Any]], raw: list[str]) -> str:
    """`pg_document` one row at a time (a plain value contained the raw slot's marker)."""
    parts = []
    for row in rows:
        plain = _PG_JSON.encode({n: v for n, v in row.items() if n not in raw})
        spliced = "".join(f',"{n}":{row[n]}' for n in raw)
        parts.append(plain[:-1] + spliced + "}" if plain != "{}" else "{" + spliced[1:] + "}")
    return "[" + ",".join(parts) + "]"


def bulk_insert(
    conn: Connection,
    table: sa.Table,
    rows: list[dict[str, Any]],
    *,
    conflict: list[str] | None = None,
    returning: Sequence[str] = (),
) -> list[sa.Row]:
    """One multi-row INSERT (… ON CONFLICT (conflict) DO NOTHING) RETURNING `returning`.

    PostgreSQL: INSERT … SELECT FROM jsonb_to_recordset(the rows as one JSON document) — one
    parameter whatever the row count, encoded in one call (`pg_document`) and parsed by the server
    (psycopg would otherwise re-parse a statement of thousands of placeholders in Python, or
    escape array elements one by one). Elsewhere: SQLAlchemy's multi-row VALUES."""
    if conn.dialect.name != "postgresql":
        statement = _insert_ignoring(conn, table, conflict) if conflict else sa.insert(table)
        if not returning:
            conn.execute(statement, rows)
            return []
        return conn.execute(statement.returning(*(table.c[c] for c in returning)), rows).all()
    names = list(rows[0])
    sql = (
        f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {', '.join(names)} "
        f"FROM {recordset(conn, table, names, 'rows')}"
    )
    if conflict:
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    result = conn.execute(sa.text(sql), {"rows": pg_document(rows)})
    return result.all() if returning else []


def recordset(
    conn: Connection, table: sa.Table, names: Sequence[str], param: str, extra: str = ""
) -> str:
    """`jsonb_to_recordset(CAST(:param AS jsonb)) AS r(…)` (PostgreSQL): the rows of a
    `pg_document` bound to `param`, as columns `names` typed like `table`'s (`extra`: more
    column definitions, e.g. a key to join on).

    jsonb, not json: the document is parsed once and a jsonb column's value is taken from it as
    it is; json_to_recordset hands each such value over as text, parsed again (a batch of
    policy versions: 5 ms instead of 8)."""
    record = ", ".join(f"{n} {table.c[n].type.compile(dialect=conn.dialect)}" for n in names)
    return f"jsonb_to_recordset(CAST(:{param} AS jsonb)) AS r({record}{extra})"


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
    """Feed observed objects with `observe`; `finish` marks the unseen ones removed.

    Two ways to know the stored rows: `known` (all of them, loaded up front by `load_known`),
    or `where` (the scope's conditions): then nothing is loaded up front — each chunk of
    observed objects looks its stored rows up in one SELECT, what is kept per object is one
    bit (`IdSet`), and `finish` finds the unseen rows by an ordered scan of the scope: memory
    stays flat whatever the scope's size."""

    def __init__(
        self,
        engine: Engine,
        model,
        *,
        scope: dict[str, Any],
        known: dict[str, Known] | None = None,
        where: Iterable[Any] | None = None,
        now: datetime,
        tally: Tally,
    ) -> None:
        if (known is None) == (where is None):
            raise ValueError("give either known or where")
        self.engine, self.model, self.scope, self.known = engine, model, scope, known
        self.now, self.tally = now, tally
        self.seen: set[str] = set()
        self._inserts: list[dict[str, Any]] = []
        self._updates: list[dict[str, Any]] = []
        self.where = list(where) if where is not None else None
        self.observed = IdSet()  # rows met (where mode)
        self._buffer: dict[str, dict[str, Any]] = {}  # graph id -> row, not yet looked up
        # Rows written after this point (ours, or a concurrent sync's) are outside the sweep.
        self.upto = last_id(engine, model) if known is None else 0

    async def observe(self, graph_id: str, values: dict[str, Any], digest: str) -> None:
        row = {**values, "content_hash": digest, "observed_at": self.now, "removed_at": None}
        if self.known is None:
            if graph_id in self._buffer:
                return  # Graph paging can repeat an item; count it once
            self._buffer[graph_id] = row
            self.tally.add("total")
            self.tally.add("processed")
            if len(self._buffer) >= CHUNK:
                await self.flush()
            return
        if graph_id in self.seen:
            return  # Graph paging can repeat an item; count it once
        self.seen.add(graph_id)
        self.tally.add("total")
        self.tally.add("processed")
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
        if self.known is None:
            buffer, self._buffer = self._buffer, {}
            if buffer:
                counts = await asyncio.to_thread(self._reconcile, buffer)
                for key, n in counts.items():
                    self.tally.add(key, n)
            return
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

    def _reconcile(self, buffer: dict[str, dict[str, Any]]) -> dict[str, int]:
        """One chunk (where mode): one SELECT for its stored rows, one multi-row INSERT, one
        executemany UPDATE. Runs in a thread; returns the counts to add."""
        table = self.model.__table__
        counts = dict.fromkeys(("created", "updated", "unchanged"), 0)
        inserts, updates = [], []
        with self.engine.begin() as conn:
            stored = conn.execute(
                select_by_keys(
                    conn,
                    table,
                    [table.c.graph_id, table.c.id, table.c.content_hash, table.c.removed_at],
                    table.c.graph_id,
                    list(buffer),
                    self.where,
                )
            ).all()
            found = {gid: Known(rid, h, removed is not None) for gid, rid, h, removed in stored}
            for graph_id, row in buffer.items():
                known = found.get(graph_id)
                if known is None:
                    inserts.append({**self.scope, "graph_id": graph_id, **row})
                    counts["created"] += 1
                elif known.id in self.observed:  # a repeat of an object met in an earlier chunk
                    counts["total"] = counts.get("total", 0) - 1
                    counts["processed"] = counts.get("processed", 0) - 1
                else:
                    self.observed.add(known.id)
                    if known.hash != row["content_hash"] or known.removed:
                        updates.append({"id": known.id, **row})
                        counts["updated"] += 1
                    else:
                        counts["unchanged"] += 1
            if inserts:
                for (row_id,) in bulk_insert(conn, table, inserts, returning=["id"]):
                    self.observed.add(row_id)
            if updates:
                names = [k for k in updates[0] if k != "id"]
                conn.execute(
                    sa.update(table)
                    .where(table.c.id == sa.bindparam("row_id"))
                    .values({k: sa.bindparam(f"new_{k}") for k in names}),
                    [{"row_id": u["id"], **{f"new_{k}": u[k] for k in names}} for u in updates],
                )
        return counts

    async def finish(self) -> int:
        """Flush, then mark rows in scope that were not observed as removed; return how many."""
        await self.flush()
        if self.known is None:
            gone_count = await asyncio.to_thread(
                sweep_unseen,
                self.engine,
                self.model,
                where=self.where,
                seen=self.observed,
                upto=self.upto,
                now=self.now,
            )
            self.tally.add("removed", gone_count)
            return gone_count
        gone = unseen_ids(self.known, self.seen)
        if gone:
            await asyncio.to_thread(mark_removed, self.engine, self.model, gone, self.now)
        self.tally.add("removed", len(gone))
        return len(gone)


def unseen_ids(known: dict[str, Known], seen: set[str]) -> list[int]:
    """Rows we hold as present that the latest full listing did not contain."""
    return [k.id for gid, k in known.items() if gid not in seen and not k.removed]


class IdSet:
    """Row ids as bits (one bit per id in the range met, whatever how many): what a sync has
    observed, in constant memory per id instead of a set of strings."""

    def __init__(self) -> None:
        self._base = 0
        self._bits = bytearray()

    def _locate(self, row_id: int) -> tuple[int, int]:
        offset = row_id - self._base
        return offset >> 3, 1 << (offset & 7)

    def add(self, row_id: int) -> None:
        if not self._bits:
            self._base = row_id & ~7
        elif row_id < self._base:  # rare: grow downwards
            shift = ((self._base - row_id) + 7) >> 3
            self._bits[:0] = bytes(shift)
            self._base -= shift * 8
        index, mask = self._locate(row_id)
        if index >= len(self._bits):
            self._bits.extend(bytes(index + 1 - len(self._bits)))
        self._bits[index] |= mask

    def __contains__(self, row_id: int) -> bool:
        if not self._bits or row_id < self._base:
            return False
        index, mask = self._locate(row_id)
        return index < len(self._bits) and bool(self._bits[index] & mask)


class KeyFilter:
    """Strings added, approximately (a Bloom filter of fixed size): `key in f` is never wrong
    when False, rarely a false True. Lets a sync of an empty scope skip looking up what it
    has not written, with memory that does not grow with the number of objects."""

    BITS = 1 << 22  # 512 KiB: ~0.01% false positives at 200,000 keys
    HASHES = 7
    _MASK = BITS - 1
    # One digest gives every position (32 bits each, masked to BITS): a sync checks and adds
    # each listed id on the event loop, so a position costs a C call, not Python arithmetic.
    _WORDS = struct.Struct(f"<{HASHES}I")

    def __init__(self) -> None:
        self._bits = bytearray(self.BITS // 8)

    def _positions(self, key: str) -> tuple[int, ...]:
        digest = hashlib.blake2b(key.encode("utf-8"), digest_size=self._WORDS.size).digest()
        return self._WORDS.unpack(digest)

    def add(self, key: str) -> None:
        bits, mask = self._bits, self._MASK
        for word in self._positions(key):
            position = word & mask
            bits[position >> 3] |= 1 << (position & 7)

    def __contains__(self, key: str) -> bool:
        bits, mask = self._bits, self._MASK
        for word in self._positions(key):
            position = word & mask
            if not bits[position >> 3] & (1 << (position & 7)):
                return False
        return True


def scope_is_empty(engine: Engine, model, where: Iterable[Any]) -> bool:
    """Whether no row (present or removed) is in scope."""
    table = model.__table__
    with engine.connect() as conn:
        return conn.execute(sa.select(table.c.id).where(*where).limit(1)).first() is None


def refresh_statistics(engine: Engine, model) -> None:
    """ANALYZE the model's table (PostgreSQL; a no-op elsewhere).

    After a big load into a table without statistics (autovacuum off or not there yet), the
    planner takes any scope for a row or two: the next sync's per-batch lookups are planned as
    a hash of the whole scope (tens of ms each at 50,000 rows, growing with it) instead of one
    index probe per key (~1 ms). ANALYZE samples a bounded number of rows, whatever the size."""
    if engine.dialect.name != "postgresql":
        return
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"ANALYZE {model.__table__.name}"))
    except sa.exc.DBAPIError as exc:  # the sync's rows are stored: a hint must not fail it
        logger.warning("ANALYZE %s failed: %s", model.__table__.name, exc.orig or exc)


def last_id(engine: Engine, model) -> int:
    """The highest row id now: rows above it were written after this point (by this sync or a
    concurrent one) and are outside a removal sweep that starts here."""
    table = model.__table__
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0)


SWEEP_PAGE = 5000


def sweep_unseen(
    engine: Engine, model, *, where: Iterable[Any], seen: IdSet, upto: int, now: datetime
) -> int:
    """Mark removed the rows in scope (present, id <= `upto`) whose id is not in `seen`.

    Walks the scope in id order, a page at a time, so memory does not grow with its size."""
    table = model.__table__
    where = list(where)
    removed, after = 0, 0
    with engine.begin() as conn:
        while True:
            ids = (
                conn.execute(
                    sa.select(table.c.id)
                    .where(*where, table.c.removed_at.is_(None), table.c.id > after)
                    .where(table.c.id <= upto)
                    .order_by(table.c.id)
                    .limit(SWEEP_PAGE)
                )
                .scalars()
                .all()
            )
            if not ids:
                return removed
            after = ids[-1]
            gone = [i for i in ids if i not in seen]
            for start in range(0, len(gone), CHUNK):
                conn.execute(
                    sa.update(table)
                    .where(any_of(conn, table.c.id, gone[start : start + CHUNK]))
                    .values(removed_at=now)
                )
            removed += len(gone)


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
