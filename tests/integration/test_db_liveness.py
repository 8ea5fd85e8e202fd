"""Pooled PostgreSQL connections are checked before reuse without a round trip (opsapp.db): a
connection whose backend was terminated is replaced, never handed to a caller."""

import time

import sqlalchemy as sa

from opsapp import db


def _pid(conn) -> int:
    return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()


def test_a_terminated_pooled_connection_is_replaced_before_use(pg_engine):
    with pg_engine.connect() as conn:
        doomed = _pid(conn)
    outsider = sa.create_engine(pg_engine.url, poolclass=sa.pool.NullPool)
    with outsider.connect() as killer:
        assert killer.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": doomed}).scalar()
    outsider.dispose()
    time.sleep(0.2)  # the server's goodbye reaches the idle socket

    with pg_engine.connect() as conn:
        assert _pid(conn) != doomed  # no error: the dead one was discarded at checkout


def test_a_pooled_connection_is_reused_without_a_ping(pg_engine, monkeypatch):
    pings = []
    real_ping = pg_engine.dialect.do_ping
    monkeypatch.setattr(pg_engine.dialect, "do_ping", lambda c: pings.append(c) or real_ping(c))
    pg_engine.dispose()  # a pool of one connection: the next checkouts reuse it
    with pg_engine.connect() as conn:
        first = _pid(conn)
    with db.single_statement(pg_engine) as conn:
        assert _pid(conn) == first  # the same pooled connection, in autocommit
    with pg_engine.begin() as conn:
        assert _pid(conn) == first
    assert pings == []
