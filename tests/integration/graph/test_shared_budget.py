"""The Redis-backed Graph budget against a real Redis: the Lua script's arithmetic, several
limiters (separate clients, and separate OS processes) sharing one key, and the in-process
fallback when Redis is unreachable.

Every test uses its own key (a uuid) and deletes it. Windows are small (0.5-5 s) so that the
assertions are about units per window on Redis's own clock, never about durations.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import random
import socket
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
import redis.asyncio as aioredis

from opsapp.graph import shared_pacing
from opsapp.graph.pacing import SlidingWindowLimiter
from opsapp.graph.shared_pacing import RedisSlidingWindowLimiter, budget_key

REDIS_URL = os.environ.get("OPSAPP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def max_units_in_any_window(events: list[tuple[int, int]], window_us: int) -> int:
    """The most units in any half-open window [t, t + window) of ``(time µs, units)`` events
    (a window starting at an event is the worst case)."""
    events = sorted(events)
    best = total = j = 0
    for i, (start, _) in enumerate(events):
        while j < len(events) and events[j][0] < start + window_us:
            total += events[j][1]
            j += 1
        best = max(best, total)
        total -= events[i][1]
    return best


@pytest.fixture
def key() -> Iterator[str]:
    name = budget_key(f"test-{uuid.uuid4().hex}", "app", prefix="opsapp-test:graph-budget")
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(name)
    client.close()


@pytest.fixture
async def clients() -> AsyncIterator[list[aioredis.Redis]]:
    """Separate Redis clients (connection pools), as separate workers would have."""
    made = [aioredis.Redis.from_url(REDIS_URL) for _ in range(4)]
    await made[0].ping()
    yield made
    for client in made:
        await client.aclose()


def make(key: str, client: aioredis.Redis, **kw) -> RedisSlidingWindowLimiter:
    kw.setdefault("max_requests", 5)
    kw.setdefault("window_s", 5.0)
    return RedisSlidingWindowLimiter(key=key, client=client, **kw)


async def test_admits_the_budget_then_answers_the_wait_for_the_oldest(key, clients):
    journal: list[tuple[int, int]] = []
    pacer = make(key, clients[0], journal=journal)

    waits = [await pacer.try_acquire() for _ in range(5)]
    over = await pacer.try_acquire()

    assert waits == [0.0] * 5
    assert 0 < over <= 5.0  # until the first unit leaves the window
    assert await pacer.in_window() == 5  # the refused unit took nothing
    first = journal[0][0]
    assert over == pytest.approx((first + 5_000_000 - journal[-1][0]) / 1e6, abs=0.5)


async def test_every_unit_is_its_own_member_and_the_key_expires_with_the_window(key, clients):
    a, b = make(key, clients[0], max_requests=20), make(key, clients[1], max_requests=20)

    assert await a.try_acquire(4) == 0.0
    assert await a.try_acquire(4) == 0.0
    assert await b.try_acquire(4) == 0.0

    assert await clients[2].zcard(key) == 12  # same instant, same limiter: still 12 members
    assert 0 < await clients[2].pttl(key) <= 5000


async def test_a_cost_larger_than_what_is_free_waits_and_takes_nothing_meanwhile(key, clients):
    journal: list[tuple[int, int]] = []
    pacer = make(key, clients[0], max_requests=5, window_s=1.0, journal=journal)
    assert await pacer.try_acquire(3) == 0.0

    wait = await pacer.try_acquire(3)  # 2 free: the 3 taken must leave first
    assert wait > 0
    assert await pacer.in_window() == 3

    waited = await pacer.acquire(3)

    assert waited > 0
    assert [cost for _, cost in journal] == [3, 3]
    assert journal[1][0] - journal[0][0] >= 1_000_000  # on Redis's clock: a window later
    assert max_units_in_any_window(journal, 1_000_000) <= 5


async def test_a_cost_above_the_budget_is_capped_to_the_budget(key, clients):
    pacer = make(key, clients[0], max_requests=5)

    assert await pacer.try_acquire(50) == 0.0
    assert await pacer.in_window() == 5


async def test_limiters_with_separate_clients_never_exceed_the_budget_in_any_window(key, clients):
    budget, window_s = 12, 0.25
    journal: list[tuple[int, int]] = []  # every limiter appends to it: one timeline
    pacers = [
        make(key, client, max_requests=budget, window_s=window_s, journal=journal)
        for client in clients
    ]
    rng = random.Random(7)
    plans = [[rng.randint(1, 4) for _ in range(6)] for _ in range(len(pacers) * 2)]

    async def worker(pacer: RedisSlidingWindowLimiter, costs: list[int]) -> float:
        return sum([await pacer.acquire(cost) for cost in costs])

    waited = await asyncio.gather(
        *(worker(pacers[i % len(pacers)], costs) for i, costs in enumerate(plans))
    )

    assert sum(cost for _, cost in journal) == sum(map(sum, plans))  # everyone got through
    assert sum(map(sum, plans)) > 3 * budget and sum(waited) > 0  # so they had to share
    assert max_units_in_any_window(journal, int(window_s * 1e6)) <= budget


def _hammer(key: str, url: str, budget: int, window_s: float, seed: int, start, results) -> None:
    """One OS process: two tasks on their own Redis client take random costs from the budget."""

    async def run() -> list[tuple[int, int]]:
        client = aioredis.Redis.from_url(url)
        journal: list[tuple[int, int]] = []
        pacer = RedisSlidingWindowLimiter(
            key=key, client=client, max_requests=budget, window_s=window_s, journal=journal
        )
        rng = random.Random(seed)
        plans = [[rng.randint(1, 3) for _ in range(6)] for _ in range(2)]

        async def task(costs: list[int]) -> None:
            for cost in costs:
                await pacer.acquire(cost)

        await asyncio.gather(*(task(costs) for costs in plans))
        await client.aclose()
        return journal

    start.wait(30)
    results.put(asyncio.run(run()))


def test_separate_os_processes_never_exceed_the_budget_in_any_window(key):
    budget, window_s, processes = 10, 0.25, 3
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_hammer, args=(key, REDIS_URL, budget, window_s, seed, start, results))
        for seed in range(processes)
    ]
    for proc in procs:
        proc.start()
    start.set()
    journals = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(10)
        assert proc.exitcode == 0

    events = [event for journal in journals for event in journal]
    assert all(journals)  # every process got its share
    assert sum(cost for _, cost in events) > 3 * budget  # several windows' worth: they shared
    assert max_units_in_any_window(events, int(window_s * 1e6)) <= budget


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def dead_redis() -> AsyncIterator[aioredis.Redis]:
    client = shared_pacing.redis_for_loop(f"redis://127.0.0.1:{_closed_port()}/0")
    yield client
    await shared_pacing.close_loop_clients()


async def test_unreachable_redis_falls_back_to_in_process_pacing(dead_redis, caplog):
    fallback = SlidingWindowLimiter(max_requests=3, window_s=5.0)
    pacer = RedisSlidingWindowLimiter(
        key="opsapp-test:graph-budget:down", client=dead_redis, max_requests=3, window_s=5.0,
        fallback=fallback,
    )  # fmt: skip

    with caplog.at_level(logging.WARNING, logger="opsapp.graph"):
        waits = [await pacer.try_acquire() for _ in range(3)]
        over = [await pacer.try_acquire() for _ in range(5)]

    assert waits == [0.0] * 3  # no error: the process's own limiter paces instead
    assert all(w > 0 for w in over)
    assert fallback.in_window() == 3
    assert pacer.degraded and pacer.outages == 1
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1  # one per outage, not per request


async def test_fallback_retries_redis_and_shares_again_when_it_is_back(
    key, clients, dead_redis, monkeypatch, caplog
):
    monkeypatch.setattr(shared_pacing, "REDIS_RETRY_INTERVAL_S", 0.0)
    pacer = RedisSlidingWindowLimiter(key=key, client=dead_redis, max_requests=5, window_s=5.0)
    assert await pacer.acquire() == 0.0
    assert pacer.degraded

    pacer._client = clients[0]  # Redis is back
    with caplog.at_level(logging.WARNING, logger="opsapp.graph"):
        assert await pacer.acquire(2) == 0.0

    assert not pacer.degraded
    assert await pacer.in_window() == 2  # taken from the shared budget again
    assert any("reachable again" in r.getMessage() for r in caplog.records)


async def test_shared_limiter_registry_gives_one_limiter_per_tenant_and_app():
    a = shared_pacing.shared_limiter_for("T1", "App", redis_url=REDIS_URL)
    b = shared_pacing.shared_limiter_for("t1", "app", redis_url=REDIS_URL)
    other_app = shared_pacing.shared_limiter_for("t1", "other", redis_url=REDIS_URL)

    assert a is b and a is not other_app
    assert a.key == "opsapp:graph-budget:t1:app"
    assert a.fallback is not other_app.fallback


async def test_each_event_loop_gets_its_own_redis_client():
    here = shared_pacing.redis_for_loop(REDIS_URL)
    assert shared_pacing.redis_for_loop(REDIS_URL) is here

    async def elsewhere() -> aioredis.Redis:
        client = shared_pacing.redis_for_loop(REDIS_URL)
        await client.ping()
        await shared_pacing.close_loop_clients()
        return client

    other = await asyncio.to_thread(asyncio.run, elsewhere())
    assert other is not here
    await shared_pacing.close_loop_clients()
