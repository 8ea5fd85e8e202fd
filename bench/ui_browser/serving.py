"""The processes under measurement: the demo Graph and the app (`scripts/run-embedded.sh`).

Each starts in its own process group, so its memory is summed over the group and one kill stops
it with all its children; the stop is registered on the caller's ExitStack as it starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import urllib.error
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.conftest import free_port, http, stop_process_group

from .config import ROOT, START_TIMEOUT_S


@dataclass
class Server:
    name: str
    base_url: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _spawn(cmd: list[str], env: dict, log_path: Path, cwd: Path = ROOT) -> subprocess.Popen:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            cmd,
            cwd=cwd,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: measured and stopped as one
        )


def _wait_serving(server: Server, probe: str) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < START_TIMEOUT_S:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{server.log_tail()}")
        with contextlib.suppress(OSError, urllib.error.URLError):
            if http(f"{server.base_url}{probe}", timeout=2)[0] == 200:
                return time.monotonic() - t0
        time.sleep(0.25)
    raise RuntimeError(f"{server.name} not serving after {START_TIMEOUT_S} s:\n{server.log_tail()}")


def start_server(stack, name: str, cmd: list[str], env: dict, logs: Path, probe: str, port: int):
    """Start a server in its own process group (stopped when `stack` closes); (server, start s)."""
    log_path = logs / f"{name}.log"
    process = _spawn(cmd, env, log_path, Path(env.get("PYTHONPATH", ROOT)))  # the app: its copy
    stack.callback(stop_process_group, process)
    server = Server(name, f"http://127.0.0.1:{port}", process, log_path)
    return server, _wait_serving(server, probe)


def start_demo_graph(stack, logs: Path) -> Server:
    port = free_port()
    cmd = [str(ROOT / ".venv/bin/opsapp"), "demo", "graph", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--log-level", "warning"]
    return start_server(stack, "demo-graph", cmd, {}, logs, "/_demo/tenants", port)[0]


# Reflex bakes the backend's port into the production bundle (.web/build, reflex-env-*.js) and
# the page keeps only that port. Several apps built from one checkout (other engineers' e2e runs)
# overwrite each other's bundle, and a page can end up talking to another app's websocket. The
# app is therefore served from a private snapshot of the working tree (code and .web).
SNAPSHOT = ("opsapp", "alembic", "alembic.ini", "rxconfig.py", "scripts", "assets", "reflex.lock")


def private_checkout(logs: Path) -> Path:
    copy = logs / "checkout"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in (*SNAPSHOT, ".web"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, copy / name, symlinks=True, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, copy / name)
    return copy


def start_app(stack, name: str, database_url: str, demo: Server, logs: Path, checkout: Path):
    """The app on `database_url`, served from `checkout`; (server, seconds until it served)."""
    port = free_port()
    env = {
        "DATABASE_URL": database_url,
        "OPSAPP_PORT": str(port),
        "OPSAPP_DEMO_GRAPH_URL": demo.base_url,
        "OPSAPP_VENV_BIN": str(ROOT / ".venv/bin"),
        "OPSAPP_TOOLS_DIR": str(ROOT / ".tools"),
        "PYTHONPATH": str(checkout),  # the snapshot's code, not the editable install's
    }
    cmd = ["bash", str(checkout / "scripts/run-embedded.sh")]
    return start_server(stack, name, cmd, env, logs, "/ping", port)
