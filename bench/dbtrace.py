"""Counting database round trips.

`StatementLog` listens on a SQLAlchemy engine and records, per thread, every statement
(`before_cursor_execute`), every transaction start / commit / rollback and every pool pre-ping
(one per checkout of a pooled connection). On PostgreSQL (psycopg 3) each of these is one
network round trip: psycopg sends BEGIN as its own command before the first statement of a
transaction, COMMIT / ROLLBACK likewise, and SQLAlchemy's pre-ping is a `SELECT 1`.

`WireTrace` checks that accounting on the wire: it switches on libpq's protocol trace for every
new PostgreSQL connection of the engine and counts ReadyForQuery messages — the server sends
exactly one per round trip (per simple Query, per extended-protocol Sync).
"""

from __future__ import annotations

import contextvars
import ctypes
import re
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

_VERB = re.compile(r"^\s*(SELECT|INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(\S+)", re.I)
_FROM = re.compile(r"\bFROM\s+(\w+)", re.I)


def label(statement: str) -> str:
    """A short name for a statement: verb and table, and what an UPDATE of a run does."""
    text = " ".join(statement.split())
    if text.startswith("WITH who AS"):
        return "WITH … INSERT operation_runs (the one-statement start)"
    if text.startswith("WITH done AS"):
        return "WITH … UPDATE operation_runs (complete + notification)"
    match = _VERB.match(text)
    if match is None:
        return text[:40]
    verb = match.group(1).split()[0].upper()
    table = match.group(2).strip('"')
    if verb == "SELECT":
        found = _FROM.search(text)
        table = found.group(1) if found else "?"
    name = f"{verb} {table}"
    if verb == "UPDATE" and table == "operation_runs":
        if "attempts" in text:
            name += " (mark running)"
        elif "completed_at" in text:
            name += " (complete)"
        elif "summary_counts" in text:
            name += " (progress)"
        elif "heartbeat_at" in text:
            name += " (heartbeat)"
    elif verb == "SELECT" and table == "operation_runs":
        where = text.partition(" WHERE ")[2]
        name += " (active run of the identity)" if "run_identity_hash" in where else " (by id)"
    return name


# Which side a statement belongs to. Set by the benchmark around a start ("start") and around
# the dispatch ("worker": the in-memory broker's task copies the context it is created in);
# asyncio.to_thread carries it into the threads that do the database work.
SIDE: contextvars.ContextVar[str | None] = contextvars.ContextVar("bench_side", default=None)


@dataclass
class StatementLog:
    engine: Engine
    events: list[tuple[str, str]] = field(default_factory=list)  # (side, what)
    _main: int = field(default_factory=threading.get_ident)
    _fresh: set[int] = field(default_factory=set)

    def _side(self) -> str:
        side = SIDE.get()
        if side is not None:
            return side
        return "start" if threading.get_ident() == self._main else "worker"

    def _statement(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.events.append((self._side(), label(statement)))

    # A connection in autocommit (opsapp.db.single_statement) sends no BEGIN / COMMIT /
    # ROLLBACK, although SQLAlchemy still fires its logical transaction events.
    @staticmethod
    def _autocommit(conn) -> bool:
        dbapi = conn.connection.dbapi_connection
        return bool(getattr(dbapi, "autocommit", False))

    def _begin(self, conn) -> None:
        if not self._autocommit(conn):
            self.events.append((self._side(), "BEGIN"))

    def _commit(self, conn) -> None:
        if not self._autocommit(conn):
            self.events.append((self._side(), "COMMIT"))

    def _rollback(self, conn) -> None:
        if not self._autocommit(conn):
            self.events.append((self._side(), "ROLLBACK"))

    def _connect(self, dbapi_conn, record) -> None:
        self._fresh.add(id(record))

    def _checkout(self, dbapi_conn, record, proxy) -> None:
        if id(record) in self._fresh:  # a new connection is not pinged on its first checkout
            self._fresh.discard(id(record))
        elif self.engine.pool._pre_ping:
            self.events.append((self._side(), "pre-ping (SELECT 1)"))

    def _listeners(self):
        return (
            (self.engine, "before_cursor_execute", self._statement),
            (self.engine, "begin", self._begin),
            (self.engine, "commit", self._commit),
            (self.engine, "rollback", self._rollback),
            (self.engine.pool, "connect", self._connect),
            (self.engine.pool, "checkout", self._checkout),
        )

    def __enter__(self) -> StatementLog:
        for target, name, fn in self._listeners():
            sa.event.listen(target, name, fn)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for target, name, fn in self._listeners():
            sa.event.remove(target, name, fn)

    def counts(self, side: str | None = None) -> Counter[str]:
        return Counter(what for s, what in self.events if side is None or s == side)

    def statements(self, side: str | None = None) -> int:
        skip = ("BEGIN", "COMMIT", "ROLLBACK", "pre-ping (SELECT 1)")
        return sum(n for what, n in self.counts(side).items() if what not in skip)

    def round_trips(self, side: str | None = None) -> int:
        return sum(self.counts(side).values())


class WireTrace:
    """libpq protocol trace of every connection the engine opens while this is active."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._dir = tempfile.TemporaryDirectory(prefix="opsapp-bench-trace-")
        self._files = []

    def _connect(self, dbapi_conn, record) -> None:
        import psycopg

        handle = open(Path(self._dir.name) / f"conn-{len(self._files)}.trace", "w")  # noqa: SIM115
        self._files.append(handle)
        dbapi_conn.pgconn.trace(handle.fileno())
        dbapi_conn.pgconn.set_trace_flags(
            psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE
        )

    def __enter__(self) -> WireTrace:
        self.engine.dispose()  # only connections opened from now on are traced
        sa.event.listen(self.engine.pool, "connect", self._connect)
        return self

    def round_trips(self) -> int:
        ctypes.CDLL(None).fflush(None)  # libpq writes through C stdio buffers
        total = 0
        for handle in self._files:
            text = Path(handle.name).read_text()
            total += sum(1 for line in text.splitlines() if "\tReadyForQuery" in line)
        return total

    def __exit__(self, *exc_info: object) -> None:
        sa.event.remove(self.engine.pool, "connect", self._connect)
        self.engine.dispose()  # close the traced connections before their files
        for handle in self._files:
            handle.close()
        self._dir.cleanup()
