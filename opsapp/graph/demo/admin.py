"""The demo Graph's admin API (``/_demo/...``): the HTTP face of ``DemoGraph``'s control API.

Unauthenticated on purpose: the demo server holds only demo data and binds to loopback.

Precise policy edits (for drift tests), below ``/_demo/tenants/{tenant}/policies/{policy_type}``:

- ``POST``                          create (body: the object) -> the object with its new id
- ``GET /{policy_id}``              read one object
- ``PATCH /{policy_id}``            merge top-level properties (fresh ``lastModifiedDateTime``)
- ``DELETE /{policy_id}``           delete -> ``{"deleted": true}``
- ``PUT /{policy_id}/assignments``  ``{"assignments": [...]}``, like Graph's ``POST .../assign``
- ``PUT /{policy_id}/settings``     ``{"settings": [...]}``, settings catalog only

``GET`` of ``/assignments`` and ``/settings`` reads them back. ``GET /_demo/tenants/{tenant}/units``
is the budget log (every Graph request's arrival time, units and whether the budget admitted it). An unknown tenant, type or id
answers 404, a bad body 400; success answers 200.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from opsapp.graph.demo.state import SETTINGS_CATALOG, DemoGraph

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
        Route(f"{base}/units", units, methods=["GET"]),
        Route(f"{base}/policies/{{policy_type}}", create_policy, methods=["POST"]),
        Route(f"{base}/policies/{{policy_type}}/{{policy_id}}", policy,
              methods=["GET", "PATCH", "DELETE"]),
        Route(f"{base}/policies/{{policy_type}}/{{policy_id}}/assignments", assignments,
              methods=["GET", "PUT"]),
        Route(f"{base}/policies/{{policy_type}}/{{policy_id}}/settings", settings,
              methods=["GET", "PUT"]),
    ]  # fmt: skip


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


async def units(request: Request) -> JSONResponse:
    """The tenant's budget log: ``[[arrival epoch s, units, admitted], ...]`` (``?since=``)."""
    demo: DemoGraph = request.app.state.demo
    try:
        since = float(request.query_params.get("since", "0"))
        return JSONResponse(demo.units_log(request.path_params["tenant"], since=since))
    except KeyError:
        return JSONResponse({"error": "unknown demo tenant"}, 404)
    except ValueError:
        return JSONResponse({"error": "since must be a number"}, 400)


# -- precise policy edits ------------------------------------------------------------------
PolicyHandler = Callable[[DemoGraph, str, str, str, Any], Any]


def _policy_call(handler: PolicyHandler) -> Handler:
    """Parse the body (if any), run ``handler(demo, tenant, type, id, body)``.

    Unknown tenant, policy type or id (KeyError) answers 404; a bad body 400.
    """

    async def endpoint(request: Request) -> JSONResponse:
        demo: DemoGraph = request.app.state.demo
        params = request.path_params
        body: Any = None
        if request.method in ("POST", "PATCH", "PUT"):
            try:
                body = await request.json()
            except ValueError:
                return JSONResponse({"error": "body is not JSON"}, 400)
        try:
            result = handler(
                demo, params["tenant"], params["policy_type"], params.get("policy_id", ""), body
            )
        except KeyError as exc:
            return JSONResponse({"error": f"not found: {exc.args[0] if exc.args else exc}"}, 404)
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": f"bad request: {type(exc).__name__}: {exc}"}, 400)
        return JSONResponse(result)

    return endpoint


def _field(body: Any, name: str) -> Any:
    if not isinstance(body, dict) or name not in body:
        raise ValueError(f'body must be {{"{name}": [...]}}')
    return body[name]


_policy_get = _policy_call(lambda demo, key, ptype, pid, body: demo.get_policy(key, ptype, pid))
_policy_patch = _policy_call(
    lambda demo, key, ptype, pid, body: demo.update_policy(key, ptype, pid, body)
)
_policy_delete = _policy_call(
    lambda demo, key, ptype, pid, body: demo.delete_policy(key, ptype, pid) or {"deleted": True}
)
create_policy = _policy_call(
    lambda demo, key, ptype, pid, body: demo.create_policy(key, ptype, body)
)
_assignments_get = _policy_call(
    lambda demo, key, ptype, pid, body: demo.get_assignments(key, ptype, pid)
)
_assignments_put = _policy_call(
    lambda demo, key, ptype, pid, body: demo.set_assignments(
        key, ptype, pid, _field(body, "assignments")
    )
)
_settings_get = _policy_call(lambda demo, key, ptype, pid, body: _settings(demo, key, ptype, pid))
_settings_put = _policy_call(
    lambda demo, key, ptype, pid, body: _settings(demo, key, ptype, pid, _field(body, "settings"))
)


def _settings(demo: DemoGraph, key: str, ptype: str, pid: str, new: Any = None) -> Any:
    demo.get_policy(key, ptype, pid)  # 404 for an unknown tenant / type / id first
    if ptype != SETTINGS_CATALOG:
        raise ValueError(f"only {SETTINGS_CATALOG} policies have settings")
    return demo.get_settings(key, pid) if new is None else demo.set_policy_settings(key, pid, new)


async def policy(request: Request) -> JSONResponse:
    """GET, PATCH (JSON object of properties) or DELETE one policy object."""
    handler = {"GET": _policy_get, "PATCH": _policy_patch, "DELETE": _policy_delete}
    return await handler[request.method](request)


async def assignments(request: Request) -> JSONResponse:
    """GET a policy's assignments, or PUT ``{"assignments": [...]}`` to replace them."""
    return await (_assignments_put if request.method == "PUT" else _assignments_get)(request)


async def settings(request: Request) -> JSONResponse:
    """GET a settings-catalog policy's settings, or PUT ``{"settings": [...]}``."""
    return await (_settings_put if request.method == "PUT" else _settings_get)(request)
