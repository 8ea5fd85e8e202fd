"""One statement on an async psycopg connection, awaited on the caller's event loop.

A user's start is one statement. Sent through a thread (asyncio.to_thread and a checkout from
SQLAlchemy's pool), the thread hop alone cost a third of what the statement's round trip
costs; awaited on the event loop it costs the round trip. The event loop is never blocked:
psycopg's async connection waits on the socket through the loop.

`KeptConnections` keeps a few such connections per engine (in autocommit: each statement is its
own transaction, one round trip), reused LIFO so the busiest stay warm. A connection is used by
one task at a time and is not tied to an event loop (psycopg looks the running loop up on every
wait, and its lock binds to a loop only when contended), so the same connections serve the
Reflex backend's loop, a worker's loop and the loops tests create. What a kept connection
inherits from opsapp.db's engine: the same server, credentials and URL options, a UTC session,
the liveness check before reuse (a readable idle socket means the server closed it; a ping
after PING_AFTER_IDLE_SECONDS idle), and SQLAlchemy's error types for driver errors.

When all MAX_OPEN connections are busy, or anything watches the engine's statements (echo, an
event listener — opsapp.db_direct.observed), the caller takes its thread path instead: a burst
of starts never opens more connections than this, and observers still see every statement.
A connection that raised anything, a cancellation included, is closed, never reused: its
state is unknown.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from typing import Any

import psycopg
from sqlalchemy.engine import Engine

from opsapp.db import PING_AFTER_IDLE_SECONDS, socket_readable, utc_session_options

MAX_OPEN = 4  # per engine and process: a start holds one for a single round trip
# Connections a forked child found in its parent's keeper: kept referenced and never closed
# here, because libpq's goodbye on close (or when psycopg finalizes them) would go out on the
# socket the parent still uses. opsapp starts its processes with exec; this is for forks.
_INHERITED: list[psycopg.AsyncConnection] = []


class _Kept:
    """An idle connection and what it needs to be reused: its cursor (a new psycopg cursor
    resolves its loaders again) and when it went idle."""

    __slots__ = ("conn", "cursor", "idle_since", "pid")

    def __init__(self, conn: psycopg.AsyncConnection) -> None:
        self.conn, self.cursor = conn, conn.cursor()
        self.idle_since, self.pid = time.monotonic(), os.getpid()


class KeptConnections:
    """The async connections kept for one engine."""

    def __init__(self, engine: Engine) -> None:
        cargs, cparams = engine.dialect.create_connect_args(engine.url)
        self._connect_args = (tuple(cargs), utc_session_options(dict(cparams)))
        self._idle: list[_Kept] = []
        self._open = 0
        self._lock = threading.Lock()  # loops in several threads may share the engine

    async def rows(
        self, sql: str, values: Any, translate: Callable[[psycopg.Error, Any], Exception]
    ) -> tuple[list[str], list[tuple]] | None:
        """(column names, rows) of `sql`, run as its own transaction; None when every
        connection is busy (the caller takes its other path). A driver error is raised as
        `translate(error, connection)` makes it, called before the connection is closed (so
        it can still tell whether the connection broke)."""
        try:
            kept = await self._checkout()
        except psycopg.Error as exc:  # no server (connect refused, restarting, bad password)
            raise translate(exc, None) from exc
        if kept is None:
            return None
        try:
            await kept.cursor.execute(sql, values)
            result = kept.cursor.pgresult
            names = (
                [result.fname(i).decode() for i in range(result.nfields)]
                if result is not None
                else []
            )
            rows = await kept.cursor.fetchall() if names else []
        except psycopg.Error as exc:
            error = translate(exc, kept.conn)
            await self._discard(kept)
            raise error from exc
        except BaseException:
            await self._discard(kept)
            raise
        self._checkin(kept)
        return names, rows

    async def _checkout(self) -> _Kept | None:
        while True:
            with self._lock:
                kept = self._idle.pop() if self._idle else None
                if kept is None:
                    if self._open >= MAX_OPEN:
                        return None
                    self._open += 1  # reserved before the connect, so a burst stays capped
            if kept is None:
                return await self._connect()
            if await self._usable(kept):
                return kept

    async def _connect(self) -> _Kept:
        cargs, cparams = self._connect_args
        try:
            conn = await psycopg.AsyncConnection.connect(*cargs, autocommit=True, **cparams)
        except BaseException:
            with self._lock:
                self._open -= 1
            raise
        return _Kept(conn)

    async def _usable(self, kept: _Kept) -> bool:
        """Whether an idle connection can be reused; one that cannot is closed."""
        conn = kept.conn
        alive = kept.pid == os.getpid() and not conn.closed
        if alive:  # an idle connection has nothing to read unless the server closed it
            alive = not socket_readable(conn.fileno())
        if alive and time.monotonic() - kept.idle_since > PING_AFTER_IDLE_SECONDS:
            try:
                await conn.execute("SELECT 1")
            except psycopg.Error:
                alive = False
            except BaseException:  # cancelled mid-ping: its state is unknown
                await self._discard(kept)
                raise
        if not alive:
            await self._discard(kept)
        return alive

    def _checkin(self, kept: _Kept) -> None:
        kept.idle_since = time.monotonic()
        with self._lock:
            self._idle.append(kept)

    async def _discard(self, kept: _Kept) -> None:
        with self._lock:
            self._open -= 1
        if kept.pid == os.getpid():
            await kept.conn.close()
        else:  # a forked child: closing (or finalizing) it would end the parent's session
            _INHERITED.append(kept.conn)

    def close(self) -> None:
        """Close the idle connections (the engine went away, or the process exits)."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for kept in idle:
            if kept.pid == os.getpid():
                _finish(kept.conn.close())
            else:
                _INHERITED.append(kept.conn)


def _finish(coroutine: Coroutine) -> None:
    """Run a coroutine that never suspends (psycopg's async close) without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()  # it did suspend: give up rather than block a finalizer
    raise RuntimeError("expected a coroutine that completes without waiting")


_BY_ENGINE: weakref.WeakKeyDictionary[Engine, KeptConnections] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def kept_connections(engine: Engine) -> KeptConnections:
    """The engine's kept connections (PostgreSQL engines only), closed when the engine is
    garbage-collected or the process exits."""
    kept = _BY_ENGINE.get(engine)
    if kept is None:
        with _REGISTRY_LOCK:
            kept = _BY_ENGINE.get(engine)
            if kept is None:
                kept = _BY_ENGINE[engine] = KeptConnections(engine)
                weakref.finalize(engine, kept.close)
    return kept
