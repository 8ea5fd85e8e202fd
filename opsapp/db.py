"""Engine and session scope: the only place sessions are made."""

from __future__ import annotations

import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, create_engine

from opsapp.settings import get_settings


def _configure_sqlite(engine: Engine) -> None:
    # WAL + busy timeout let the web process, an in-process worker and the CLI share one file.
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every sqlite test
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()


# A pooled PostgreSQL connection idle longer than this is pinged (SELECT 1) before reuse: a NAT
# or firewall may have dropped it silently. Fresher ones get only the free check below.
PING_AFTER_IDLE_SECONDS = 30.0


def socket_readable(fd: int) -> bool:
    """Whether the socket has something to read (or hung up) right now, without waiting.
    poll, not select: select refuses descriptors past 1,023, which a busy web process has."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def _configure_postgres_liveness(engine: Engine) -> None:
    """Check a pooled connection before reuse without a round trip per checkout (what
    pool_pre_ping costs: one SELECT 1 each time, a third of a short transaction's round trips).

    An idle connection has nothing to read. When its backend is terminated
    (pg_terminate_backend, a restart, a failover) the server sends an error and closes the
    socket, so the socket turns readable: such a connection is replaced before anyone uses it.
    Raising DisconnectionError here makes the pool discard it and hand out another."""

    @event.listens_for(engine, "checkin")
    def _idle_since(_dbapi_conn, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check_alive(dbapi_conn, record, _proxy) -> None:
        since = record.info.pop("idle_since", None)
        if since is None:
            return  # a brand-new connection
        try:
            if socket_readable(dbapi_conn.fileno()) or dbapi_conn.closed:
                raise exc.DisconnectionError("the server closed this pooled connection")
            if time.monotonic() - since > PING_AFTER_IDLE_SECONDS:
                dbapi_conn.execute("SELECT 1")
                dbapi_conn.rollback()
        except exc.DisconnectionError:
            raise
        except Exception as error:
            raise exc.DisconnectionError(str(error)) from error


def _configure_postgres_utc(engine: Engine) -> None:
    """Every session runs in UTC, whatever the server's default time zone: opsapp stores and
    shows UTC, so day boundaries in SQL are UTC days, and psycopg reads timestamptz values
    with `datetime.UTC` itself (for any other session time zone it attaches a ZoneInfo that
    UTCDateTime has to convert, value by value, on every row read). Set as a startup option
    of the connection (no round trip), added to any options the URL carries."""

    @event.listens_for(engine, "do_connect")
    def _utc_session(_dialect, _record, _cargs, cparams) -> None:
        utc_session_options(cparams)


def utc_session_options(cparams: dict) -> dict:
    """`cparams` (psycopg connect keywords) with the session time zone set to UTC after any
    options they carry (the last -c wins)."""
    cparams["options"] = f"{cparams.get('options', '')} -c TimeZone=UTC".strip()
    return cparams


def get_engine(url: str | None = None) -> Engine:
    """Return the (cached) engine for `url`, defaulting to the configured DATABASE_URL.

    The default is resolved on every call, then cached by URL: a changed DATABASE_URL (tests,
    a reloaded settings object) never gets the engine of the previous one."""
    return _engine_for(url or get_settings().database_url)


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
    else:
        # LIFO: the busiest connections stay in use and the rest age out, so a checkout rarely
        # meets one idle long enough to need a ping.
        engine = create_engine(url, pool_size=10, max_overflow=20, pool_use_lifo=True)
        _configure_postgres_liveness(engine)
        _configure_postgres_utc(engine)
    return engine


@contextmanager
def single_statement(engine: Engine) -> Iterator[Connection]:
    """A connection for work that is ONE statement (a guarded UPDATE, the start's INSERT … WITH):
    on PostgreSQL in autocommit, so the statement is its own transaction and costs one round
    trip instead of BEGIN + statement + COMMIT. SQLite gets an ordinary transaction (an
    in-process call, no round trips to save). Never run two dependent statements here."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn
    else:
        with engine.begin() as conn:
            yield conn


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A unit of work: commits on success, rolls back on error, always closes."""
    session = Session(engine or get_engine(), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
