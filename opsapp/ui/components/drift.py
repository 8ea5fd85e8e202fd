"""Drift pieces both drift pages use: kind and state badges (colour AND text) and the
acknowledge dialog with its optional note."""

from __future__ import annotations

import reflex as rx

from opsapp.models.drift import NOTE_MAX

_KIND_COLORS = {"added": "green", "removed": "red", "modified": "amber"}
_STATE_COLORS = {"new": "blue", "acknowledged": "gray", "resolved": "green"}
_KIND_ICONS = {"added": "circle_plus", "removed": "circle_minus", "modified": "file_diff"}


def kind_badge(kind: rx.Var, label: rx.Var) -> rx.Component:
    color = rx.match(kind, *_KIND_COLORS.items(), "gray")
    icon = rx.match(
        kind, *[(k, rx.icon(v, size=12)) for k, v in _KIND_ICONS.items()], rx.fragment()
    )
    return rx.badge(icon, label, color_scheme=color, variant="soft", data_kind=kind)


def state_badge(state: rx.Var, label: rx.Var) -> rx.Component:
    color = rx.match(state, *_STATE_COLORS.items(), "gray")
    return rx.badge(label, color_scheme=color, variant="outline", radius="full", data_state=state)


def ack_dialog(state) -> rx.Component:
    """Acknowledge `state.ack_ids` (open while it is not empty); submits `state.confirm_ack`."""
    count = state.ack_ids.length()
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(
                rx.cond(
                    count == 1, "Acknowledge finding", "Acknowledge " + count.to(str) + " findings"
                )
            ),
            rx.dialog.description(
                "Acknowledged drift stays visible and keeps its acknowledgement while it is "
                "unchanged; if the policy changes again, a new finding opens.",
                size="2",
                margin_bottom="12px",
            ),
            rx.form(
                rx.vstack(
                    rx.el.label(
                        rx.text("Note (optional)", size="2", weight="medium"), html_for="ack-note"
                    ),
                    rx.text_area(
                        id="ack-note",
                        name="note",
                        placeholder="e.g. Approved change CHG-1042: longer PIN for kiosks",
                        max_length=NOTE_MAX,
                        rows="3",
                        width="100%",
                        auto_focus=True,
                    ),
                    rx.cond(
                        state.ack_error,
                        rx.text(
                            state.ack_error,
                            size="2",
                            color=rx.color("red", 11),
                            role="alert",
                            data_testid="form-error",
                        ),
                        rx.fragment(),
                    ),
                    rx.hstack(
                        rx.dialog.close(
                            rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                        ),
                        rx.button(rx.icon("check", size=15), "Acknowledge", type="submit"),
                        justify="end",
                        width="100%",
                        spacing="2",
                        margin_top="8px",
                    ),
                    spacing="2",
                    width="100%",
                ),
                on_submit=state.confirm_ack,
                reset_on_submit=True,
            ),
            max_width="520px",
        ),
        open=count > 0,
        on_open_change=state.set_ack_open,
    )
