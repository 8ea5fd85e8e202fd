"""The application shell: header, sidebar navigation (from opsapp.ui.nav) and the content area."""

from __future__ import annotations

import reflex as rx

from opsapp.ui import routes
from opsapp.ui.nav import NAV, NavItem

HEADER_HEIGHT = "56px"
SIDEBAR_WIDTH = "240px"
PRODUCT_NAME = "opsapp"

# A tenant slug known when the page is built (str) or read from the route at run time (Var).
TenantSlug = str | rx.Var | None


def _href(tenant_slug: str | rx.Var, item: NavItem) -> str | rx.Var:
    if isinstance(tenant_slug, str):
        return routes.tenant_href(tenant_slug, item.segment)
    tail = f"/{item.segment}" if item.segment else ""
    return f"/t/{tenant_slug}{tail}"


def _is_active(href: str | rx.Var, item: NavItem) -> rx.Var:
    path = rx.State.router.url.path
    if not item.segment:  # the dashboard is the tenant root: only an exact match
        return path == href
    return (path == href) | path.startswith(f"{href}/")


def brand() -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.center(
                rx.icon("layers", size=18, color="white"),
                width="30px",
                height="30px",
                border_radius="var(--radius-3)",
                background_color=rx.color("accent", 9),
            ),
            rx.heading(PRODUCT_NAME, size="4", weight="bold", high_contrast=True),
            align="center",
            spacing="2",
        ),
        href=routes.HOME,
        underline="none",
        color="inherit",
        aria_label=f"{PRODUCT_NAME} home",
    )


def _item_body(item: NavItem) -> rx.Component:
    return rx.hstack(
        rx.icon(item.icon, size=16),
        rx.text(item.label, size="2"),
        align="center",
        spacing="2",
        width="100%",
        padding_x="10px",
        padding_y="6px",
        border_radius="var(--radius-2)",
    )


def nav_entry(item: NavItem, tenant_slug: TenantSlug) -> rx.Component:
    """One sidebar entry: a link once a tenant is known, an inert label before that."""
    if tenant_slug is None:
        return rx.box(
            _item_body(item),
            color=rx.color("gray", 10),
            cursor="default",
            aria_disabled="true",
            title="Available once a tenant is selected",
            data_nav_item=item.label,
        )
    href = _href(tenant_slug, item)
    active = _is_active(href, item)
    return rx.link(
        _item_body(item),
        href=href,
        underline="none",
        color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 12)),
        background_color=rx.cond(active, rx.color("accent", 3), "transparent"),
        border_radius="var(--radius-2)",
        width="100%",
        _hover={"background_color": rx.color("gray", 3)},
        data_nav_item=item.label,
    )


def sidebar(tenant_slug: TenantSlug = None) -> rx.Component:
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
            *[nav_entry(item, tenant_slug) for item in group.items],
            spacing="1",
            width="100%",
        )
        for group in NAV
    ]
    return rx.el.nav(
        rx.vstack(*groups, spacing="5", width="100%"),
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


def _mobile_menu(tenant_slug: TenantSlug) -> rx.Component:
    entries = []
    for index, group in enumerate(NAV):
        if index:
            entries.append(rx.menu.separator())
        entries.append(
            rx.text(group.title, size="1", color=rx.color("gray", 10), padding="4px 12px")
        )
        for item in group.items:
            if tenant_slug is None:
                entries.append(rx.menu.item(item.label, disabled=True))
            else:
                entries.append(
                    rx.menu.item(item.label, on_click=rx.redirect(_href(tenant_slug, item)))
                )
    return rx.box(
        rx.menu.root(
            rx.menu.trigger(
                rx.icon_button(rx.icon("menu", size=18), variant="ghost", aria_label="Menu")
            ),
            rx.menu.content(*entries),
        ),
        display=["block", "block", "none"],
    )


def header(tenant_slug: TenantSlug = None) -> rx.Component:
    return rx.hstack(
        _mobile_menu(tenant_slug),
        brand(),
        rx.spacer(),
        rx.color_mode.button(variant="ghost", size="2", aria_label="Toggle color mode"),
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


def layout(*children: rx.Component, tenant_slug: TenantSlug = None) -> rx.Component:
    """Wrap a page's content in the shell. Pass the tenant slug once the page is tenant-scoped."""
    return rx.box(
        header(tenant_slug),
        rx.box(
            sidebar(tenant_slug),
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
