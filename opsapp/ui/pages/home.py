"""Home: the signed-in user's tenants (straight to the tenant when there is only one)."""

from __future__ import annotations

import reflex as rx

from opsapp.ui.components.badges import role_badge
from opsapp.ui.components.page import empty_state, page_header
from opsapp.ui.layout import PRODUCT_NAME, layout
from opsapp.ui.state.session import SessionState

TITLE = PRODUCT_NAME
DESCRIPTION = (
    "Sync, back up, detect drift in and restore the configuration of Microsoft Intune and "
    "Entra tenants."
)


class HomeState(SessionState):
    loaded: bool = False

    @rx.event
    async def load(self):
        user = await self._current_user()
        if user is None:
            return self._to_sign_in()
        self.tenants = []
        await self._remember_user(user)
        self.loaded = True
        if len(self.tenants) == 1:
            return rx.redirect(f"/t/{self.tenants[0]['slug']}", replace=True)


def _tenant_card(tenant: rx.Var) -> rx.Component:
    return rx.link(
        rx.card(
            rx.hstack(
                rx.center(
                    rx.icon("building_2", size=18),
                    width="36px",
                    height="36px",
                    border_radius="var(--radius-3)",
                    background_color=rx.color("accent", 3),
                    color=rx.color("accent", 11),
                ),
                rx.vstack(
                    rx.text(tenant["name"], size="3", weight="bold"),
                    rx.text(tenant["slug"], size="1", color=rx.color("gray", 11)),
                    spacing="0",
                ),
                rx.spacer(),
                role_badge(tenant["role_label"]),
                align="center",
                spacing="3",
            ),
            _hover={"border_color": rx.color("accent", 8)},
        ),
        href="/t/" + tenant["slug"],
        underline="none",
        color="inherit",
        data_tenant=tenant["slug"],
    )


def home() -> rx.Component:
    return layout(
        page_header("Your tenants", DESCRIPTION),
        rx.cond(
            HomeState.loaded,
            rx.cond(
                SessionState.tenants.length() > 0,
                rx.grid(
                    rx.foreach(SessionState.tenants, _tenant_card),
                    columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                    spacing="3",
                    width="100%",
                ),
                empty_state(
                    "building_2",
                    "No tenants yet",
                    "You are not a member of any tenant. Ask a tenant owner to add you.",
                ),
            ),
            rx.skeleton(height="120px", width="100%"),
        ),
    )
