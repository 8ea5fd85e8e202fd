"""Hot statements executed on the bare driver cursor.

A user's start, a worker's claim and the Monitoring list are small statements run very often,
and on them SQLAlchemy's execution machinery (compiled-cache lookup, execution context, result
metadata matched column by column, Row objects, the Connection object and its isolation-level
switch) cost more CPU than the driver's round trip. What matters of SQLAlchemy is kept:

- `CompiledSQL`: the statement is a Core construct compiled by the dialect ONCE, and every
  parameter goes through its column type's own bind processor (UTC datetimes, enums, JSONB);
  with `process_results`, every column goes through its type's result processor too;
- `DirectStatement`: one statement as its own transaction on a pooled PostgreSQL connection in
  autocommit (one round trip), rows as named tuples of the driver's values; `rows_async`
  awaits it on a kept async connection instead (opsapp.db_async: the start and the claims);
- `fetch_on`: a SELECT inside a caller's transaction, on the DBAPI connection under its
  SQLAlchemy Connection.

Errors come out as SQLAlchemy's (DBAPIError subclasses) and a connection lost in the statement
is invalidated, as Connection.execute does. Observability is kept too: when anything watches
the statements (echo, an execution event listener — a test or a benchmark counting statements
or capturing SQL) the statement goes through SQLAlchemy's execution instead, so observers see
it. SQLite always does for DirectStatement (an in-process call has no round trip to save).

This leans on two private SQLAlchemy attributes, `compiled._bind_processors` and the
`_has_events` / `_echo` flags; tests/integration/test_db_direct.py and the list tests fail
loudly if an upgrade changes them.
"""

from __future__ import annotations

import asyncio
from collections import namedtuple
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from opsapp.db import single_statement
from opsapp.db_async import kept_connections


