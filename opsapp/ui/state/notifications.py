"""NotificationsState: the bell. It polls the user's notifications (database only), shows the
unread count and list, marks them read, and pops a toast for each new *terminal* notification —
"Inventory sync succeeded" with View run — while the initiator is signed in."""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from opsapp.db import session_scope
from opsapp.operations import inbox
from opsapp.ui import toasts
from opsapp.ui.state.session import SessionState

POLL_MS = 3000


def _snapshot(user_id: int, after_id: int | None) -> dict[str, Any]:
    with session_scope() as session:
        latest = inbox.latest_notification_id(session, user_id=user_id)
        fresh = (
            inbox.terminal_since(session, user_id=user_id, after_id=after_id)
            if after_id is not None and latest > after_id
            else []
        )
        return {
            "latest": latest,
            "fresh": fresh,
            "unread": inbox.unread_count(session, user_id=user_id),
        }


def _list(user_id: int) -> list[dict]:
    with session_scope() as session:
        return inbox.list_notifications(session, user_id=user_id, limit=20)


def _mark(user_id: int, notification_id: int | None) -> tuple[list[dict], int]:
    """Mark one (or all) read; return the list and unread count as they are now."""
    with session_scope() as session:
        if notification_id is None:
            inbox.mark_all_read(session, user_id=user_id)
        else:
            inbox.mark_read(session, user_id=user_id, notification_id=notification_id)
        session.flush()
        items = inbox.list_notifications(session, user_id=user_id, limit=20)
        return items, inbox.unread_count(session, user_id=user_id)


class NotificationsState(SessionState):
    unread: int = 0
    items: list[dict[str, Any]] = []
    # The newest notification id this tab has seen; None until the first poll (so opening a
    # page never replays old notifications as toasts).
    _seen_id: int | None = None

    @rx.event
    async def poll(self, _tick: str = ""):
        user = await self._current_user()
        if user is None:
            return
        snap = await asyncio.to_thread(_snapshot, user.id, self._seen_id)
        self._seen_id = max(snap["latest"], self._seen_id or 0)
        self.unread = snap["unread"]
        return [toasts.notification(item) for item in snap["fresh"]]

    @rx.event
    async def open_list(self, is_open: bool = True):
        if not is_open:
            return
        user = await self._current_user()
        if user is not None:
            self.items = await asyncio.to_thread(_list, user.id)

    @rx.event
    async def mark_read(self, notification_id: int):
        await self._mark(int(notification_id))

    @rx.event
    async def mark_all_read(self):
        await self._mark(None)

    async def _mark(self, notification_id: int | None) -> None:
        user = await self._current_user()
        if user is None:
            return
        self.items, self.unread = await asyncio.to_thread(_mark, user.id, notification_id)
