"""Retry rules for Graph calls: which answers are worth another try, and how long to wait."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Graph's own guidance: 429, and 503 with Retry-After, mean the request was not processed, so
# every verb may resend them. Other gateway errors (and a 503 without Retry-After) may have been
# half-processed: only idempotent requests (GET, PATCH, PUT) retry them, never a create (POST).
ALWAYS_RETRY = frozenset({429, 503})
RETRY_IF_IDEMPOTENT = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with Retry-After honoured, exponential backoff otherwise, plus jitter."""

    max_retries: int = 4  # retries after the first attempt
    max_sleep: float = 60.0  # hard cap on any single wait (tests set it tiny)
    backoff_base: float = 1.0  # first wait when the server gives no Retry-After
    jitter: float = 0.1  # up to this fraction of the wait (max 1 s) is added at random

    def should_retry(
        self, *, status: int, attempt: int, idempotent: bool, retry_after: float | None = None
    ) -> bool:
        """Whether the ``attempt``-th try (0-based) that got ``status`` deserves another one.

        ``retry_after`` is the answer's parsed Retry-After: a 503 only proves "not processed"
        when it carries one, which is what lets a non-idempotent request resend it.
        """
        if attempt >= self.max_retries:
            return False
        if idempotent and status in RETRY_IF_IDEMPOTENT:
            return True
        if status == 503:
            return retry_after is not None
        return status in ALWAYS_RETRY

    def delay(self, *, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        base = retry_after if retry_after is not None else self.backoff_base * (2**attempt)
        spread = min(1.0, base * self.jitter)
        return max(0.0, min(self.max_sleep, base + rng.uniform(0.0, spread)))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` header (delta seconds or HTTP date) into seconds, or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
