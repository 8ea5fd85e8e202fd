"""Browser sessions: a random token for the browser, its sha256 in the database, a sliding
expiry of `session_hours` that is written at most once a minute per session."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from opsapp.auth.results import AuthenticatedUser
from opsapp.db import session_scope
from opsapp.models import User, UserSession
from opsapp.models.types import utcnow
from opsapp.settings import get_settings

# A page polling every 2 s must not write every time: refresh last_seen/expiry at most this often.
TOUCH_INTERVAL = timedelta(seconds=60)
CLIENT_MAX_LENGTH = 64


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def session_lifetime() -> timedelta:
    return timedelta(hours=get_settings().session_hours)


def authenticated(user: User) -> AuthenticatedUser:
    return AuthenticatedUser(
        id=user.id, email=user.email, display_name=user.display_name or user.email
    )


def create_session(
    session: Session, *, user_id: int, client: str, now: datetime
) -> tuple[str, datetime]:
    """Add a session row for `user_id`; returns (plain token, expires_at)."""
    token = secrets.token_urlsafe(32)
    expires_at = now + session_lifetime()
    session.add(
        UserSession(
            user_id=user_id,
            token_hash=hash_token(token),
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
            client=(client or "")[:CLIENT_MAX_LENGTH],
        )
    )
    session.flush()
    return token, expires_at


def resolve_session(
    token: str | None, *, engine: Engine | None = None, now: datetime | None = None
) -> AuthenticatedUser | None:
    """The signed-in user for `token`, or None (no token, unknown, expired). Slides the expiry."""
    if not token:
        return None
    now = now or utcnow()
    with session_scope(engine) as session:
        row = session.exec(
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.token_hash == hash_token(token))
        ).first()
        if row is None:
            return None
        user_session, user = row
        if user_session.expires_at <= now:
            session.delete(user_session)
            return None
        if now - user_session.last_seen_at >= TOUCH_INTERVAL:
            user_session.last_seen_at = now
            user_session.expires_at = now + session_lifetime()
        return authenticated(user)


def sign_out(token: str | None, *, engine: Engine | None = None) -> None:
    """Delete the session of `token`; unknown or empty tokens are fine (idempotent)."""
    if not token:
        return
    with session_scope(engine) as session:
        session.execute(sa.delete(UserSession).where(UserSession.token_hash == hash_token(token)))


def revoke_user_sessions(user_id: int, *, engine: Engine | None = None) -> int:
    """Sign the user out everywhere; returns the number of sessions deleted."""
    with session_scope(engine) as session:
        result = session.execute(sa.delete(UserSession).where(UserSession.user_id == user_id))
        return result.rowcount or 0
