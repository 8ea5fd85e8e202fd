"""Page frames: header with actions, the access switch (loading / 404 / 403 / content), empty
states. A tenant page renders nothing of the tenant until the server said the caller may see it."""

from __future__ import annotations

import reflex as rx

from opsapp.ui import routes
from opsapp.ui.state.tenant import TenantState


def page_header(title: str | rx.Var, subtitle: str | rx.Var = "", *actions) -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.heading(title, size="6"),
            rx.cond(
                subtitle, rx.text(subtitle, size="2", color=rx.color("gray", 11)), rx.fragment()
            ),
            spacing="1",
        ),
        rx.spacer(),
        rx.hstack(*actions, spacing="2", align="center"),
        direction=rx.breakpoints(initial="column", sm="row"),
        spacing="3",
        align=rx.breakpoints(initial="start", sm="center"),
        width="100%",
        margin_bottom="20px",
    )


def empty_state(icon: str, title: str, text: str | rx.Var, *actions) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.center(
                rx.icon(icon, size=22),
                width="44px",
                height="44px",
                border_radius="var(--radius-4)",
                background_color=rx.color("accent", 3),
                color=rx.color("accent", 11),
            ),
            rx.heading(title, size="3"),
            rx.text(text, size="2", color=rx.color("gray", 11), text_align="center"),
            *actions,
            align="center",
            spacing="2",
            max_width="420px",
        ),
        padding="40px 16px",
        width="100%",
        border=f"1px dashed {rx.color('gray', 6)}",
        border_radius="var(--radius-4)",
        data_testid="empty-state",
    )


def _message(icon: str, title: str, text: str, testid: str) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon(icon, size=32, color=rx.color("gray", 10)),
            rx.heading(title, size="6"),
            rx.text(text, size="3", color=rx.color("gray", 11), text_align="center"),
            rx.link("Back to your tenants", href=routes.HOME),
            align="center",
            spacing="3",
            max_width="460px",
        ),
        padding_y="80px",
        data_testid=testid,
    )


def not_found_view() -> rx.Component:
    return _message(
        "search_x",
        "404 — Not found",
        "This page does not exist, or you do not have access to it.",
        "not-found",
    )


def forbidden_view() -> rx.Component:
    return _message(
        "shield_x",
        "403 — Not allowed",
        "Your role in this tenant does not allow this page.",
        "forbidden",
    )


def loading_view() -> rx.Component:
    return rx.vstack(
        rx.skeleton(height="32px", width="40%"),
        rx.skeleton(height="18px", width="60%"),
        rx.skeleton(height="220px", width="100%"),
        spacing="3",
        width="100%",
        data_testid="loading",
    )


def guarded(content: rx.Component) -> rx.Component:
    """Show `content` only once the server confirmed access to the route's tenant (and object).

    The tenant context is shared by the tenant pages, so right after a switch to another tenant
    it still describes the previous one: until the new page's load confirms the route's tenant,
    show the loading view rather than the other tenant's content."""
    confirmed = TenantState.current_slug == TenantState.tenant_slug
    return rx.match(
        TenantState.access,
        ("ok", rx.cond(confirmed, content, loading_view())),
        ("not_found", not_found_view()),
        ("forbidden", forbidden_view()),
        loading_view(),
    )


def section(title: str, *children, **props) -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(title, size="3"), *children, spacing="3", width="100%"),
        width="100%",
        **props,
    )
