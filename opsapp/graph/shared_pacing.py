"""One Graph budget per tenant and app shared by every worker process, through Redis.

Graph throttles per app per tenant (Intune: roughly 1,000 requests per 20 s), so when several
workers sync one tenant their in-process limiters (``opsapp.graph.pacing``) would each spend the
full budget. ``RedisSlidingWindowLimiter`` keeps the sliding window in a Redis sorted set instead:

- one key per tenant and app, ``opsapp:graph-budget:<entra tenant id>:<client id>``, whose
  members are the units taken (unique per unit) scored by the Redis server's ``TIME`` in
  microseconds: one clock for every worker, however their own clocks differ;
- one Lua script (atomic) trims units older than the window, admits ``cost`` units only if they
  all fit, else answers how long until enough old units leave; the key expires after a window;
- if Redis cannot be reached the process's in-process limiter for the same tenant and app paces
  instead (one warning per outage), so a Redis blip slows nobody's sync down to a failure.

``budget_limiter`` picks the limiter for a mode (shared in scaled mode, in-process embedded).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
import uuid

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from opsapp.graph.pacing import (
    DEFAULT_MAX_REQUESTS,
    DEFAULT_WINDOW_S,
    Pacer,
    Sleep,
    SlidingWindowLimiter,
    limiter_for_tenant,
)

logger = logging.getLogger("opsapp.graph")

KEY_PREFIX = "opsapp:graph-budget"
# Graph counts a request when it arrives, we count it when it leaves; the sending (loop
# scheduling, connection, network) delays some more than others, so two units paced exactly one
# window apart may land a little less than a window apart. Pacing over a slightly longer window
# keeps what Graph sees within its budget (costs ~1 % of a 20 s window).
SEND_JITTER_GUARD_S = 0.25
# While Redis is down, try it again at most this often (the in-process limiter paces meanwhile).
REDIS_RETRY_INTERVAL_S = 1.0
CONNECT_TIMEOUT_S = 0.5
SOCKET_TIMEOUT_S = 2.0
# Lua unpack() has a bounded stack: add members in chunks.
_ZADD_CHUNK = 200

# KEYS[1]: the budget key. ARGV: max units, window (µs), cost, a member prefix unique to this call.
# Returns {wait_us, now_us}: wait 0 means the cost was taken at now_us.
_ACQUIRE_LUA = f"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local max = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
local free = max - used
if free >= cost then
  local args = {{}}
  for i = 1, cost do
    args[#args + 1] = now
    args[#args + 1] = ARGV[4] .. ':' .. i
    if #args >= {2 * _ZADD_CHUNK} then
      redis.call('ZADD', KEYS[1], unpack(args))
      args = {{}}
    end
  end
  if #args > 0 then
    redis.call('ZADD', KEYS[1], unpack(args))
  end
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
  return {{0, now}}
end
-- The (cost - free)-th oldest unit must leave the window before the cost fits.
local oldest = redis.call('ZRANGE', KEYS[1], cost - free - 1, cost - free - 1, 'WITHSCORES')
local wait = tonumber(oldest[2]) + window - now
if wait < 1000 then
  wait = 1000
end
return {{wait, now}}
"""


def budget_key(tenant_id: str, client_id: str, *, prefix: str = KEY_PREFIX) -> str:
    """``opsapp:graph-budget:<entra tenant id>:<client id>`` (lower case)."""
    return f"{prefix}:{tenant_id.lower()}:{client_id.lower()}"


# -- one redis.asyncio client per (event loop, URL): redis-py connections belong to one loop ---
_clients: dict[tuple[asyncio.AbstractEventLoop, str], aioredis.Redis] = {}
_clients_lock = threading.Lock()


def redis_for_loop(url: str) -> aioredis.Redis:
    """This event loop's Redis client for ``url`` (created on first use, dropped with its loop)."""
    loop = asyncio.get_running_loop()
    with _clients_lock:
        for key in [k for k in _clients if k[0].is_closed()]:
            del _clients[key]  # its connections died with the loop
        client = _clients.get((loop, url))
        if client is None:
            client = aioredis.Redis.from_url(
                url,
                socket_connect_timeout=CONNECT_TIMEOUT_S,
                socket_timeout=SOCKET_TIMEOUT_S,
                retry=Retry(NoBackoff(), 0),  # a failure falls back at once, no retry storm
            )
            _clients[(loop, url)] = client
        return client


async def close_loop_clients() -> None:
    """Close this event loop's budget clients (e.g. at worker shutdown)."""
    loop = asyncio.get_running_loop()
    with _clients_lock:
        doomed = [_clients.pop(k) for k in [k for k in _clients if k[0] is loop]]
    for client in doomed:
        try:
            await client.aclose()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass


