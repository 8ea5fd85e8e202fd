"""Run progress: a bar while a run is active and knows its total, an indeterminate hint otherwise."""

from __future__ import annotations

from typing import Any

import reflex as rx

from opsapp.operations.status import RunStatus


def run_progress(run: rx.Var, *, width: str = "140px") -> rx.Component:
    run = run.to(dict[str, Any])
    pct = run["progress_percent"]
    return rx.cond(
        run["is_active"],
        rx.cond(
            pct.is_not_none() & (pct.to(int) < 100),  # a total that only grows: no fake 100 %
            rx.hstack(
                rx.progress(value=pct.to(int), width=width, size="1"),
                rx.text(pct.to(str) + "%", size="1", color=rx.color("gray", 11)),
                align="center",
                spacing="2",
            ),
            rx.text(
                rx.cond(
                    run["status"] == RunStatus.queued.value, "Waiting for a worker…", "Working…"
                ),
                size="1",
                color=rx.color("gray", 11),
            ),
        ),
        rx.fragment(),
    )


def counts_inline(run: rx.Var) -> rx.Component:
    """'processed 400 · created 12 · failed 1' — the counts a run reported."""
    run = run.to(dict[str, Any])
    return rx.hstack(
        rx.foreach(
            run["counts_list"].to(list[dict[str, str]]),
            lambda c: rx.cond(
                c["value"].to(int) != 0,
                rx.text(
                    c["label"].to(str) + " " + c["value"].to(str),
                    size="1",
                    color=rx.color("gray", 11),
                    white_space="nowrap",
                ),
                rx.fragment(),
            ),
        ),
        spacing="2",
        wrap="wrap",
    )
