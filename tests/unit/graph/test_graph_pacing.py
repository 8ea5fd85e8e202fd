"""Per-tenant sliding-window pacing with a fake clock (no real waiting)."""

from __future__ import annotations

import pytest

from opsapp.graph.pacing import SlidingWindowLimiter, limiter_for_tenant


class FakeTime:
    """A clock plus a sleep that advances it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(fake: FakeTime, *, max_requests: int = 3, window_s: float = 20.0):
    return SlidingWindowLimiter(
        max_requests=max_requests, window_s=window_s, clock=fake.clock, sleep=fake.sleep
    )


async def test_requests_within_the_budget_do_not_wait():
    fake = FakeTime()
    pacer = limiter(fake)
    for _ in range(3):
        assert await pacer.acquire() == 0.0
    assert fake.slept == [] and pacer.in_window() == 3


async def test_request_over_the_budget_waits_for_the_oldest_to_leave_the_window():
    fake = FakeTime()
    pacer = limiter(fake)
    for at in (0.0, 5.0, 6.0):
        fake.now = at
        await pacer.acquire()
    fake.now = 10.0

    waited = await pacer.acquire()

    assert waited == pytest.approx(10.0)  # the t=0 request leaves the window at t=20
    assert fake.now == pytest.approx(20.0)
    assert pacer.in_window() == 3  # the t=0 one left, this one joined


async def test_never_more_than_the_budget_in_any_window():
    fake = FakeTime()
    pacer = limiter(fake, max_requests=5, window_s=1.0)
    stamps = []
    for _ in range(23):
        await pacer.acquire()
        stamps.append(fake.now)
    for start in stamps:
        assert sum(1 for s in stamps if start <= s < start + 1.0) <= 5


async def test_a_batch_costs_one_unit_per_sub_request():
    fake = FakeTime()
    pacer = limiter(fake, max_requests=20)
    await pacer.acquire(cost=15)
    fake.now = 1.0
    await pacer.acquire(cost=10)  # needs the first 15 to expire
    assert fake.now == pytest.approx(20.0)


def test_try_acquire_reports_the_wait_without_taking():
    fake = FakeTime()
    pacer = limiter(fake, max_requests=1, window_s=2.0)
    assert pacer.try_acquire() == 0.0
    fake.now = 0.5
    assert pacer.try_acquire() == pytest.approx(1.5)
    assert pacer.in_window() == 1


def test_all_clients_of_one_tenant_share_a_limiter():
    a = limiter_for_tenant("Tenant-A-pacing-test")
    assert limiter_for_tenant("tenant-a-pacing-test") is a
    assert limiter_for_tenant("tenant-b-pacing-test") is not a
    assert (a.max_requests, a.window_s) == (1000, 20.0)


def test_invalid_budget_is_refused():
    with pytest.raises(ValueError):
        SlidingWindowLimiter(max_requests=0)
