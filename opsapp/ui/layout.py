"""The application shell: header (tenant switcher, bell, user menu), sidebar navigation from
opsapp.ui.nav, and the content area. Tenant links are built from the tenant the server
confirmed (TenantState.current_slug), never from the raw URL."""

from __future__ import annotations

import reflex as rx

from opsapp.ui import routes
from opsapp.ui.components.badges import role_badge
from opsapp.ui.components.bell import bell
from opsapp.ui.components.page import guarded
from opsapp.ui.nav import NAV, NavItem
from opsapp.ui.state.session import SessionState
from opsapp.ui.state.tenant import TenantState

HEADER_HEIGHT = "56px"
SIDEBAR_WIDTH = "232px"
PRODUCT_NAME = "opsapp"


def _href(item: NavItem) -> rx.Var:
    tail = f"/{item.segment}" if item.segment else ""
    return f"/t/{TenantState.current_slug}{tail}"


def _is_active(item: NavItem) -> rx.Var:
    path = rx.State.router.url.path
    href = _href(item)
    if not item.segment:  # the dashboard is the tenant root: only an exact match
        return path == href
    return (path == href) | path.startswith(f"{href}/")


def brand(*, name_on_phone: bool = True) -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.center(
                rx.icon("layers", size=18, color="white"),
                width="30px",
                height="30px",
                border_radius="var(--radius-3)",
                background_color=rx.color("accent", 9),
            ),
            rx.heading(
                PRODUCT_NAME,
                size="4",
                weight="bold",
                high_contrast=True,
                display=["inline", "inline"] if name_on_phone else ["none", "inline"],
            ),
            align="center",
            spacing="2",
        ),
        href=routes.HOME,
        underline="none",
        color="inherit",
        aria_label=f"{PRODUCT_NAME} home",
    )


def nav_entry(item: NavItem) -> rx.Component:
    active = _is_active(item)
    return rx.link(
        rx.hstack(
            rx.icon(item.icon, size=16),
            rx.text(item.label, size="2"),
            align="center",
            spacing="2",
            width="100%",
            padding_x="10px",
            padding_y="6px",
        ),
        href=_href(item),
        underline="none",
        color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 12)),
        background_color=rx.cond(active, rx.color("accent", 3), "transparent"),
        border_radius="var(--radius-2)",
        width="100%",
        _hover={"background_color": rx.color("gray", 3)},
        aria_current=rx.cond(active, "page", "false"),
        data_nav_item=item.label,
    )


def sidebar() -> rx.Component:
    groups = [
        rx.vstack(
            rx.text(
                group.title,
                size="1",
                weight="medium",
                color=rx.color("gray", 10),
                padding_x="10px",
                text_transform="uppercase",
                letter_spacing="0.04em",
            ),
            *[nav_entry(item) for item in group.items],
            spacing="1",
            width="100%",
        )
        for group in NAV
    ]
    return rx.el.nav(
        rx.cond(
            TenantState.current_slug != "",
            rx.vstack(*groups, spacing="5", width="100%"),
            rx.fragment(),
        ),
        aria_label="Main",
        padding="16px 12px",
        border_right=f"1px solid {rx.color('gray', 5)}",
        background_color=rx.color("gray", 2),
        position="sticky",
        top=HEADER_HEIGHT,
        height=f"calc(100vh - {HEADER_HEIGHT})",
        overflow_y="auto",
        display=["none", "none", "block"],
    )


def _mobile_menu() -> rx.Component:
    entries = []
    for index, group in enumerate(NAV):
        if index:
            entries.append(rx.menu.separator())
        entries.append(
            rx.text(group.title, size="1", color=rx.color("gray", 10), padding="4px 12px")
        )
        entries += [rx.menu.item(i.label, on_click=rx.redirect(_href(i))) for i in group.items]
    return rx.box(
        rx.cond(
            TenantState.current_slug != "",
            rx.menu.root(
                rx.menu.trigger(
                    rx.icon_button(rx.icon("menu", size=18), variant="ghost", aria_label="Menu")
                ),
                rx.menu.content(*entries),
            ),
            rx.fragment(),
        ),
        display=["block", "block", "none"],
    )


def tenant_switcher() -> rx.Component:
    """The user's tenants only (from the server), with the role in each."""
    return rx.menu.root(
        rx.menu.trigger(
            rx.button(
                rx.icon("building_2", size=16),
                rx.text(
                    rx.cond(TenantState.tenant_name != "", TenantState.tenant_name, "Tenants"),
                    max_width=["110px", "180px"],
                    overflow="hidden",
                    text_overflow="ellipsis",
                    white_space="nowrap",
                ),
                rx.box(
                    rx.cond(
                        TenantState.role_label != "",
                        role_badge(TenantState.role_label),
                        rx.fragment(),
                    ),
                    display=["none", "block"],
                ),
                rx.icon("chevron_down", size=14),
                variant="soft",
                color_scheme="gray",
                aria_label="Switch tenant",
            )
        ),
        rx.menu.content(
            rx.text("Your tenants", size="1", color=rx.color("gray", 10), padding="4px 12px"),
            rx.foreach(
                SessionState.tenants,
                lambda t: rx.menu.item(
                    rx.hstack(
                        rx.text(t["name"]),
                        rx.spacer(),
                        role_badge(t["role_label"]),
                        width="100%",
                        spacing="3",
                    ),
                    on_click=rx.redirect("/t/" + t["slug"]),
                ),
            ),
            min_width="240px",
        ),
    )


def user_menu() -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.button(
                rx.avatar(fallback=SessionState.user_initials, size="1", radius="full"),
                rx.text(SessionState.user_name, size="2", display=["none", "none", "inline"]),
                variant="ghost",
                color_scheme="gray",
                aria_label="Account",
            )
        ),
        rx.menu.content(
            rx.text(
                SessionState.user_email, size="1", color=rx.color("gray", 10), padding="4px 12px"
            ),
            rx.menu.separator(),
            rx.menu.item(rx.icon("log_out", size=14), "Sign out", on_click=SessionState.sign_out),
        ),
    )


def header() -> rx.Component:
    return rx.hstack(
        _mobile_menu(),
        brand(name_on_phone=False),
        rx.cond(SessionState.signed_in, tenant_switcher(), rx.fragment()),
        rx.spacer(),
        rx.cond(SessionState.signed_in, bell(), rx.fragment()),
        rx.color_mode.button(variant="ghost", size="2", aria_label="Toggle color mode"),
        rx.cond(SessionState.signed_in, user_menu(), rx.fragment()),
        align="center",
        spacing="3",
        height=HEADER_HEIGHT,
        padding_x="16px",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background_color=rx.color("gray", 1),
        position="sticky",
        top="0",
        z_index="10",
        width="100%",
    )


def layout(*children: rx.Component) -> rx.Component:
    """Wrap a page's content in the shell."""
    return rx.box(
        header(),
        rx.box(
            sidebar(),
            rx.el.main(
                rx.box(*children, max_width="1200px", margin_x="auto"),
                padding=["16px", "24px", "32px"],
                min_width="0",
            ),
            display="grid",
            grid_template_columns=["1fr", "1fr", f"{SIDEBAR_WIDTH} 1fr"],
        ),
        min_height="100vh",
        background_color=rx.color("gray", 1),
    )


def tenant_layout(content: rx.Component) -> rx.Component:
    """A tenant page: the shell, and the content only once access is confirmed."""
    return layout(guarded(content))
