"""The notifications bell: a user's own notifications only. Every query filters by user id
first (the (user_id, created_at) index), so no id from a URL or a click reaches anyone else's.

Writes run in the caller's session; session_scope commits them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from opsapp.models import Notification
from opsapp.models.types import utcnow

# Levels of a run's final notification (opsapp.operations.notifications); "info" also covers
# "queued", which must not pop up as a toast.
TERMINAL_LEVELS = ("success", "warning", "error")
MAX_LISTED = 100
MAX_TERMINAL = 10


def _notification_row(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "level": n.level,
        "title": n.title,
        "body": n.body,
        "link": n.link,
        "created_at": n.created_at.isoformat(),
        "read": n.read_at is not None,
    }


def list_notifications(session: Session, *, user_id: int, limit: int = 20) -> list[dict]:
    """The newest notifications of one user (read or not), newest first."""
    n = Notification
    query = (
        select(n)
        .where(n.user_id == user_id)
        .order_by(n.created_at.desc(), n.id.desc())
        .limit(max(1, min(limit, MAX_LISTED)))
    )
    return [_notification_row(x) for x in session.exec(query)]


def unread_count(session: Session, *, user_id: int) -> int:
    n = Notification
    query = select(sa.func.count()).select_from(n)
    return session.exec(query.where(n.user_id == user_id, n.read_at.is_(None))).one()


def mark_read(session: Session, *, user_id: int, notification_id: int) -> bool:
    """True when the notification is the user's own (now read, first read time kept);
    False for anyone else's or an unknown id — then nothing changes."""
    n = Notification
    own = session.exec(select(n).where(n.id == notification_id, n.user_id == user_id)).first()
    if own is None:
        return False
    if own.read_at is None:
        own.read_at = utcnow()
        session.add(own)
        session.flush()
    return True


def mark_all_read(session: Session, *, user_id: int) -> int:
    """Mark every unread notification of the user read; returns how many changed."""
    n = Notification
    stmt = sa.update(n).where(n.user_id == user_id, n.read_at.is_(None)).values(read_at=utcnow())
    return session.execute(stmt).rowcount or 0


def latest_notification_id(session: Session, *, user_id: int) -> int:
    """The watermark for terminal_since (0 when the user has none yet)."""
    n = Notification
    return session.exec(select(sa.func.max(n.id)).where(n.user_id == user_id)).one() or 0


def terminal_since(session: Session, *, user_id: int, after_id: int) -> list[dict]:
    """Run-end notifications newer than the watermark, oldest first (toast order), at most 10."""
    n = Notification
    query = (
        select(n)
        .where(n.user_id == user_id, n.id > after_id, n.level.in_(TERMINAL_LEVELS))
        .order_by(n.id)
        .limit(MAX_TERMINAL)
    )
    return [_notification_row(x) for x in session.exec(query)]
