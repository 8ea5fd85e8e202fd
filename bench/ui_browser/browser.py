"""Chromium through Playwright: browser contexts that record page errors and websockets, sign-in,
and opening a tab that is ready to be measured."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tests.e2e.conftest import DEMO_USERS

from .config import UI_TIMEOUT_MS


@dataclass
class BrowserLog:
    """What every page of the run reported: errors and warnings, and which backends the pages'
    websockets reached (a socket to a port not in `ports` means a page talked to a foreign app)."""

    errors: list[str] = field(default_factory=list)
    ports: set[int] = field(default_factory=set)  # the apps this run started
    sockets: Counter = field(default_factory=Counter)  # websocket port → connections

    def watch(self, page) -> None:
        page.on("websocket", lambda ws: self.sockets.update([urlsplit(ws.url).port]))
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"console.{msg.type}: {msg.text[:300]}")
                if msg.type in ("error", "warning")
                else None
            ),
        )


def new_context(browser, log: BrowserLog):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(UI_TIMEOUT_MS)
    context.on("page", log.watch)
    return context


def sign_in(context, base_url: str, who: str, next_path: str):
    """A new page of `context`, signed in (the session token is shared by the context's tabs)."""
    email, password = DEMO_USERS[who]
    page = context.new_page()
    page.goto(f"{base_url}{next_path}")
    try:
        page.wait_for_url("**/login**")
    except Exception as exc:
        raise RuntimeError(f"no redirect to /login from {next_path}: at {page.url}") from exc
    page.fill("#email", email)
    page.fill("#password", password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function("() => !location.pathname.startsWith('/login')")
    return page


def open_tab(context, base_url: str, path: str, ready: str):
    """A new tab of a signed-in context on `path`, once the `ready` selector is on the page."""
    page = context.new_page()
    page.goto(f"{base_url}{path}")
    page.locator(ready).first.wait_for()
    return page