class CompiledSQL:
    """A Core statement compiled for one dialect: its SQL text, its parameters as the driver
    takes them, and (with `process_results`) its rows as the column types read them."""

    def __init__(
        self,
        statement: sa.Executable,
        dialect: sa.Dialect,
        *,
        process_results: bool = False,
        plan_each_time: bool = False,
    ) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.post_compile_params:  # re-rendered on every execution: defeats the purpose
            raise ValueError("a compiled-once statement cannot have expanding (IN list) parameters")
        if compiled.escaped_bind_names:
            raise ValueError("a compiled-once statement binds plain named parameters only")
        self.sql = compiled.string
        self._bind = dict(compiled._bind_processors)  # SQLAlchemy's own, per bound name
        self._fixed = self._processed(compiled.construct_params(_check=False))  # its literals
        self._order = compiled.positiontup  # e.g. SQLite's qmark style; None: named (psycopg)
        self._sequence = dialect.execute_sequence_format
        # psycopg prepares a statement on its fifth execution, and PostgreSQL may then keep one
        # generic plan for every value: made for an average tenant and filter value, not for
        # a 200,000-run tenant or a rare outcome. `plan_each_time` plans with the values.
        self.driver_options = (
            {"prepare": False} if plan_each_time and dialect.name == "postgresql" else {}
        )
        self._columns: tuple[tuple[int, Any], ...] = ()
        if process_results:
            # The driver's type code (None here) matters to none of our column types.
            self._columns = tuple(
                (i, process)
                for i, column in enumerate(statement.selected_columns)
                if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
            )
            if any(process(None) is not None for _, process in self._columns):
                raise ValueError("a column type reads NULL as a value; processed() skips NULLs")

    def _processed(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {
            name: process(value) if (process := self._bind.get(name)) else value
            for name, value in params.items()
        }

    def parameters(self, params: Mapping[str, Any]) -> dict[str, Any] | Sequence[Any]:
        """The caller's values as the driver takes them, with the statement's own."""
        values = {**self._fixed, **self._processed(params)}
        if self._order is None:
            return values
        return self._sequence(values[name] for name in self._order)

    def processed(self, rows: Sequence[tuple]) -> Iterable[tuple]:
        """`rows` with each typed column mapped through its result processor, column by column
        (a comprehension per column, not a Python loop per row and column). NULL stays None
        without a call: every processor kept maps None to None (checked at construction)."""
        if not rows or not self._columns:
            return rows
        values = list(zip(*rows, strict=True))
        for i, process in self._columns:
            values[i] = [None if value is None else process(value) for value in values[i]]
        return zip(*values, strict=True)


# -- one statement as its own transaction ----------------------------------------------------
class DirectStatement:
    """One Core statement; `rows(engine, params)` runs it as its own transaction."""

    def __init__(self, statement: sa.Executable) -> None:
        self.statement = statement
        self._compiled: CompiledSQL | None = None

    def rows(self, engine: Engine, params: Mapping[str, Any]) -> list[Any]:
        """The rows, with attribute access by column name. Raw driver values on the direct
        path (PostgreSQL, nobody watching); SQLAlchemy's own execution — result processing
        included — otherwise."""
        if engine.dialect.name == "postgresql" and not observed(engine):
            compiled = self._compiled_for(engine.dialect)
            return _execute_autocommit(engine, compiled.sql, compiled.parameters(params))
        with single_statement(engine) as conn:
            result = conn.execute(self.statement, params)
            return result.all() if result.returns_rows else []

    def _compiled_for(self, dialect: sa.Dialect) -> CompiledSQL:
        """Compiled on first use (PostgreSQL: the only dialect the direct paths serve)."""
        if self._compiled is None:
            self._compiled = CompiledSQL(self.statement, dialect)
        return self._compiled

    async def rows_async(self, engine: Engine, params: Mapping[str, Any]) -> list[Any]:
        """`rows`, awaited on the caller's event loop: on one of the engine's kept async
        connections (opsapp.db_async: no thread hop, no pool checkout), or in a thread where
        that path does not apply (SQLite, someone watching, every kept connection busy)."""
        if engine.dialect.name == "postgresql" and not observed(engine):
            dialect = engine.dialect
            compiled = self._compiled_for(dialect)
            sql, values = compiled.sql, compiled.parameters(params)

            def translate(exc: Exception, conn: Any) -> Exception:  # the keeper closes conn
                return _as_sqlalchemy_error(exc, sql, values, dialect, conn, _nothing)

            result = await kept_connections(engine).rows(sql, values, translate)
            if result is not None:
                names, rows = result
                return _named(tuple(names), rows) if names else []
        return await asyncio.to_thread(self.rows, engine, params)


def _execute_autocommit(engine: Engine, sql: str, values: Any) -> list[Any]:
    """The statement as its own transaction on a pooled psycopg connection (one round trip)."""
    pooled = engine.raw_connection()
    driver = pooled.driver_connection
    try:
        driver.autocommit = True
        try:
            with driver.cursor() as cursor:
                cursor.execute(sql, values)
                result = cursor.pgresult
                if result is None or not result.nfields:
                    return []
                # The names straight from the result: `cursor.description` builds a Column
                # object per column (with its type lookups) on every access.
                names = tuple(result.fname(i).decode() for i in range(result.nfields))
                return _named(names, cursor.fetchall())
        finally:
            if not driver.closed:
                driver.autocommit = False
    except engine.dialect.loaded_dbapi.Error as exc:
        raise _as_sqlalchemy_error(
            exc, sql, values, engine.dialect, driver, pooled.invalidate
        ) from exc
    finally:
        pooled.close()


def _named(columns: tuple[str, ...], rows: list[tuple]) -> list[Any]:
    row_type = _row_type(columns)
    return [row_type._make(row) for row in rows]


@lru_cache(maxsize=64)
def _row_type(columns: tuple[str, ...]) -> type:
    return namedtuple("DirectRow", columns, rename=True)  # type: ignore[misc]


# -- a SELECT inside the caller's transaction -------------------------------------------------
_CURSOR = "opsapp.db_direct.cursor"


def fetch_on(conn: Connection, compiled: CompiledSQL, params: Mapping[str, Any]) -> Iterable:
    """The rows of `compiled` (a SELECT) executed on the DBAPI connection under `conn`, so in
    its transaction; processed as `compiled` says. Observers see it through exec_driver_sql."""
    values = compiled.parameters(params)
    if observed(conn):
        return compiled.processed(conn.exec_driver_sql(compiled.sql, values).all())
    try:
        cursor = _kept_cursor(conn)
        cursor.execute(compiled.sql, values, **compiled.driver_options)
        return compiled.processed(cursor.fetchall())
    except conn.dialect.loaded_dbapi.Error as exc:
        dbapi = conn.connection.dbapi_connection
        raise _as_sqlalchemy_error(
            exc, compiled.sql, values, conn.dialect, dbapi, conn.invalidate
        ) from exc


def _kept_cursor(conn: Connection) -> Any:
    """A cursor kept in the connection's info (which lives exactly as long as its DBAPI
    connection): a new psycopg cursor resolves the loaders of every column again on its first
    fetch, about a tenth of a 50-row query's time. Between calls it holds the last rows."""
    cursor = conn.info.get(_CURSOR)
    if cursor is None:
        cursor = conn.info[_CURSOR] = conn.connection.dbapi_connection.cursor()
    return cursor


# -- shared --------------------------------------------------------------------------------------
# The execution events exec_driver_sql fires, and the dialect's hooks around it.
_EXECUTION_EVENTS = (
    "before_execute",
    "after_execute",
    "before_cursor_execute",
    "after_cursor_execute",
)
_DIALECT_EVENTS = ("do_execute", "handle_error")


def observed(target: Engine | Connection) -> bool:
    """Whether anything watches the statements `target` sends: echo, an execution event
    listener or a dialect hook. SQLAlchemy's own `_has_events` flags stay set once a listener
    was ever added, so when one is set the listeners themselves are looked at."""
    engine = target if isinstance(target, Engine) else target.engine
    if engine.echo or (isinstance(target, Connection) and target._echo):
        return True
    dialect = engine.dialect
    if not (target._has_events or engine._has_events or dialect._has_events):
        return False
    return any(getattr(target.dispatch, name) for name in _EXECUTION_EVENTS) or any(
        getattr(dialect.dispatch, name) for name in _DIALECT_EVENTS
    )


def _nothing(_exc: BaseException) -> None:
    """No pool entry to invalidate (the kept async path closes the connection itself)."""


def _as_sqlalchemy_error(
    exc: Exception, sql: str, values: Any, dialect: sa.Dialect, dbapi_conn: Any, invalidate: Any
) -> sa.exc.DBAPIError:
    """The driver's error as SQLAlchemy would raise it; a connection it lost is invalidated
    (never given back to the pool)."""
    lost = dialect.is_disconnect(exc, dbapi_conn, None)
    if lost:
        invalidate(exc)
    return sa.exc.DBAPIError.instance(
        sql, values, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
    )