class RedisSlidingWindowLimiter:
    """At most ``max_requests`` units in any ``window_s`` seconds, across every process using
    the same Redis ``key``. Same interface as ``SlidingWindowLimiter``, except ``try_acquire``
    is a coroutine (it asks Redis).

    ``client``: a Redis client to use (tests); by default each event loop gets its own client
    for ``redis_url``. ``fallback``: the in-process limiter used while Redis is unreachable.
    ``journal``: a list that receives ``(Redis time µs, cost)`` of every admission via Redis.
    """

    def __init__(
        self,
        *,
        key: str,
        redis_url: str = "redis://127.0.0.1:6379/0",
        client: aioredis.Redis | None = None,
        max_requests: int = DEFAULT_MAX_REQUESTS,
        window_s: float = DEFAULT_WINDOW_S,
        fallback: SlidingWindowLimiter | None = None,
        sleep: Sleep = asyncio.sleep,
        journal: list[tuple[int, int]] | None = None,
    ) -> None:
        if max_requests < 1 or window_s <= 0:
            raise ValueError("max_requests must be >= 1 and window_s > 0")
        self.key = key
        self.redis_url = redis_url
        self.max_requests = max_requests
        self.window_s = window_s
        self._window_us = max(1, round(window_s * 1_000_000))
        self._client = client
        self.fallback = fallback or SlidingWindowLimiter(
            max_requests=max_requests, window_s=window_s
        )
        self._sleep = sleep
        # When given: (Redis TIME in µs, cost) of every admission through Redis (tests, benches).
        self.journal = journal
        # Members: this limiter's id, a call counter, then the unit number (added by the script).
        self._member_prefix = uuid.uuid4().hex
        self._calls = itertools.count()
        self._state_lock = threading.Lock()
        self._down_since: float | None = None  # monotonic time Redis was found unreachable
        self._next_probe = 0.0
        self.outages = 0  # how many outages this limiter rode out (diagnostics, tests)

    @property
    def degraded(self) -> bool:
        """True while Redis is unreachable and the in-process fallback paces."""
        return self._down_since is not None

    def _redis(self) -> aioredis.Redis:
        return self._client if self._client is not None else redis_for_loop(self.redis_url)

    async def try_acquire(self, cost: int = 1) -> float:
        """Take ``cost`` units now if they fit and return 0, else return seconds to wait."""
        cost = max(1, min(cost, self.max_requests))
        now = time.monotonic()
        with self._state_lock:
            use_fallback = self._down_since is not None and now < self._next_probe
        if use_fallback:
            return self.fallback.try_acquire(cost)
        try:
            wait_us, now_us = await self._redis().eval(
                _ACQUIRE_LUA,
                1,
                self.key,
                self.max_requests,
                self._window_us,
                cost,
                f"{self._member_prefix}:{next(self._calls)}",
            )
        except (RedisError, OSError) as exc:
            self._went_down(exc)
            return self.fallback.try_acquire(cost)
        self._came_back()
        if int(wait_us) == 0 and self.journal is not None:
            self.journal.append((int(now_us), cost))
        return int(wait_us) / 1_000_000

    async def acquire(self, cost: int = 1) -> float:
        """Wait until ``cost`` units fit in the shared window, take them, return the time waited."""
        waited = 0.0
        while (delay := await self.try_acquire(cost)) > 0:
            await self._sleep(delay)
            waited += delay
        return waited

    async def in_window(self) -> int:
        """Units used in the current window according to Redis (tests and diagnostics)."""
        redis = self._redis()
        seconds, micros = await redis.time()
        now_us = int(seconds) * 1_000_000 + int(micros)
        return int(await redis.zcount(self.key, f"({now_us - self._window_us}", "+inf"))

    def _went_down(self, exc: BaseException) -> None:
        now = time.monotonic()
        with self._state_lock:
            first = self._down_since is None
            if first:
                self._down_since = now
                self.outages += 1
            self._next_probe = now + REDIS_RETRY_INTERVAL_S
        if first:
            logger.warning(
                "Graph budget: Redis unreachable (%s: %s); pacing %s in this process until it "
                "is back",
                type(exc).__name__,
                str(exc)[:200],
                self.key,
            )

    def _came_back(self) -> None:
        with self._state_lock:
            down_since, self._down_since = self._down_since, None
        if down_since is not None:
            logger.warning(
                "Graph budget: Redis reachable again after %.1f s; %s is shared again",
                time.monotonic() - down_since,
                self.key,
            )


_REGISTRY: dict[tuple[str, str, int, float], RedisSlidingWindowLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def shared_limiter_for(
    tenant_id: str,
    client_id: str,
    *,
    redis_url: str,
    max_requests: int = DEFAULT_MAX_REQUESTS,
    window_s: float = DEFAULT_WINDOW_S,
) -> RedisSlidingWindowLimiter:
    """The process-wide Redis limiter of a tenant and app (usable from any event loop); its
    fallback is the process's in-process limiter of the same tenant, app and limits."""
    key = budget_key(tenant_id, client_id)
    registry_key = (key, redis_url, max_requests, float(window_s))
    with _REGISTRY_LOCK:
        limiter = _REGISTRY.get(registry_key)
        if limiter is None:
            limiter = RedisSlidingWindowLimiter(
                key=key,
                redis_url=redis_url,
                max_requests=max_requests,
                window_s=window_s,
                fallback=limiter_for_tenant(
                    tenant_id, client_id=client_id, max_requests=max_requests, window_s=window_s
                ),
            )
            _REGISTRY[registry_key] = limiter
        return limiter


def budget_limiter(
    tenant_id: str,
    client_id: str,
    *,
    max_requests: int,
    window_s: float,
    shared: bool,
    redis_url: str,
    guard_s: float = SEND_JITTER_GUARD_S,
) -> Pacer:
    """The limiter for a tenant and app: shared through Redis (scaled mode) or this process's
    (embedded mode). It paces over ``window_s + guard_s`` (see ``SEND_JITTER_GUARD_S``)."""
    window = window_s + max(0.0, guard_s)
    if shared:
        return shared_limiter_for(
            tenant_id, client_id, redis_url=redis_url, max_requests=max_requests, window_s=window
        )
    return limiter_for_tenant(
        tenant_id, client_id=client_id, max_requests=max_requests, window_s=window
    )


__all__ = [
    "KEY_PREFIX",
    "SEND_JITTER_GUARD_S",
    "RedisSlidingWindowLimiter",
    "budget_key",
    "budget_limiter",
    "close_loop_clients",
    "redis_for_loop",
    "shared_limiter_for",
]
