"""`python -m bench.ui_browser`: start everything, measure sections 1–4, write the report.

Everything started is registered on one ExitStack, so a normal end, an exception and a signal
all stop every process group, close the browser and drop the scratch database.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from bench.common import machine
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

from .browser import BrowserLog
from .postgres_app import pg_part
from .procfs import cpu_report, cpu_snapshot
from .report import publish
from .serving import private_checkout, start_demo_graph
from .sqlite_app import sqlite_part


def _exit_on_signal(signum, _frame):
    raise SystemExit(128 + signum)  # unwinds the ExitStack: every process group is stopped


def _copy_checkout(stack, logs: Path) -> None:
    t_copy = time.monotonic()
    stack.callback(shutil.rmtree, logs / "checkout", ignore_errors=True)  # after the apps
    private_checkout(logs)
    print(f"private checkout copied in {time.monotonic() - t_copy:.1f} s", flush=True)


def _launch_chromium(stack):
    from playwright.sync_api import sync_playwright

    pw = stack.enter_context(sync_playwright())
    browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    stack.callback(browser.close)
    return browser


def run_all(logs: Path) -> dict:
    """Both apps measured one after the other; everything the report needs."""
    log = BrowserLog()
    with contextlib.ExitStack() as stack:
        demo = start_demo_graph(stack, logs)
        _copy_checkout(stack, logs)
        first = cpu_snapshot()
        browser = _launch_chromium(stack)
        t0 = time.monotonic()
        lite = sqlite_part(stack, browser, demo, logs, log)
        pg = pg_part(stack, browser, demo, logs, log)
        wall_s = time.monotonic() - t0
        cpu = cpu_report(first, cpu_snapshot(), wall_s)
        return {
            "lite": lite,
            "pg": pg,
            "log": log,
            "cpu": cpu,
            "load": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
            "wall_s": wall_s,
        }


def main() -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, _exit_on_signal)
    header = machine()
    logs = Path(tempfile.mkdtemp(prefix="opsapp-ui-browser-"))
    print(f"logs: {logs}", flush=True)
    result = run_all(logs)
    publish(header, result, logs)


if __name__ == "__main__":
    main()
