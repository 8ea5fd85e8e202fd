"""Running the demo Graph: standalone (uvicorn), in a background thread, or in-process (ASGI).

In-process use needs no port: ``make_demo_graph_client("contoso")`` talks to a shared app
through ``httpx.ASGITransport`` with exactly the client code live tenants use.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import threading
import time
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette

from opsapp.graph.demo.app import create_demo_app
from opsapp.graph.demo.state import DemoGraph
from opsapp.graph.demo.tenants import DemoTenant, find_demo_tenant
from opsapp.graph.http_client import HttpGraphClient, make_graph_client
from opsapp.settings_guard import UnsafeConfiguration

# Any host works with ASGITransport; ".invalid" can never resolve, so nothing leaks to a network.
IN_PROCESS_BASE_URL = "http://demo-graph.invalid"
DEMO_REQUESTS_PER_WINDOW = 20_000  # per 20 s window, per demo tenant

_shared_app: Starlette | None = None
_shared_lock = threading.Lock()


def shared_demo_app() -> Starlette:
    """The process-wide demo Graph app (created on first use)."""
    global _shared_app
    with _shared_lock:
        if _shared_app is None:
            _shared_app = create_demo_app()
        return _shared_app


def demo_transport(*, app: Starlette | None = None) -> httpx.ASGITransport:
    """An httpx transport into ``app`` (default: the shared demo app), no sockets involved."""
    return httpx.ASGITransport(app=app or shared_demo_app())


def make_demo_graph_client(
    tenant: DemoTenant | str,
    *,
    base_url: str | None = None,
    app: Starlette | None = None,
    **opts: Any,
) -> HttpGraphClient:
    """A Graph client for a demo tenant (object, slug or Entra id).

    With ``base_url`` it talks HTTP to a running demo server; otherwise in-process to ``app``
    (default: the shared app). ``opts`` go to ``make_graph_client``.
    """
    found = tenant if isinstance(tenant, DemoTenant) else find_demo_tenant(tenant)
    if found is None:
        raise ValueError(f"unknown demo tenant {tenant!r}")
    url = base_url or IN_PROCESS_BASE_URL
    # Same pacing code as live, with a roomier budget: a 50k-object demo tenant's assignment
    # batches would otherwise take many minutes at Graph's 1000 units / 20 s.
    opts.setdefault("max_requests_per_window", DEMO_REQUESTS_PER_WINDOW)
    return make_graph_client(
        tenant_id=found.entra_tenant_id,
        client_id=found.client_id,
        client_secret=found.client_secret,
        graph_base=url,
        login_base=url,
        transport=None if base_url else demo_transport(app=app),
        **opts,
    )


class RemoteBindRefused(UnsafeConfiguration):
    """The demo Graph accepts its public demo credentials: it stays on loopback unless told."""


def is_loopback_host(host: str) -> bool:
    """True for 'localhost' and loopback IP literals (127.0.0.0/8, ::1); anything else — a
    wildcard ('0.0.0.0', '::', ''), a routable address or any other name — may be reachable."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _remote_allowed(allow_remote: bool | None) -> bool:
    if allow_remote is not None:
        return allow_remote
    from opsapp.settings import get_settings

    return get_settings().demo_graph_allow_remote


def check_bind_host(host: str, *, allow_remote: bool | None = None) -> None:
    """Raise RemoteBindRefused for a non-loopback `host` unless remote binds are allowed
    (``allow_remote=True``, or ``OPSAPP_DEMO_GRAPH_ALLOW_REMOTE=1`` when it is None)."""
    if is_loopback_host(host) or _remote_allowed(allow_remote):
        return
    raise RemoteBindRefused(
        f"the demo Graph binds to loopback only (asked for {host[:64]!r}): its credentials are "
        "public; set OPSAPP_DEMO_GRAPH_ALLOW_REMOTE to 1 to expose it on purpose"
    )


def serve(*, host: str = "127.0.0.1", port: int = 8765, app: Starlette | None = None,
          log_level: str = "info", allow_remote: bool | None = None) -> None:  # fmt: skip
    """Serve the demo Graph until interrupted (``opsapp demo graph``).

    Only on a loopback address unless ``allow_remote`` (default: OPSAPP_DEMO_GRAPH_ALLOW_REMOTE).
    """
    check_bind_host(host, allow_remote=allow_remote)
    uvicorn.run(app or create_demo_app(), host=host, port=port, log_level=log_level, lifespan="off")


class BackgroundDemoServer:
    """The demo Graph on a free loopback port in a daemon thread (tests, e2e, notebooks).

    ``with BackgroundDemoServer() as server: server.url, server.demo``.
    """

    def __init__(
        self,
        *,
        app: Starlette | None = None,
        host: str = "127.0.0.1",
        allow_remote: bool | None = None,
    ) -> None:
        check_bind_host(host, allow_remote=allow_remote)
        self.app = app or create_demo_app()
        self.demo: DemoGraph = self.app.state.demo
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
        # proto says TCP, and without it every answer waits ~40 ms for a delayed ACK.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))  # the OS picks a free port; no race with other tests
        self.url = f"http://{host}:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self, *, timeout_s: float = 10.0) -> BackgroundDemoServer:
        """Start and wait until it accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("demo Graph server did not start")
            time.sleep(0.01)
        return self

    def stop(self, *, timeout_s: float = 5.0) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout_s)
        self._socket.close()

    def __enter__(self) -> BackgroundDemoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m opsapp.graph.demo [--host H] [--port P]``."""
    parser = argparse.ArgumentParser(description="Serve the opsapp demo Microsoft Graph.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        default=None,
        help="allow a non-loopback --host (the demo credentials are public)",
    )
    args = parser.parse_args(argv)
    try:
        serve(host=args.host, port=args.port, allow_remote=args.allow_remote)
    except RemoteBindRefused as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")


if __name__ == "__main__":
    main()
