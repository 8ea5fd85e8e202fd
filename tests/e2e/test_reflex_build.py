"""The production build really builds and serves: `scripts/run-embedded.sh` (what `make run` starts)
on a free port with a throw-away SQLite database, fetched over HTTP and rendered in Chromium.

Run in its own pytest process (`pytest tests/e2e`): Reflex caches its config per process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from opsapp.ui.nav import NAV, nav_items

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# Flags that work as root on these machines (see the design notes); Playwright adds --headless.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A cold start installs the frontend packages and builds the bundle before serving.
START_TIMEOUT_S = float(os.environ.get("OPSAPP_E2E_START_TIMEOUT", "600"))
STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class RunningApp:
    base_url: str
    log_path: Path
    process: subprocess.Popen

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback only
        return response.status, response.read().decode("utf-8", errors="replace")


def _wait_until_serving(app: RunningApp) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            pytest.fail(
                f"run-embedded.sh exited with {app.process.returncode} before serving:\n"
                f"{app.log_tail()}"
            )
        try:
            if _get(f"{app.base_url}/ping", timeout=2)[0] == 200:
                return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.5)
    pytest.fail(f"app not serving after {START_TIMEOUT_S:.0f} s:\n{app.log_tail()}")


def _group_alive(process: subprocess.Popen) -> bool:
    process.poll()  # reap the leader, or a dead leader would count as alive
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM the whole group (script, reflex, granian worker), SIGKILL what outlives the timeout.

    The group id is the leader's pid (start_new_session=True), so it stays valid after the leader
    exits as long as any member is left.
    """
    for sig, wait_s in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        deadline = time.monotonic() + wait_s
        while _group_alive(process) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _group_alive(process):
            break
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


@pytest.fixture(scope="module")
def prod_app(tmp_path_factory) -> Iterator[RunningApp]:
    tmp = tmp_path_factory.mktemp("e2e-app")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'e2e.db'}",
        "OPSAPP_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp / "run-embedded.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "run-embedded.sh")],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stopped as one below
        )
    app = RunningApp(base_url=f"http://127.0.0.1:{port}", log_path=log_path, process=process)
    try:
        _wait_until_serving(app)
        yield app
    finally:
        _stop_process_group(process)


def test_prod_build_serves_the_shell_over_http(prod_app: RunningApp):
    status, html = _get(f"{prod_app.base_url}/")

    assert status == 200
    assert "<title>opsapp</title>" in html
    # The production build prerenders the page: the shell and every nav entry are in the HTML.
    assert "Welcome to opsapp" in html
    for item in nav_items():
        assert f'data-nav-item="{item.label}"' in html


def test_backend_answers_on_the_same_port(prod_app: RunningApp):
    assert _get(f"{prod_app.base_url}/ping") == (200, '"pong"')
    status, body = _get(f"{prod_app.base_url}/_health")
    assert status == 200
    assert '"db":true' in body.replace(" ", "")


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)
def test_shell_renders_in_chromium(prod_app: RunningApp, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    page_errors: list[str] = []
    event_sockets: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            page.on("websocket", lambda ws: event_sockets.append(ws.url))
            page.goto(prod_app.base_url, wait_until="networkidle")

            nav = page.get_by_role("navigation", name="Main")
            for group in NAV:
                assert nav.get_by_text(group.title, exact=True).is_visible()
            for item in nav_items():
                entry = nav.locator(f'[data-nav-item="{item.label}"]')
                assert entry.inner_text().strip() == item.label
            assert page.get_by_role("heading", name="Welcome to opsapp").is_visible()

            page.screenshot(path=str(tmp_path / "shell.png"), full_page=True)

            # Hydrated React, not just prerendered HTML: a click handler flips the color mode.
            html = page.locator("html")
            before = html.get_attribute("class") or ""
            page.get_by_role("button", name="Toggle color mode").first.click()
            page.wait_for_function(
                "before => document.documentElement.className !== before", arg=before
            )
            # ...and the page opened its event socket to the backend on the same port.
            page.wait_for_timeout(500)
        finally:
            browser.close()

    assert page_errors == []
    # The built env names "localhost"; the client swaps in the page's host, so any host works.
    port = prod_app.base_url.rsplit(":", 1)[1]
    assert any(url.startswith(f"ws://127.0.0.1:{port}/_event") for url in event_sockets), (
        event_sockets
    )
    assert (tmp_path / "shell.png").stat().st_size > 0
