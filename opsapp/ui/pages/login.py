"""Sign-in page: e-mail + password, a generic refusal that never says whether the e-mail exists,
a clear message when throttled, and back to the page the visitor came from."""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from opsapp.auth import SignInFailed, sign_in
from opsapp.ui import routes
from opsapp.ui.layout import PRODUCT_NAME, brand
from opsapp.ui.state.session import SessionState

TITLE = f"Sign in · {PRODUCT_NAME}"


class SignInState(SessionState):
    error: str = ""
    busy: bool = False

    def _next(self) -> str:
        return routes.safe_next(self.router.url.query_parameters.get("next"))

    @rx.event
    async def load(self):
        self.error, self.busy = "", False
        user = await self._current_user()
        if user is not None:
            return rx.redirect(self._next(), replace=True)

    @rx.event
    async def submit(self, form_data: dict[str, Any]):
        email = str(form_data.get("email", "")).strip()
        password = str(form_data.get("password", ""))
        if not email or not password:
            self.error = "Enter your e-mail and password."
            return
        self.busy, self.error = True, ""
        yield
        client = self.router.session.client_ip or ""
        try:
            result = await asyncio.to_thread(
                sign_in, email=email, password=password, client_key=client
            )
        except SignInFailed as exc:
            self.error, self.busy = str(exc), False
            return
        self.session_token = result.token
        self.user_name, self.user_email, self.tenants = "", "", []
        await self._remember_user(result.user)
        self.busy = False
        yield rx.redirect(self._next(), replace=True)


def _field(label: str, name: str, **input_props) -> rx.Component:
    return rx.vstack(
        rx.text(label, as_="label", size="2", weight="medium", html_for=name),
        rx.input(id=name, name=name, required=True, width="100%", size="3", **input_props),
        spacing="1",
        width="100%",
    )


def login() -> rx.Component:
    form = rx.form(
        rx.vstack(
            _field(
                "E-mail",
                "email",
                type="email",
                placeholder="you@example.com",
                auto_complete="username",
            ),
            _field("Password", "password", type="password", auto_complete="current-password"),
            rx.cond(
                SignInState.error != "",
                rx.callout(
                    SignInState.error,
                    icon="triangle_alert",
                    color_scheme="red",
                    role="alert",
                    width="100%",
                    data_testid="sign-in-error",
                ),
                rx.fragment(),
            ),
            rx.button("Sign in", type="submit", size="3", width="100%", loading=SignInState.busy),
            spacing="4",
            width="100%",
        ),
        on_submit=SignInState.submit,
        reset_on_submit=False,
    )
    return rx.center(
        rx.vstack(
            rx.center(brand(), width="100%"),
            rx.card(
                rx.vstack(
                    rx.heading("Sign in", size="6"),
                    rx.text(
                        "Manage your Intune and Entra tenants.",
                        size="2",
                        color=rx.color("gray", 11),
                    ),
                    form,
                    spacing="4",
                    width="100%",
                ),
                size="4",
                width="100%",
            ),
            spacing="5",
            width="min(400px, 92vw)",
        ),
        rx.box(
            rx.color_mode.button(variant="ghost", size="2", aria_label="Toggle color mode"),
            position="absolute",
            top="12px",
            right="16px",
        ),
        min_height="100vh",
        background_color=rx.color("gray", 2),
        position="relative",
    )
