"""Database leases on job_locks, on SQLite and PostgreSQL, including real concurrency."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa

from opsapp import locks
from opsapp.models.types import utcnow


def _holders(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT name, holder FROM job_locks")).all())


def test_a_lease_has_one_holder_until_released(engine):
    assert locks.acquire(engine, "job", "a", 60) is True
    assert locks.acquire(engine, "job", "b", 60) is False
    assert locks.acquire(engine, "job", "a", 60) is False  # not re-entrant
    assert locks.acquire(engine, "other", "b", timedelta(seconds=60)) is True
    assert _holders(engine) == {"job": "a", "other": "b"}

    assert locks.release(engine, "job", "b") is False  # only the holder releases
    assert locks.release(engine, "job", "a") is True
    assert locks.acquire(engine, "job", "b", 60) is True


def test_an_expired_lease_is_taken_over_and_renew_only_works_for_the_holder(engine):
    now = utcnow()
    assert locks.acquire(engine, "job", "dead", 10, now=now - timedelta(seconds=30))
    assert locks.renew(engine, "job", "someone", 60) is False

    assert locks.acquire(engine, "job", "alive", 60, now=now) is True
    assert _holders(engine) == {"job": "alive"}
    assert locks.renew(engine, "job", "dead", 60) is False
    assert locks.renew(engine, "job", "alive", 60, now=now + timedelta(seconds=50)) is True
    # renewed to now+50+60: still held 100 s later
    assert locks.acquire(engine, "job", "late", 60, now=now + timedelta(seconds=100)) is False


def test_held_releases_on_exit_and_reports_contention(engine):
    with locks.held(engine, "job", 60) as first:
        with locks.held(engine, "job", 60) as second:
            assert (first, second) == (True, False)
        assert "job" in _holders(engine)  # the loser did not release the winner's lease
    assert _holders(engine) == {}

    try:
        with locks.held(engine, "job", 60) as got:
            assert got
            raise RuntimeError("job failed")
    except RuntimeError:
        pass
    assert _holders(engine) == {}


def test_purge_expired_drops_only_expired_leases(engine):
    now = utcnow()
    locks.acquire(engine, "old", "x", 1, now=now - timedelta(hours=1))
    locks.acquire(engine, "live", "y", 3600, now=now)

    assert locks.purge_expired(engine, now=now) == 1
    assert _holders(engine) == {"live": "y"}


def test_concurrent_acquirers_get_exactly_one_winner(engine):
    rounds, racers = 10, 6
    for n in range(rounds):
        barrier = threading.Barrier(racers)

        def race(i, n=n, barrier=barrier):
            with engine.connect():
                pass  # connection warm before the gun
            barrier.wait()
            return locks.acquire(engine, f"race-{n}", f"holder-{i}", 60)

        with ThreadPoolExecutor(racers) as pool:
            results = list(pool.map(race, range(racers)))
        assert results.count(True) == 1, (n, results)
