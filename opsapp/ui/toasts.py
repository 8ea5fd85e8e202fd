"""The toasts every start surface returns: queued / already running / refused / dispatch failed,
each carrying a "View run" action to the canonical run URL when there is a run to view."""

from __future__ import annotations

import reflex as rx

VIEW_RUN = "View run"
DURATION_MS = 8000


def _view_action(view_path: str) -> dict:
    return {"label": VIEW_RUN, "on_click": rx.redirect(view_path)}


def run_started(label: str, *, created: bool, view_path: str) -> rx.event.EventSpec:
    """ "Inventory sync queued", or "… already running" when an active run was reused."""
    if created:
        return rx.toast.success(
            f"{label} queued",
            description="It runs in the background; follow it on the run page.",
            action=_view_action(view_path),
            duration=DURATION_MS,
        )
    return rx.toast.info(
        f"{label} already running",
        description="The same operation is already queued or running; nothing new was started.",
        action=_view_action(view_path),
        duration=DURATION_MS,
    )


def dispatch_failed(label: str, *, message: str, view_path: str) -> rx.event.EventSpec:
    return rx.toast.error(
        f"{label} could not be queued",
        description=message,
        action=_view_action(view_path),
        duration=DURATION_MS * 2,
    )


def refused(title: str, message: str) -> rx.event.EventSpec:
    return rx.toast.error(title, description=message, duration=DURATION_MS)


def notification(item: dict) -> rx.event.EventSpec:
    """A terminal run notification popped for its initiator."""
    show = {"success": rx.toast.success, "warning": rx.toast.warning, "error": rx.toast.error}
    kwargs: dict = {"description": item.get("body") or "", "duration": DURATION_MS}
    if item.get("link"):
        kwargs["action"] = _view_action(item["link"])
    return show.get(item.get("level"), rx.toast.info)(item.get("title") or "Operation", **kwargs)
