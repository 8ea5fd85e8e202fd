"""Run pieces shared by the dashboard, the operations list and the detail page."""

from __future__ import annotations

from typing import Any

import reflex as rx

from opsapp.ui.components.badges import run_badge
from opsapp.ui.components.progress import counts_inline, run_progress
from opsapp.ui.components.times import relative_time
from opsapp.ui.state.tenant import TenantState


def run_href(run: rx.Var) -> rx.Var:
    run = run.to(dict[str, Any])
    return "/t/" + run["tenant"].to(str) + "/operations/" + run["id"].to(str)


def run_line(run: rx.Var) -> rx.Component:
    """A compact run entry (dashboard): badge, label, when, who, progress; links to the run."""
    run = run.to(dict[str, Any])
    return rx.link(
        rx.flex(
            run_badge(run),
            rx.text(run["type_label"], size="2", weight="medium"),
            rx.text(relative_time(run["created_at"]), size="1", color=rx.color("gray", 11)),
            rx.text("by " + run["initiator_name"].to(str), size="1", color=rx.color("gray", 11)),
            rx.spacer(),
            run_progress(run, width="100px"),
            rx.cond(run["is_active"], rx.fragment(), counts_inline(run)),
            spacing="2",
            align="center",
            wrap="wrap",
            width="100%",
        ),
        href=run_href(run),
        underline="none",
        color="inherit",
        padding="8px 10px",
        border_radius="var(--radius-2)",
        _hover={"background_color": rx.color("gray", 3)},
        width="100%",
        data_run_id=run["id"],
    )


def start_button(label: str, on_click, *, busy: rx.Var, visible: rx.Var) -> rx.Component:
    """A start control: only for roles that may start, busy while the start is in flight,
    throttled in the browser so a double click sends one event."""
    return rx.cond(
        visible,
        rx.button(
            rx.icon("refresh_cw", size=15),
            label,
            on_click=on_click.throttle(1500),
            loading=busy,
            disabled=busy,
            data_testid="start-button",
        ),
        rx.fragment(),
    )


def run_watcher(state, run_type: str, label: str) -> rx.Component:
    """While the page follows an active `run_type` run: poll it, and say so with a link."""
    following = (TenantState.watch_run_id > 0) & (TenantState.watch_type == run_type)
    return rx.cond(
        following,
        rx.callout(
            rx.hstack(
                rx.text(f"{label} in progress — this page refreshes when it completes."),
                rx.link(
                    "View run",
                    href=f"/t/{TenantState.current_slug}/operations/"
                    + TenantState.watch_run_id.to(str),
                ),
                rx.moment(interval=1500, on_change=state.watch_tick, display="none"),
                spacing="2",
                wrap="wrap",
            ),
            icon="loader",
            color_scheme="blue",
            size="1",
            margin_bottom="12px",
            width="100%",
            data_testid="run-watcher",
        ),
        rx.fragment(),
    )
