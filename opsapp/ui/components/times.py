"""Times: relative ("3 minutes ago", kept fresh in the browser) with the exact time on hover."""

from __future__ import annotations

import reflex as rx


def relative_time(iso: rx.Var) -> rx.Component:
    return rx.cond(
        iso,
        rx.tooltip(
            rx.text(rx.moment(iso, from_now=True), as_="span", white_space="nowrap"),
            content=rx.Var.create(iso).to(str),
        ),
        rx.text("—", as_="span", color=rx.color("gray", 9)),
    )


def exact_time(iso: rx.Var) -> rx.Component:
    return rx.cond(
        iso,
        rx.moment(iso, format="YYYY-MM-DD HH:mm:ss"),
        rx.text("—", as_="span", color=rx.color("gray", 9)),
    )


def duration(label: rx.Var) -> rx.Component:
    """A run's duration label ('4.2 s', '3 min 12 s'), or a dash while it has none."""
    return rx.cond(
        label,
        rx.text(label, as_="span", white_space="nowrap"),
        rx.text("—", as_="span", color=rx.color("gray", 9)),
    )
