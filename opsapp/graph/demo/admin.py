"""The demo Graph's admin API (``/_demo/...``): the HTTP face of ``DemoGraph``'s control API.

Unauthenticated on purpose: the demo server holds only demo data and binds to loopback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from opsapp.graph.demo.state import DemoGraph

Handler = Callable[[Request], Awaitable[JSONResponse]]


def routes() -> list[Route]:
    """The admin routes (registered before the Graph catch-all)."""
    base = "/_demo/tenants/{tenant}"
    return [
        Route("/_demo/tenants", list_tenants, methods=["GET"]),
        Route(f"{base}/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route(f"{base}/mutate", mutate, methods=["POST"]),
        Route(f"{base}/reset", reset, methods=["POST"]),
        Route(f"{base}/revoke-tokens", revoke_tokens, methods=["POST"]),
        Route(f"{base}/stats", stats, methods=["GET"]),
    ]


async def list_tenants(request: Request) -> JSONResponse:
    """Demo tenants with their sizes (credentials are not listed)."""
    demo: DemoGraph = request.app.state.demo
    return JSONResponse(
        [
            {
                "slug": s.tenant.slug,
                "name": s.tenant.name,
                "entra_tenant_id": s.tenant.entra_tenant_id,
                "policy_objects": sum(c.live_count() for c in s.data.policies.values()),
                "groups": s.data.groups.live_count(),
            }
            for s in demo.tenants()
        ]
    )


def _tenant_call(handler: Callable[[DemoGraph, str, Any], Any]) -> Handler:
    """Resolve the tenant, parse a JSON body, map bad input to 400 / 404."""

    async def endpoint(request: Request) -> JSONResponse:
        demo: DemoGraph = request.app.state.demo
        key = request.path_params["tenant"]
        try:
            demo.tenant(key)
        except KeyError:
            return JSONResponse({"error": "unknown demo tenant"}, 404)
        body: Any = None
        if request.method == "POST" and await request.body():
            try:
                body = await request.json()
            except ValueError:
                return JSONResponse({"error": "body is not JSON"}, 400)
        try:
            return JSONResponse(handler(demo, key, body))
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"bad request: {type(exc).__name__}: {exc}"}, 400)

    return endpoint


def _faults(demo: DemoGraph, key: str, body: Any) -> Any:
    # GET reads, POST replaces (body = switches), DELETE clears; body None on GET/DELETE.
    if isinstance(body, dict):
        return demo.set_faults(key, **body).to_json()
    if body is None:
        return demo.stats(key)["faults"]
    raise ValueError("faults must be a JSON object")


async def faults(request: Request) -> JSONResponse:
    """GET the switches, POST new ones (JSON object), DELETE to clear them."""
    handler = _clear_faults if request.method == "DELETE" else _faults
    return await _tenant_call(handler)(request)


def _clear_faults(demo: DemoGraph, key: str, body: Any) -> Any:
    demo.clear_faults(key)
    return demo.stats(key)["faults"]


mutate = _tenant_call(lambda demo, key, body: demo.mutate(key, **(body or {})))
reset = _tenant_call(lambda demo, key, body: demo.reset(key) or {"reset": True})
revoke_tokens = _tenant_call(lambda demo, key, body: {"revoked": demo.revoke_tokens(key)})
stats = _tenant_call(lambda demo, key, body: demo.stats(key))
