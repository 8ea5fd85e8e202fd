"""The notifications bell: each user sees and changes only their own notifications."""

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from opsapp.db import session_scope
from opsapp.models import Notification
from opsapp.operations.inbox import (
    latest_notification_id,
    list_notifications,
    mark_all_read,
    mark_read,
    terminal_since,
    unread_count,
)
from tests.factories import make_tenant, make_user

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _notify(engine, user, *levels):
    rows = [
        Notification(
            user_id=user.id,
            level=level,
            title=f"{level} {i}",
            link=f"/t/x/operations/{i}",
            created_at=T0 + timedelta(minutes=i),
        )
        for i, level in enumerate(levels)
    ]
    with session_scope(engine) as s:
        s.add_all(rows)
    return rows


def test_users_see_and_mark_only_their_own(engine):
    tenant = make_tenant(engine)
    me, you = make_user(engine, tenant=tenant), make_user(engine, tenant=tenant)
    mine = _notify(engine, me, "info", "success", "error")
    yours = _notify(engine, you, "warning")

    with session_scope(engine) as s:
        listed = list_notifications(s, user_id=me.id)
        assert [n["title"] for n in listed] == ["error 2", "success 1", "info 0"]
        assert listed[0] == {
            "id": mine[2].id,
            "level": "error",
            "title": "error 2",
            "body": "",
            "link": "/t/x/operations/2",
            "created_at": (T0 + timedelta(minutes=2)).isoformat(),
            "read": False,
        }
        assert [n["title"] for n in list_notifications(s, user_id=me.id, limit=1)] == ["error 2"]
        assert unread_count(s, user_id=me.id) == 3
        assert mark_read(s, user_id=me.id, notification_id=yours[0].id) is False
        assert mark_read(s, user_id=me.id, notification_id=424242) is False
        assert mark_read(s, user_id=me.id, notification_id=mine[0].id) is True
        assert mark_read(s, user_id=me.id, notification_id=mine[0].id) is True  # idempotent

    with session_scope(engine) as s:
        assert s.get(Notification, yours[0].id).read_at is None
        assert unread_count(s, user_id=me.id) == 2 and unread_count(s, user_id=you.id) == 1
        assert list_notifications(s, user_id=me.id)[-1]["read"] is True
        assert mark_all_read(s, user_id=me.id) == 2
    with session_scope(engine) as s:
        assert unread_count(s, user_id=me.id) == 0 and unread_count(s, user_id=you.id) == 1
        assert mark_all_read(s, user_id=me.id) == 0
        unread = s.exec(select(Notification).where(Notification.read_at.is_(None))).all()
    assert [n.id for n in unread] == [yours[0].id]


def test_terminal_since_pops_new_run_endings_oldest_first(engine):
    tenant = make_tenant(engine)
    me, you = make_user(engine, tenant=tenant), make_user(engine, tenant=tenant)
    with session_scope(engine) as s:
        assert latest_notification_id(s, user_id=me.id) == 0
        assert terminal_since(s, user_id=me.id, after_id=0) == []
    _notify(engine, you, "error")
    first = _notify(engine, me, "info", "success")
    with session_scope(engine) as s:
        watermark = latest_notification_id(s, user_id=me.id)
        assert watermark == first[1].id
        assert [n["title"] for n in terminal_since(s, user_id=me.id, after_id=0)] == ["success 1"]
    _notify(engine, you, "warning")
    later = _notify(engine, me, *(["info", "warning", "error", "success"] * 4))
    with session_scope(engine) as s:
        popped = terminal_since(s, user_id=me.id, after_id=watermark)
        assert latest_notification_id(s, user_id=me.id) == later[-1].id
    terminal_ids = [n.id for n in later if n.level != "info"]
    assert [n["id"] for n in popped] == terminal_ids[:10]
