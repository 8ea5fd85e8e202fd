"""Drift (`/t/<slug>/drift`): what changed in the tenant since a baseline backup set.

Baseline picker (default: the newest set), summary counts by kind and state, the findings table
(policy, type, kind, state, changed paths, first and last seen) with search / state / kind / type
filters held in the URL, Acknowledge and bulk acknowledge, "Generate drift" — and, when the
findings are stale, a generation started by the page itself (deduplicated like any start)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from opsapp.features.drift.freshness import GENERATE
from opsapp.ui.components.drift import ack_dialog, kind_badge, state_badge
from opsapp.ui.components.page import empty_state, page_header
from opsapp.ui.components.runs import run_watcher
from opsapp.ui.components.table import (
    Column,
    choice_select,
    data_table,
    search_box,
    selection_bar,
)
from opsapp.ui.components.times import relative_time
from opsapp.ui.layout import tenant_layout
from opsapp.ui.state.drift import KIND_CHOICES, STATE_CHOICES
from opsapp.ui.state.drift import DriftLandingState as S
from opsapp.ui.state.tenant import TenantState

_SELECT = Column("", None)
_COLUMNS = [
    Column("Policy", "display_name"),
    Column("Type", "policy_type"),
    Column("Kind", "kind"),
    Column("State", "state"),
    Column("Changed paths", "changed_paths", align="right"),
    Column("First seen", "first_seen_at"),
    Column("Last seen", "last_seen_at"),
]
_ACTIONS = Column("", None, align="right")


def _finding_href(row: rx.Var) -> rx.Var:
    return f"/t/{TenantState.current_slug}/drift/findings/" + row["id"].to(str)


def _row(row: rx.Var, *, manage: bool) -> rx.Component:
    name = row["display_name"].to(str)
    cells = [
        rx.table.row_header_cell(
            rx.link(name, href=_finding_href(row), weight="medium", word_break="break-word"),
            max_width="360px",
        ),
        rx.table.cell(rx.badge(row["policy_type_label"], variant="surface", color_scheme="gray")),
        rx.table.cell(kind_badge(row["kind"], row["kind_label"])),
        rx.table.cell(
            rx.cond(
                row["acknowledged_by"],
                rx.tooltip(
                    state_badge(row["state"], row["state_label"]),
                    content="Acknowledged by " + row["acknowledged_by"].to(str),
                ),
                state_badge(row["state"], row["state_label"]),
            )
        ),
        rx.table.cell(
            rx.cond(row["kind"] == "modified", row["changed_paths"].to(str), "—"),
            text_align="right",
        ),
        rx.table.cell(relative_time(row["first_seen_at"])),
        rx.table.cell(relative_time(row["last_seen_at"])),
    ]
    if manage:
        is_new = row["state"] == "new"
        cells.insert(
            0,
            rx.table.cell(
                rx.cond(
                    is_new,
                    rx.checkbox(
                        checked=row["selected"].to(bool),
                        on_change=lambda checked: S.toggle_finding(row["id"], checked),
                        aria_label="Select " + name,
                    ),
                    rx.fragment(),
                ),
                width="36px",
            ),
        )
        cells.append(
            rx.table.cell(
                rx.cond(
                    is_new,
                    rx.button(
                        "Acknowledge",
                        variant="ghost",
                        size="1",
                        on_click=S.open_ack(row["id"]),
                        aria_label="Acknowledge " + name,
                    ),
                    rx.fragment(),
                ),
                text_align="right",
            )
        )
    return rx.table.row(*cells, data_testid="finding-row", data_finding_state=row["state"])


def _generate_button() -> rx.Component:
    return rx.cond(
        TenantState.can_start & (S.baseline_choice != "") & ~S.empty_baseline,
        rx.button(
            rx.icon("git_compare", size=15),
            "Generate drift",
            on_click=S.generate.throttle(1500),
            loading=TenantState.starting == GENERATE,
            data_testid="generate-drift",
        ),
        rx.fragment(),
    )


def _baseline_picker() -> rx.Component:
    return rx.hstack(
        rx.text("Baseline", size="2", weight="medium"),
        rx.select.root(
            rx.select.trigger(aria_label="Baseline", min_width="260px"),
            rx.select.content(
                rx.foreach(
                    S.baselines,
                    lambda b: rx.select.item(b["label"].to(str), value=b["value"].to(str)),
                )
            ),
            value=S.baseline_choice,
            on_change=S.pick_baseline,
        ),
        rx.link(
            "Open backup set",
            href=f"/t/{TenantState.current_slug}/backup-sets/" + S.baseline_choice,
            size="2",
        ),
        spacing="3",
        align="center",
        wrap="wrap",
    )


def _freshness() -> rx.Component:
    generated = rx.cond(
        S.generated_at,
        rx.text("Generated ", relative_time(S.generated_at), size="2", color=rx.color("gray", 11)),
        rx.fragment(),
    )
    empty = rx.callout(
        "This baseline holds no policies yet. Add policies to the backup set (or let its "
        "schedule fill it) to compare the tenant with it.",
        icon="info",
        color_scheme="blue",
        size="1",
        width="100%",
        data_testid="empty-baseline",
    )
    stale = rx.callout(
        rx.text(
            rx.text("Findings are out of date. ", weight="medium", as_="span"),
            S.stale_reason,
            rx.cond(
                TenantState.can_start,
                " Generate drift to bring them up to date.",
                " An operator, manager or owner can generate drift.",
            ),
        ),
        icon="triangle_alert",
        color_scheme="amber",
        size="1",
        width="100%",
        data_testid="stale-notice",
    )
    return rx.vstack(
        generated,
        rx.cond(S.empty_baseline, empty, rx.fragment()),
        rx.cond(S.stale & (TenantState.watch_type != GENERATE), stale, rx.fragment()),
        spacing="2",
        width="100%",
        margin_bottom="12px",
    )


def _count_card(label: str, value: rx.Var, href_query: dict[str, str], testid: str):
    return rx.link(
        rx.card(
            rx.vstack(
                rx.text(label, size="1", color=rx.color("gray", 11)),
                rx.text(value.to(str), size="5", weight="bold", data_testid=testid),
                spacing="0",
            ),
            size="1",
            min_width="110px",
        ),
        href=S.router.page.path
        + "?baseline="
        + S.baseline_choice
        + "".join(f"&{k}={v}" for k, v in href_query.items()),
        underline="none",
        color="inherit",
    )


def _summary() -> rx.Component:
    counts = S.counts.to(dict[str, Any])
    by_kind = counts["by_kind"].to(dict[str, int])
    by_state = counts["by_state"].to(dict[str, int])
    return rx.flex(
        _count_card("Open", counts["open"], {}, "count-open"),
        _count_card("Added", by_kind["added"], {"kind": "added"}, "count-added"),
        _count_card("Removed", by_kind["removed"], {"kind": "removed"}, "count-removed"),
        _count_card("Modified", by_kind["modified"], {"kind": "modified"}, "count-modified"),
        rx.divider(orientation="vertical", size="2", display=["none", "none", "block"]),
        _count_card("New", by_state["new"], {"state": "new"}, "count-new"),
        _count_card(
            "Acknowledged",
            by_state["acknowledged"],
            {"state": "acknowledged"},
            "count-acknowledged",
        ),
        _count_card("Resolved", by_state["resolved"], {"state": "resolved"}, "count-resolved"),
        spacing="2",
        wrap="wrap",
        align="center",
        margin_bottom="16px",
    )


def _toolbar() -> rx.Component:
    return rx.flex(
        search_box(S, "Search by policy name"),
        rx.select.root(
            rx.select.trigger(aria_label="Filter by state", min_width="150px"),
            rx.select.content(
                *[rx.select.item(c["label"], value=c["value"]) for c in STATE_CHOICES]
            ),
            value=S.state_filter,
            on_change=S.set_state_filter,
        ),
        choice_select(
            S.kind_filter,
            KIND_CHOICES,
            S.set_kind_filter,
            all_label="All kinds",
            label="Filter by kind",
        ),
        choice_select(
            S.type_filter,
            S.type_choices,
            S.set_type_filter,
            all_label="All types",
            label="Filter by type",
        ),
        rx.cond(
            S.filtered,
            rx.button("Clear filters", variant="ghost", on_click=S.clear_filters),
            rx.fragment(),
        ),
        spacing="2",
        wrap="wrap",
        align="center",
        margin_bottom="12px",
    )


def _bulk_bar() -> rx.Component:
    return selection_bar(
        S,
        select_label="Select all new on this page",
        count_testid="findings-selected-count",
        action=rx.button(
            rx.icon("check_check", size=14),
            "Acknowledge selected",
            variant="soft",
            size="2",
            on_click=S.open_ack_selected,
        ),
    )


def _empty() -> rx.Component:
    return rx.cond(
        S.filtered,
        empty_state("search_x", "Nothing matches", "Try another filter or clear the filters."),
        rx.cond(
            S.generated_at,
            empty_state(
                "circle_check",
                "No drift",
                "The tenant's captured policies match this baseline.",
            ),
            empty_state(
                "git_compare",
                "No findings yet",
                rx.cond(
                    TenantState.can_start,
                    "Drift has not been generated for this baseline yet.",
                    "Drift has not been generated for this baseline yet. An operator, manager "
                    "or owner can generate it.",
                ),
            ),
        ),
    )


def _table() -> rx.Component:
    return rx.cond(
        TenantState.can_start,
        data_table(
            S, [_SELECT, *_COLUMNS, _ACTIONS], lambda r: _row(r, manage=True), empty=_empty()
        ),
        data_table(S, _COLUMNS, lambda r: _row(r, manage=False), empty=_empty()),
    )


def _no_baseline() -> rx.Component:
    return empty_state(
        "archive",
        "No baseline yet",
        "Drift compares the tenant with a backup set. Create a backup set and add the policies "
        "to watch; its captured versions become the baseline.",
        rx.link(
            rx.button("Go to backup sets", variant="soft"),
            href=f"/t/{TenantState.current_slug}/backup-sets",
        ),
    )


def _content() -> rx.Component:
    return rx.vstack(
        _baseline_picker(),
        rx.box(height="8px"),
        _freshness(),
        run_watcher(S, GENERATE, "Drift generation"),
        _summary(),
        _toolbar(),
        _bulk_bar(),
        _table(),
        ack_dialog(S),
        width="100%",
        spacing="0",
    )


def drift() -> rx.Component:
    return tenant_layout(
        rx.vstack(
            page_header(
                "Drift", "What changed in the tenant since a baseline backup.", _generate_button()
            ),
            rx.cond(
                S.loaded,
                rx.cond(S.baseline_choice != "", _content(), _no_baseline()),
                rx.skeleton(height="240px", width="100%"),
            ),
            width="100%",
            spacing="0",
        )
    )
