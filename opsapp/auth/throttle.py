"""Sign-in rate limit: failed attempts per e-mail key and per client key in a sliding window.

Checked before any password work; a throttled attempt is neither verified nor recorded."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlmodel import Session, select

from opsapp.auth.results import SignInThrottled
from opsapp.models import SignInAttempt

WINDOW = timedelta(seconds=60)
# One account: 5 wrong passwords a minute is plenty for a human and slows guessing down.
MAX_FAILURES_PER_EMAIL = 5
# One client (IP): higher, because an office behind one NAT address shares it; it still caps
# spraying many accounts from one address. An empty client key (unknown address) is not limited
# per client, so that all unknown clients do not lock each other out; the e-mail limit applies.
MAX_FAILURES_PER_CLIENT = 20
# Attempts older than this are of no use to the limit and are pruned.
ATTEMPT_RETENTION = timedelta(days=1)
EMAIL_KEY_MAX_LENGTH = 320
CLIENT_KEY_MAX_LENGTH = 64


def email_key(email: str) -> str:
    return (email or "").strip().lower()[:EMAIL_KEY_MAX_LENGTH]


def client_key(client: str) -> str:
    return (client or "").strip()[:CLIENT_KEY_MAX_LENGTH]


def _retry_after(session: Session, column, key: str, limit: int, now: datetime) -> float:
    """Seconds until fewer than `limit` failures for `key` are in the window (0: not limited)."""
    failures = session.exec(
        select(SignInAttempt.created_at)
        .where(
            column == key,
            SignInAttempt.succeeded == False,  # noqa: E712
            SignInAttempt.created_at > now - WINDOW,
        )
        .order_by(SignInAttempt.created_at)
    ).all()
    if len(failures) < limit:
        return 0.0
    # The failure that must leave the window to bring the count below the limit (the oldest one
    # when exactly `limit` were recorded; concurrent attempts may have recorded a few more).
    leaving = failures[len(failures) - limit]
    return (leaving + WINDOW - now).total_seconds()


def check_throttle(session: Session, *, email: str, client: str, now: datetime) -> None:
    """Raise SignInThrottled when the e-mail or the client is over its failure limit."""
    waits = [_retry_after(session, SignInAttempt.email_key, email, MAX_FAILURES_PER_EMAIL, now)]
    if client:
        waits.append(
            _retry_after(session, SignInAttempt.client_key, client, MAX_FAILURES_PER_CLIENT, now)
        )
    wait = max(waits)
    if wait > 0:
        raise SignInThrottled(max(1, math.ceil(wait)))


def record_attempt(
    session: Session, *, email: str, client: str, succeeded: bool, now: datetime
) -> None:
    session.add(
        SignInAttempt(email_key=email, client_key=client, succeeded=succeeded, created_at=now)
    )
