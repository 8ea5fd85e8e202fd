"""Named leases in the `job_locks` table: mutual exclusion across processes, no Redis needed.

A lease is one row (name, holder, expires_at). Taking it is ONE statement on both dialects:

    INSERT … ON CONFLICT (name) DO UPDATE SET holder, expires_at WHERE job_locks.expires_at < now
    RETURNING name

A row comes back only when the lease was free (no row) or expired, so concurrent callers in any
number of processes get exactly one winner; the database's unique key decides. An expired lease
is taken over, so a holder that died never blocks a job for longer than its ttl.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from opsapp.models import JobLock
from opsapp.models.types import utcnow

_T = JobLock.__table__


def _ttl(ttl: timedelta | float) -> timedelta:
    return ttl if isinstance(ttl, timedelta) else timedelta(seconds=float(ttl))


def new_holder() -> str:
    """A holder id that names the process (for people reading the table) and is unique."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def acquire(
    engine: Engine, name: str, holder: str, ttl: timedelta | float, *, now: datetime | None = None
) -> bool:
    """Take the lease `name` for `holder` until now + ttl. False when someone else holds it.

    Re-acquiring a lease you already hold is refused as well (leases are not re-entrant); use
    `renew` to extend one."""
    now = now or utcnow()
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(_T).values(name=name, holder=holder, expires_at=now + _ttl(ttl))
    stmt = stmt.on_conflict_do_update(
        index_elements=[_T.c.name],
        set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
        where=_T.c.expires_at < now,
    ).returning(_T.c.name)
    with engine.begin() as conn:
        return conn.execute(stmt).first() is not None


def renew(
    engine: Engine, name: str, holder: str, ttl: timedelta | float, *, now: datetime | None = None
) -> bool:
    """Extend a lease `holder` still holds. False when it expired and someone else took it."""
    now = now or utcnow()
    stmt = (
        sa.update(_T)
        .where(_T.c.name == name, _T.c.holder == holder)
        .values(expires_at=now + _ttl(ttl))
        .returning(_T.c.name)
    )
    with engine.begin() as conn:
        return conn.execute(stmt).first() is not None


def release(engine: Engine, name: str, holder: str) -> bool:
    """Give the lease back (only the holder can). False when it was no longer ours."""
    stmt = sa.delete(_T).where(_T.c.name == name, _T.c.holder == holder).returning(_T.c.name)
    with engine.begin() as conn:
        return conn.execute(stmt).first() is not None


def purge_expired(engine: Engine, *, now: datetime | None = None) -> int:
    """Delete expired leases (per-minute schedule guards leave one row per firing)."""
    with engine.begin() as conn:
        return conn.execute(sa.delete(_T).where(_T.c.expires_at < (now or utcnow()))).rowcount


@contextmanager
def held(engine: Engine, name: str, ttl: timedelta | float) -> Iterator[bool]:
    """`with held(engine, "x", 600) as got:` — `got` says whether this caller holds the lease;
    it is released on exit (only if it was taken)."""
    holder = new_holder()
    got = acquire(engine, name, holder, ttl)
    try:
        yield got
    finally:
        if got:
            release(engine, name, holder)
