"""Status/outcome badges: colour AND text (never colour alone), the same everywhere a run shows."""

from __future__ import annotations

from typing import Any

import reflex as rx

from opsapp.operations.status import ACTIVE_BUCKET, RunOutcome, RunStatus

# state bucket → Radix colour
_COLORS = {
    ACTIVE_BUCKET: "blue",
    RunOutcome.succeeded.value: "green",
    RunOutcome.partially_succeeded.value: "amber",
    RunOutcome.failed.value: "red",
    RunOutcome.cancelled.value: "gray",
}


def run_badge(run: rx.Var) -> rx.Component:
    """ "Queued" / "Running" while active, the outcome once completed."""
    run = run.to(dict[str, Any])
    bucket = run["state_bucket"].to(str)
    label = rx.cond(run["is_active"], run["status_label"], run["outcome_label"])
    color = rx.match(bucket, *[(k, v) for k, v in _COLORS.items()], "gray")
    return rx.badge(
        rx.cond(
            run["status"] == RunStatus.running.value,
            rx.spinner(size="1"),
            rx.fragment(),
        ),
        label,
        color_scheme=color,
        variant="soft",
        radius="full",
        data_run_state=bucket,
    )


def role_badge(label: rx.Var | str) -> rx.Component:
    return rx.badge(label, variant="outline", color_scheme="gray", radius="full")


def level_icon(level: rx.Var) -> rx.Component:
    return rx.match(
        level,
        ("success", rx.icon("circle_check", size=16, color=rx.color("green", 10))),
        ("warning", rx.icon("triangle_alert", size=16, color=rx.color("amber", 10))),
        ("error", rx.icon("circle_x", size=16, color=rx.color("red", 10))),
        rx.icon("info", size=16, color=rx.color("blue", 10)),
    )
