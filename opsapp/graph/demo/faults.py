"""Switchable faults of a demo tenant: throttling, 5xx, 403s, slow pages, bad payloads, leaks.

``read_only`` plays an app registration granted only ``*.Read.All``: reads work, every write
(POST, PATCH, PUT, DELETE, also inside ``$batch``) answers 403. The admin API is unaffected.

Targets (``forbidden``, ``malformed``, ``wrong_shape``, ``slow_paths``) are policy type keys
from ``opsapp.policy_types``, ``"groups"``, ``"$batch"``, ``"*"`` or a literal path prefix.
Random faults draw from a generator seeded by ``seed``, so a sequential run is reproducible.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from dataclasses import dataclass
from typing import Any

from opsapp.policy_types import POLICY_TYPES_BY_KEY


@dataclass(frozen=True)
class Faults:
    """One tenant's fault switches; the default is a healthy tenant."""

    throttle_first: int = 0  # answer 429 to the next N Graph requests
    throttle_rate: float = 0.0  # then answer 429 to this fraction of requests
    retry_after_s: float = 1.0  # Retry-After sent with 429 / 503
    error_first: int = 0  # answer `error_status` to the next N Graph requests
    error_rate: float = 0.0  # then to this fraction of requests
    error_status: int = 503
    forbidden: tuple[str, ...] = ()  # 403 for these targets (also inside $batch)
    read_only: bool = False  # 403 for every non-GET request (also inside $batch): no write grant
    slow_ms: int = 0  # delay before answering
    slow_paths: tuple[str, ...] = ()  # targets that are slow; empty = all
    malformed: tuple[str, ...] = ()  # truncated JSON for these targets
    wrong_shape: tuple[str, ...] = ()  # valid JSON of the wrong shape for these targets
    batch_item_throttle_first: int = 0  # 429 for the next N $batch sub-requests
    leak_secrets: bool = False  # error bodies carry a bearer token, a JWT, the client secret
    token_ttl_s: int | None = None  # lifetime of newly issued tokens (None: server default)
    page_size: int | None = None  # default page size (None: server default)
    # Graph's own throttling: at most this many units (a $batch: one per sub-request) in any
    # `budget_window_s` seconds, beyond that 429 with Retry-After (0: no budget enforced)
    budget_requests: int = 0
    budget_window_s: float = 20.0
    seed: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Faults:
        """Build from an admin-endpoint JSON object; unknown keys raise ValueError."""
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown fault switches: {sorted(unknown)}")
        values = dict(data)
        for name in _TARGET_FIELDS:
            if name in values:
                raw = values[name]
                values[name] = (raw,) if isinstance(raw, str) else tuple(raw or ())
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """The switches as JSON (what the admin endpoint echoes)."""
        data = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


_TARGET_FIELDS = ("forbidden", "slow_paths", "malformed", "wrong_shape")


def matches(targets: tuple[str, ...], path: str) -> bool:
    """Whether a Graph path (below the version root) is one of ``targets``."""
    path = path.strip("/")
    for target in targets:
        if target == "*":
            return True
        ptype = POLICY_TYPES_BY_KEY.get(target)
        prefix = ptype.graph_path if ptype else target.strip("/")
        if path == prefix or path.startswith(prefix + "/"):
            return True
    return False


class FaultState:
    """Active faults plus their counters; thread-safe (the admin API may run elsewhere)."""

    def __init__(self, faults: Faults | None = None) -> None:
        self._lock = threading.Lock()
        self.set(faults or Faults())

    def set(self, faults: Faults) -> None:
        """Replace the switches and restart their counters."""
        with self._lock:
            self.faults = faults
            self._rng = random.Random(faults.seed)
            self._throttled = 0
            self._errors = 0
            self._batch_throttled = 0

    def request_fault(self) -> tuple[int, float | None] | None:
        """For a Graph request: ``(status, retry_after)`` to answer instead, or None."""
        with self._lock:
            f = self.faults
            if self._throttled < f.throttle_first or (
                f.throttle_rate and self._rng.random() < f.throttle_rate
            ):
                self._throttled += 1
                return 429, f.retry_after_s
            if self._errors < f.error_first or (f.error_rate and self._rng.random() < f.error_rate):
                self._errors += 1
                retry_after = f.retry_after_s if f.error_status == 503 else None
                return f.error_status, retry_after
            return None

    def batch_item_throttled(self) -> bool:
        """Whether the next ``$batch`` sub-request is answered 429."""
        with self._lock:
            if self._batch_throttled < self.faults.batch_item_throttle_first:
                self._batch_throttled += 1
                return True
            return False
