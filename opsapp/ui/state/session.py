"""SessionState: who is signed in. The browser keeps only a random session token; every event
that needs the user resolves it again on the server (a revoked or expired session stops working
at once), so nothing the client sends is trusted as identity."""

from __future__ import annotations

import asyncio

import reflex as rx

from opsapp.auth import AuthenticatedUser, resolve_session, sign_out
from opsapp.db import session_scope
from opsapp.tenancy import user_tenants
from opsapp.ui import routes


def _load_tenants(user_id: int) -> list[dict]:
    with session_scope() as session:
        return user_tenants(session, user_id=user_id)


class SessionState(rx.State):
    # The session token (its hash is what the database keeps). Shared by the tabs of a browser.
    session_token: str = rx.LocalStorage("", name="opsapp_session", sync=True)
    user_name: str = ""
    user_email: str = ""
    # [{"id", "slug", "name", "role", "role_label"}] — the tenant switcher's entries.
    tenants: list[dict[str, str]] = []

    @rx.var
    def signed_in(self) -> bool:
        return bool(self.user_email)

    @rx.var
    def user_initials(self) -> str:
        parts = [p for p in self.user_name.replace(".", " ").split() if p]
        return "".join(p[0] for p in parts[:2]).upper() or "?"

    async def _current_user(self) -> AuthenticatedUser | None:
        """The user behind the browser's token, checked against the database now."""
        user = await asyncio.to_thread(resolve_session, self.session_token or None)
        if user is None:
            self.user_name = self.user_email = ""
            self.tenants = []
        return user

    async def _remember_user(self, user: AuthenticatedUser) -> None:
        if self.user_email != user.email or not self.tenants:
            self.user_name, self.user_email = user.display_name or user.email, user.email
            self.tenants = [
                {k: str(v) for k, v in t.items()}
                for t in await asyncio.to_thread(_load_tenants, user.id)
            ]

    def _to_sign_in(self) -> rx.event.EventSpec:
        url = self.router.url
        here = url.path + (f"?{url.query}" if url.query else "")
        return rx.redirect(routes.login_href(here))

    @rx.event
    async def sign_out(self):
        token, self.session_token = self.session_token, ""
        self.user_name = self.user_email = ""
        self.tenants = []
        await asyncio.to_thread(sign_out, token or None)
        return rx.redirect(routes.LOGIN)
