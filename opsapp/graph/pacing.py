"""Client-side pacing: stay under Graph's per-tenant request budget instead of hitting 429s.

Graph throttles per tenant (and per app), so every client of one tenant in this process shares
one sliding-window limiter from the registry below. With several worker processes (scaled mode)
the budget is shared through Redis instead: ``opsapp.graph.shared_pacing``. A ``$batch`` costs one unit per sub-request
because Graph evaluates each of them against the limits.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

DEFAULT_MAX_REQUESTS = 1000
DEFAULT_WINDOW_S = 20.0

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Pacer(Protocol):
    """What a Graph client needs of a limiter: ``SlidingWindowLimiter`` (this process) or
    ``opsapp.graph.shared_pacing.RedisSlidingWindowLimiter`` (every worker, through Redis)."""

    max_requests: int
    window_s: float

    async def acquire(self, cost: int = 1) -> float:
        """Wait until ``cost`` units fit in the window, take them, return the time waited."""
        ...


class SlidingWindowLimiter:
    """Allow at most ``max_requests`` units in any ``window_s`` seconds.

    Thread-safe (a process may run several event loops, e.g. workers), so the bookkeeping sits
    under a ``threading.Lock`` and the waiting happens outside it.
    """

    def __init__(
        self,
        *,
        max_requests: int = DEFAULT_MAX_REQUESTS,
        window_s: float = DEFAULT_WINDOW_S,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_requests < 1 or window_s <= 0:
            raise ValueError("max_requests must be >= 1 and window_s > 0")
        self.max_requests = max_requests
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()

    def try_acquire(self, cost: int = 1) -> float:
        """Take ``cost`` units now if they fit and return 0, else return seconds to wait."""
        cost = max(1, min(cost, self.max_requests))
        with self._lock:
            now = self._clock()
            horizon = now - self.window_s
            while self._stamps and self._stamps[0] <= horizon:
                self._stamps.popleft()
            free = self.max_requests - len(self._stamps)
            if free >= cost:
                self._stamps.extend([now] * cost)
                return 0.0
            # The (cost - free)-th oldest stamp must leave the window before we fit.
            return max(self._stamps[cost - free - 1] + self.window_s - now, 1e-3)

    async def acquire(self, cost: int = 1) -> float:
        """Wait until ``cost`` units fit in the window, take them, return the time waited."""
        waited = 0.0
        while (delay := self.try_acquire(cost)) > 0:
            await self._sleep(delay)
            waited += delay
        return waited

    def in_window(self) -> int:
        """Units used in the current window (for tests and diagnostics)."""
        with self._lock:
            horizon = self._clock() - self.window_s
            return sum(1 for stamp in self._stamps if stamp > horizon)


_REGISTRY: dict[tuple[str, str, int, float], SlidingWindowLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def limiter_for_tenant(
    tenant_id: str,
    *,
    client_id: str = "",
    max_requests: int = DEFAULT_MAX_REQUESTS,
    window_s: float = DEFAULT_WINDOW_S,
) -> SlidingWindowLimiter:
    """The process-wide limiter shared by every client of ``tenant_id`` (and ``client_id``, the
    app, when given: Graph budgets are per tenant and app) with the same limits."""
    key = (tenant_id.lower(), client_id.lower(), max_requests, float(window_s))
    with _REGISTRY_LOCK:
        limiter = _REGISTRY.get(key)
        if limiter is None:
            limiter = SlidingWindowLimiter(max_requests=max_requests, window_s=window_s)
            _REGISTRY[key] = limiter
        return limiter
