"""Browser tests on the production build: `scripts/run-embedded.sh` (what `make run` starts) on a
free port with a throw-away SQLite database, talking over HTTP to a real demo Graph server whose
faults the tests switch, driven by Debian's headless Chromium. One build and one app for the whole
session (the build is the slow part); every test gets its own browser context (fresh storage).

Run in its own pytest process (`pytest tests/e2e`): Reflex caches its config per process.
"""

from __future__ import annotations

import contextlib
import json
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
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "docs" / "screenshots"
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
UI_TIMEOUT_MS = 15_000

DEMO_USERS = {
    "owner": ("owner@opsapp.demo", "demo-owner-pass"),
    "manager": ("manager@opsapp.demo", "demo-manager-pass"),
    "operator": ("operator@opsapp.demo", "demo-operator-pass"),
    "reader": ("reader@opsapp.demo", "demo-reader-pass"),
    "fabrikam": ("fabrikam@opsapp.demo", "demo-fabrikam-pass"),
}


@dataclass(frozen=True)
class Served:
    base_url: str
    log_path: Path
    process: subprocess.Popen

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class RunningApp(Served):
    database_url: str = ""

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.database_url)

    def runs(self, **where: object) -> list[dict]:
        """Rows of operation_runs (the app's own database file), newest first."""
        clause = " AND ".join(f"{k} = :{k}" for k in where) or "1 = 1"
        engine = self.engine()
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.text(f"SELECT * FROM operation_runs WHERE {clause} ORDER BY id DESC"), where
                )
                return [dict(r._mapping) for r in rows]
        finally:
            engine.dispose()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(url: str, *, method: str = "GET", body: object = None, timeout: float = 5.0):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
        return response.status, response.read().decode("utf-8", errors="replace")


def _wait_until(served: Served, probe: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            pytest.fail(f"exited with {served.process.returncode}:\n{served.log_tail()}")
        with contextlib.suppress(OSError, urllib.error.URLError):
            if http(f"{served.base_url}{probe}", timeout=2)[0] == 200:
                return
        time.sleep(0.5)
    pytest.fail(f"not serving after {START_TIMEOUT_S:.0f} s:\n{served.log_tail()}")


def _group_alive(process: subprocess.Popen) -> bool:
    process.poll()  # reap the leader, or a dead leader would count as alive
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM the whole group (script, reflex, granian worker), SIGKILL what outlives it."""
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


def _spawn(cmd: list[str], env: dict, log_path: Path) -> subprocess.Popen:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stopped as one
        )


@pytest.fixture(scope="session")
def demo_graph(tmp_path_factory) -> Iterator[Served]:
    """A real demo Graph server over HTTP (faults switchable at /_demo/...)."""
    tmp = tmp_path_factory.mktemp("demo-graph")
    port = free_port()
    cmd = [str(ROOT / ".venv" / "bin" / "opsapp"), "demo", "graph", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--log-level", "warning"]
    process = _spawn(cmd, {**os.environ, "PYTHONUNBUFFERED": "1"}, tmp / "demo-graph.log")
    served = Served(f"http://127.0.0.1:{port}", tmp / "demo-graph.log", process)
    try:
        _wait_until(served, "/_demo/tenants")
        yield served
    finally:
        stop_process_group(process)


@pytest.fixture(scope="session")
def prod_app(tmp_path_factory, demo_graph) -> Iterator[RunningApp]:
    tmp = tmp_path_factory.mktemp("e2e-app")
    port = free_port()
    database_url = f"sqlite:///{tmp / 'e2e.db'}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "OPSAPP_PORT": str(port),
        "OPSAPP_DEMO_GRAPH_URL": demo_graph.base_url,
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp / "run-embedded.log"
    process = _spawn(["bash", str(ROOT / "scripts" / "run-embedded.sh")], env, log_path)
    app = RunningApp(f"http://127.0.0.1:{port}", log_path, process, database_url)
    try:
        _wait_until(app, "/ping")
        yield app
    finally:
        stop_process_group(process)


def set_faults(demo_graph: Served, tenant: str, **faults: object) -> None:
    status, _ = http(
        f"{demo_graph.base_url}/_demo/tenants/{tenant}/faults", method="POST", body=faults
    )
    assert status == 200


def clear_faults(demo_graph: Served, tenant: str) -> None:
    http(f"{demo_graph.base_url}/_demo/tenants/{tenant}/faults", method="DELETE")


def graph_requests(demo_graph: Served, tenant: str) -> int:
    _, body = http(f"{demo_graph.base_url}/_demo/tenants/{tenant}/stats")
    stats = json.loads(body)
    return stats["graph_requests"] + stats["token_requests"]


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("needs /usr/bin/chromium (scripts/ensure-browser.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser, prod_app):
    """Open a page in a fresh context (own storage); collects page errors and fails on them."""
    contexts, errors = [], []

    def _open(*, width: int = 1280, height: int = 860, color_scheme: str = "light"):
        context = browser.new_context(
            viewport={"width": width, "height": height}, color_scheme=color_scheme
        )
        context.set_default_timeout(UI_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield _open
    for context in contexts:
        context.close()
    assert errors == [], errors


def sign_in(page, app: RunningApp, who: str, *, next_path: str = "/") -> None:
    email, password = DEMO_USERS[who]
    page.goto(f"{app.base_url}{next_path}")
    page.wait_for_url("**/login**")
    page.fill("#email", email)
    page.fill("#password", password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function("() => !location.pathname.startsWith('/login')")


def shot(page, name: str) -> Path:
    """A screenshot for the README (docs/screenshots) — the tests regenerate them."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
