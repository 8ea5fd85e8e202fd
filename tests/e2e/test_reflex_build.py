"""The production build really builds and serves on one port, and hydrates in Chromium."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import RunningApp, http

pytestmark = pytest.mark.slow


def test_prod_build_serves_the_app_over_http(prod_app: RunningApp):
    status, html = http(f"{prod_app.base_url}/login")

    assert status == 200
    assert "<title>Sign in · opsapp</title>" in html


def test_backend_answers_on_the_same_port(prod_app: RunningApp):
    assert http(f"{prod_app.base_url}/ping") == (200, '"pong"')
    status, body = http(f"{prod_app.base_url}/_health")
    assert status == 200
    assert '"db":true' in body.replace(" ", "")


def test_page_hydrates_and_opens_its_event_socket(prod_app: RunningApp, new_page):
    page = new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))

    # The app opens its event socket once React has mounted: wait for it before clicking (a
    # click on the prerendered HTML before hydration does nothing, and the test flaked on that).
    with page.expect_websocket(timeout=30_000):
        page.goto(f"{prod_app.base_url}/login")
    page.get_by_role("heading", name="Sign in", exact=True).wait_for()
    # Hydrated React, not just prerendered HTML: a click handler flips the color mode.
    before = page.locator("html").get_attribute("class") or ""
    page.get_by_role("button", name="Toggle color mode").first.click()
    page.wait_for_function("b => document.documentElement.className !== b", arg=before)

    port = prod_app.base_url.rsplit(":", 1)[1]
    assert any(url.startswith(f"ws://127.0.0.1:{port}/_event") for url in sockets), (
        prod_app.base_url,
        sockets,
    )
