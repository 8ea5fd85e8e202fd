"""Retry rules: Retry-After parsing, capped backoff with jitter, what is retried."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from opsapp.graph.retry import RetryPolicy, parse_retry_after


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("5", 5.0), ("0.25", 0.25), ("-3", 0.0), ("", None), (None, None), ("soon", None)],
)
def test_retry_after_seconds(header, seconds):
    assert parse_retry_after(header) == seconds


def test_retry_after_http_date():
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now=now) == 30.0


def test_retry_after_is_honoured_plus_small_jitter():
    policy = RetryPolicy()
    rng = random.Random(1)
    delays = [policy.delay(attempt=0, retry_after=10.0, rng=rng) for _ in range(50)]
    assert all(10.0 <= d <= 11.0 for d in delays)
    assert len(set(delays)) > 1  # jitter spreads clients apart


def test_backoff_grows_without_retry_after_and_is_capped():
    policy = RetryPolicy(backoff_base=1.0, max_sleep=5.0, jitter=0.0)
    rng = random.Random(0)
    assert [policy.delay(attempt=a, retry_after=None, rng=rng) for a in range(5)] == [
        1.0, 2.0, 4.0, 5.0, 5.0,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("status", "idempotent", "expected"),
    [
        (429, False, True),
        (503, False, True),
        (500, True, True),
        (500, False, False),
        (502, False, False),
        (404, True, False),
        (401, True, False),
    ],
)
def test_what_is_retried(status, idempotent, expected):
    policy = RetryPolicy(max_retries=4)
    # With a Retry-After, as Graph sends 429/503 (without one see test_graph_write_retries.py).
    retried = policy.should_retry(status=status, attempt=0, idempotent=idempotent, retry_after=1.0)
    assert retried is expected


def test_retries_are_bounded():
    policy = RetryPolicy(max_retries=2)
    assert policy.should_retry(status=429, attempt=1, idempotent=True)
    assert not policy.should_retry(status=429, attempt=2, idempotent=True)
