"""Landing page: what opsapp is and the sections a tenant offers."""

from __future__ import annotations

import reflex as rx

from opsapp.ui.layout import PRODUCT_NAME, layout
from opsapp.ui.nav import NAV, NavItem

TITLE = PRODUCT_NAME
DESCRIPTION = (
    "Sync, back up, detect drift in and restore the configuration of Microsoft Intune and "
    "Entra tenants."
)


def _section_card(item: NavItem) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.center(
                rx.icon(item.icon, size=18),
                width="36px",
                height="36px",
                flex_shrink="0",
                border_radius="var(--radius-3)",
                background_color=rx.color("accent", 3),
                color=rx.color("accent", 11),
            ),
            rx.vstack(
                rx.text(item.label, size="2", weight="bold"),
                rx.text(item.summary, size="2", color=rx.color("gray", 11)),
                spacing="1",
            ),
            align="start",
            spacing="3",
        ),
        size="2",
    )


def _group(title: str, items: tuple[NavItem, ...]) -> rx.Component:
    return rx.vstack(
        rx.heading(title, size="3", weight="medium", color=rx.color("gray", 11)),
        rx.grid(
            *[_section_card(item) for item in items],
            columns=rx.breakpoints(initial="1", sm="2", lg="3"),
            spacing="3",
            width="100%",
        ),
        spacing="2",
        width="100%",
    )


def home() -> rx.Component:
    return layout(
        rx.vstack(
            rx.vstack(
                rx.heading(f"Welcome to {PRODUCT_NAME}", size="7"),
                rx.text(DESCRIPTION, size="3", color=rx.color("gray", 11)),
                rx.text(
                    "Every long-running piece of work is tracked as one operation run, "
                    "visible under Monitoring → Operations.",
                    size="3",
                    color=rx.color("gray", 11),
                ),
                spacing="2",
            ),
            *[_group(group.title, group.items) for group in NAV],
            spacing="6",
            width="100%",
        )
    )
