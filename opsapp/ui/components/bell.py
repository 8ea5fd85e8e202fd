"""The notifications bell: unread count, the latest notifications, mark read, View run."""

from __future__ import annotations

import reflex as rx

from opsapp.ui.components.badges import level_icon
from opsapp.ui.components.times import relative_time
from opsapp.ui.state.notifications import POLL_MS, NotificationsState


def _item(item: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.box(level_icon(item["level"]), flex_shrink="0", padding_top="2px"),
        rx.vstack(
            rx.text(item["title"], size="2", weight=rx.cond(item["read"], "regular", "bold")),
            rx.text(item["body"], size="1", color=rx.color("gray", 11)),
            rx.hstack(
                rx.text(relative_time(item["created_at"]), size="1", color=rx.color("gray", 10)),
                rx.cond(
                    item["link"],
                    rx.link(
                        "View run",
                        href=item["link"].to(str),
                        size="1",
                        on_click=NotificationsState.mark_read(item["id"]),
                    ),
                    rx.fragment(),
                ),
                rx.cond(
                    item["read"],
                    rx.fragment(),
                    rx.link(
                        "Mark read",
                        size="1",
                        href="#",
                        on_click=NotificationsState.mark_read(item["id"]).prevent_default,
                    ),
                ),
                spacing="3",
            ),
            spacing="1",
            align="start",
        ),
        align="start",
        spacing="2",
        padding="8px",
        border_radius="var(--radius-2)",
        background_color=rx.cond(item["read"], "transparent", rx.color("accent", 2)),
        width="100%",
    )


def bell() -> rx.Component:
    count = NotificationsState.unread
    trigger = rx.box(
        rx.icon_button(rx.icon("bell", size=18), variant="ghost", aria_label="Notifications"),
        rx.cond(
            count > 0,
            rx.badge(
                count,
                color_scheme="red",
                variant="solid",
                radius="full",
                size="1",
                position="absolute",
                top="-6px",
                right="-8px",
                data_testid="unread-count",
                pointer_events="none",
            ),
            rx.fragment(),
        ),
        position="relative",
    )
    return rx.fragment(
        rx.moment(interval=POLL_MS, on_change=NotificationsState.poll, display="none"),
        rx.popover.root(
            rx.popover.trigger(trigger),
            rx.popover.content(
                rx.vstack(
                    rx.hstack(
                        rx.heading("Notifications", size="3"),
                        rx.spacer(),
                        rx.button(
                            "Mark all read",
                            size="1",
                            variant="ghost",
                            on_click=NotificationsState.mark_all_read,
                            disabled=count == 0,
                        ),
                        width="100%",
                        align="center",
                    ),
                    rx.cond(
                        NotificationsState.items.length() > 0,
                        rx.scroll_area(
                            rx.vstack(rx.foreach(NotificationsState.items, _item), spacing="1"),
                            max_height="420px",
                            type="auto",
                        ),
                        rx.text("No notifications yet.", size="2", color=rx.color("gray", 11)),
                    ),
                    spacing="2",
                    width="100%",
                ),
                width="min(380px, 92vw)",
            ),
            on_open_change=NotificationsState.open_list,
        ),
    )
