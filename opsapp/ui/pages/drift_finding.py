"""One drift finding (`/t/<slug>/drift/findings/<id>`): the change side by side — baseline on the
left, current on the right, changed paths highlighted, secrets masked — with links to the
policy, the baseline and the runs that saw it, and Acknowledge (with an optional note)."""

from __future__ import annotations

import reflex as rx

from opsapp.ui.components.drift import ack_dialog, kind_badge, state_badge
from opsapp.ui.components.page import loading_view, page_header
from opsapp.ui.components.times import relative_time
from opsapp.ui.layout import tenant_layout
from opsapp.ui.state.drift import DriftFindingState as S
from opsapp.ui.state.tenant import TenantState

_MISSING = "(not set)"


def _value(text: rx.Var, missing: rx.Var) -> rx.Component:
    return rx.cond(
        missing,
        rx.text(_MISSING, size="2", color=rx.color("gray", 9), font_style="italic"),
        rx.code(text, size="2", variant="ghost", word_break="break-all", white_space="pre-wrap"),
    )


def _change_row(row: rx.Var) -> rx.Component:
    changed = row["changed"].to(bool)
    return rx.table.row(
        rx.table.row_header_cell(
            rx.hstack(
                rx.cond(
                    changed,
                    rx.icon("dot", size=18, color=rx.color("amber", 10)),
                    rx.box(width="18px"),
                ),
                rx.code(row["path"], size="2", variant="ghost", word_break="break-all"),
                spacing="1",
                align="center",
            ),
            max_width="420px",
        ),
        rx.table.cell(_value(row["old"], row["old_missing"]), max_width="360px"),
        rx.table.cell(_value(row["new"], row["new_missing"]), max_width="360px"),
        background_color=rx.cond(changed, rx.color("amber", 2), "transparent"),
        data_testid="change-row",
        data_changed=rx.cond(changed, "true", "false"),
    )


def _facts() -> rx.Component:
    f = S.finding
    slug = TenantState.current_slug
    return rx.flex(
        kind_badge(f["kind"], f["kind_label"]),
        state_badge(f["state"], f["state_label"]),
        rx.badge(f["policy_type_label"], variant="surface", color_scheme="gray"),
        rx.text(
            "First seen ", relative_time(f["first_seen_at"]), size="2", color=rx.color("gray", 11)
        ),
        rx.text("·", color=rx.color("gray", 9)),
        rx.text(
            "Last seen ", relative_time(f["last_seen_at"]), size="2", color=rx.color("gray", 11)
        ),
        rx.cond(
            f["last_run_id"],
            rx.link(
                "Generation run", href=f"/t/{slug}/operations/" + f["last_run_id"].to(str), size="2"
            ),
            rx.fragment(),
        ),
        spacing="2",
        align="center",
        wrap="wrap",
        margin_top="-12px",
        margin_bottom="16px",
    )


def _icon_link(icon: str, text: rx.Var, href: rx.Var) -> rx.Component:
    return rx.link(
        rx.hstack(rx.icon(icon, size=14), rx.text(text, as_="span"), spacing="1", align="center"),
        href=href,
        size="2",
    )


def _links() -> rx.Component:
    f = S.finding
    slug = TenantState.current_slug
    return rx.flex(
        _icon_link(
            "shield_check",
            "Policy: " + f["display_name"].to(str),
            f"/t/{slug}/policies/" + f["policy_id"].to(str),
        ),
        _icon_link(
            "archive",
            "Baseline: " + f["baseline_name"].to(str),
            f"/t/{slug}/backup-sets/" + f["baseline_id"].to(str),
        ),
        spacing="4",
        wrap="wrap",
        margin_bottom="12px",
    )


def _acknowledgement() -> rx.Component:
    f = S.finding
    return rx.cond(
        f["acknowledged_at"],
        rx.callout(
            rx.vstack(
                rx.text(
                    "Acknowledged by ",
                    rx.text(f["acknowledged_by"].to(str), weight="medium", as_="span"),
                    " ",
                    relative_time(f["acknowledged_at"]),
                ),
                rx.cond(
                    f["note"],
                    rx.text("“", f["note"].to(str), "”", size="2", white_space="pre-wrap"),
                    rx.fragment(),
                ),
                spacing="1",
            ),
            icon="check",
            color_scheme="gray",
            size="1",
            margin_bottom="12px",
            data_testid="acknowledgement",
        ),
        rx.fragment(),
    )


def _summary_line() -> rx.Component:
    f = S.finding
    return rx.match(
        f["kind"],
        ("added", rx.text("This policy is in the tenant but not in the baseline.", size="2")),
        (
            "removed",
            rx.text("This policy is in the baseline but no longer in the tenant.", size="2"),
        ),
        rx.text(
            rx.cond(
                f["changed_paths"] == 1,
                "1 changed path",
                f["changed_paths"].to(str) + " changed paths",
            ),
            " between the baseline and the current captured state.",
            size="2",
        ),
    )


def _changes() -> rx.Component:
    table = rx.box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell(
                        rx.text("Setting path", size="1", weight="medium"), width="40%"
                    ),
                    rx.table.column_header_cell(
                        rx.text("Baseline", size="1", weight="medium"), width="30%"
                    ),
                    rx.table.column_header_cell(
                        rx.text("Current", size="1", weight="medium"), width="30%"
                    ),
                )
            ),
            rx.table.body(rx.foreach(S.visible_rows, _change_row)),
            variant="surface",
            size="1",
            width="100%",
        ),
        overflow_x="auto",
        width="100%",
    )
    return rx.vstack(
        rx.hstack(
            rx.heading("Changes", size="4"),
            rx.spacer(),
            rx.cond(
                S.finding["kind"] == "modified",
                rx.checkbox(
                    "Only changed paths", checked=S.only_changed, on_change=S.set_only_changed
                ),
                rx.fragment(),
            ),
            width="100%",
            align="center",
        ),
        _summary_line(),
        rx.cond(
            S.visible_rows.length() > 0,
            table,
            rx.text("No settings captured.", size="2", color=rx.color("gray", 11)),
        ),
        spacing="3",
        width="100%",
    )


def _ack_button() -> rx.Component:
    return rx.cond(
        TenantState.can_start & (S.finding["state"] == "new"),
        rx.button(
            rx.icon("check", size=15),
            "Acknowledge",
            on_click=S.open_ack,
            data_testid="acknowledge-finding",
        ),
        rx.fragment(),
    )


def _content() -> rx.Component:
    f = S.finding
    return rx.vstack(
        rx.link("← Drift", href=S.drift_href, size="2"),
        page_header(f["display_name"].to(str), "", _ack_button()),
        _facts(),
        _links(),
        _acknowledgement(),
        _changes(),
        ack_dialog(S),
        width="100%",
        spacing="0",
    )


def drift_finding() -> rx.Component:
    return tenant_layout(rx.cond(S.finding["id"], _content(), loading_view()))
