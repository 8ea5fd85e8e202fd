"""Sign in (rate-limited, constant work whether or not the e-mail exists) and housekeeping."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import select

from opsapp.auth import throttle
from opsapp.auth.results import SignInFailed, SignInResult
from opsapp.auth.sessions import authenticated, create_session
from opsapp.db import session_scope
from opsapp.models import SignInAttempt, User, UserSession
from opsapp.models.types import utcnow
from opsapp.security import verify_password

# An argon2id hash of a password nobody knows, with the hasher's current parameters. Verified
# against when the e-mail is unknown, so that the response time does not tell whether it exists.
DUMMY_PASSWORD_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$lIp9JeYCmeYFOT9WIaTZWQ$"
    "4pCd9bNZWYN73LdOvlKMHL+6HCPLbKXmjKNuxkM2HZY"
)


def sign_in(
    *,
    email: str,
    password: str,
    client_key: str,
    engine: Engine | None = None,
    now: datetime | None = None,
) -> SignInResult:
    """Check the e-mail and password and open a session. Raises SignInThrottled (before any
    password check) when over the limit, SignInFailed for any wrong or empty credentials."""
    email_k, client_k = throttle.email_key(email), throttle.client_key(client_key)
    if not email_k or not password:
        raise SignInFailed()  # nothing to check: not recorded, not counted
    now = now or utcnow()
    with session_scope(engine) as session:
        throttle.check_throttle(session, email=email_k, client=client_k, now=now)
        user = session.exec(select(User).where(User.email == email_k)).first()
    # Hash outside the transaction: argon2 takes tens of milliseconds.
    if user is None:
        verify_password(DUMMY_PASSWORD_HASH, password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password)
    with session_scope(engine) as session:
        throttle.record_attempt(session, email=email_k, client=client_k, succeeded=ok, now=now)
        if ok:
            token, expires_at = create_session(session, user_id=user.id, client=client_k, now=now)
    if not ok:
        raise SignInFailed()
    return SignInResult(token=token, user=authenticated(user), expires_at=expires_at)


def prune_sign_in_records(*, engine: Engine | None = None, now: datetime | None = None) -> int:
    """Delete expired sessions and sign-in attempts older than a day; returns rows deleted."""
    now = now or utcnow()
    with session_scope(engine) as session:
        sessions = session.execute(sa.delete(UserSession).where(UserSession.expires_at <= now))
        attempts = session.execute(
            sa.delete(SignInAttempt).where(
                SignInAttempt.created_at < now - throttle.ATTEMPT_RETENTION
            )
        )
        return (sessions.rowcount or 0) + (attempts.rowcount or 0)
