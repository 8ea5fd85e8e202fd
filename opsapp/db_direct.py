"""Hot single statements executed on the bare driver connection (PostgreSQL).

A user's start and a worker's claim are one small statement each, and on them SQLAlchemy's
execution machinery (execution context, result metadata matched column by column, the
Connection object and its isolation-level switch) cost more CPU than the driver's round trip.
`DirectStatement` keeps what matters of SQLAlchemy — the statement is a Core construct,
compiled by the dialect once, and every parameter goes through the column type's own bind
processor (UTC datetimes, JSONB) — and hands the compiled SQL to the psycopg cursor of a pooled
connection in autocommit.

What it gives up, on purpose: result processing (rows come back as the driver returns them —
psycopg already gives ints, text, dicts for JSONB and aware datetimes; callers convert what
they need, as they must for `*` columns anyway) and SQLAlchemy's cursor events. When anything
listens to the engine's events (a test or a benchmark counting statements) the statement goes
through SQLAlchemy as before, so observers see every statement; SQLite always does (an
in-process call has no round trip to save).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsapp.db import single_statement


class DirectStatement:
    """One Core statement; `rows(engine, params)` runs it as its own transaction."""

    def __init__(self, statement: sa.Executable) -> None:
        self.statement = statement
        self._compiled: _Compiled | None = None

    def rows(self, engine: Engine, params: Mapping[str, Any]) -> list[Any]:
        """The rows, with attribute access by column name. Raw driver values on the direct
        path (PostgreSQL, nobody listening to the engine's events); SQLAlchemy's own execution
        — result processing included — otherwise."""
        if engine.dialect.name == "postgresql" and not _observed(engine):
            if self._compiled is None:
                self._compiled = _Compiled(self.statement, engine.dialect)
            compiled = self._compiled
            return _execute_autocommit(engine, compiled.sql, compiled.parameters(params))
        with single_statement(engine) as conn:
            result = conn.execute(self.statement, params)
            return result.all() if result.returns_rows else []


def _observed(engine: Engine) -> bool:
    """Whether anything listens to the statements the engine sends (now: listeners that were
    removed again do not count, unlike SQLAlchemy's own sticky `_has_events`)."""
    events = engine.dispatch
    return bool(events.before_cursor_execute) or bool(events.after_cursor_execute)


class _Compiled:
    """The SQL text for one dialect, the values of its fixed parameters (literals), and the
    bind processors of its typed ones."""

    def __init__(self, statement: sa.Executable, dialect: sa.Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.post_compile_params:  # re-rendered per execution: defeats the purpose
            raise ValueError("a direct statement cannot have expanding (IN list) parameters")
        if compiled.positiontup is not None:
            raise ValueError(f"{dialect.name}'s positional parameters are not supported here")
        self.sql = compiled.string
        self.fixed = compiled.construct_params(_check=False)
        self.processors = dict(compiled._bind_processors)  # SQLAlchemy's own, per type

    def parameters(self, params: Mapping[str, Any]) -> dict[str, Any]:
        values = {**self.fixed, **params}
        for name, process in self.processors.items():
            if name in values:
                values[name] = process(values[name])
        return values


def _execute_autocommit(engine: Engine, sql: str, values: dict[str, Any]) -> list[Any]:
    """The statement as its own transaction on a pooled psycopg connection (one round trip)."""
    pooled = engine.raw_connection()
    driver = pooled.driver_connection
    dialect = engine.dialect
    try:
        driver.autocommit = True
        try:
            with driver.cursor() as cursor:
                cursor.execute(sql, values)
                description = cursor.description  # psycopg builds it anew on each access
                if description is None:
                    return []
                return _named(tuple(c.name for c in description), cursor.fetchall())
        finally:
            if not driver.closed:
                driver.autocommit = False
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, driver, None)
        if lost:
            pooled.invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            sql,
            values,
            exc,
            dialect.loaded_dbapi.Error,
            connection_invalidated=lost,
            dialect=dialect,
        ) from exc
    finally:
        pooled.close()


def _named(columns: tuple[str, ...], rows: list[tuple]) -> list[Any]:
    row_type = _row_type(columns)
    return [row_type._make(row) for row in rows]


@lru_cache(maxsize=64)
def _row_type(columns: tuple[str, ...]) -> type:
    return namedtuple("DirectRow", columns, rename=True)  # type: ignore[misc]
