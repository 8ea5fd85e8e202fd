"""Route patterns for `app.add_page` and href builders for links between pages.

Tenant pages live under `/t/<tenant_slug>/…`; the href builders delegate to
`opsapp.operations.links`, so the URLs a notification or the CLI prints and the routes the UI
serves come from one place.
"""

from __future__ import annotations

from opsapp.operations.links import tenant_path

# Name of the dynamic route argument that carries the tenant slug.
TENANT_ARG = "tenant_slug"

HOME = "/"


def tenant_route(segment: str = "") -> str:
    """Reflex route pattern of a tenant page, e.g. `tenant_route("drift")` → `/t/[tenant_slug]/drift`."""
    base = f"/t/[{TENANT_ARG}]"
    segment = segment.strip("/")
    return f"{base}/{segment}" if segment else base


def tenant_href(tenant_slug: str, segment: str = "") -> str:
    """Concrete URL of a tenant page, e.g. `tenant_href("contoso", "drift")` → `/t/contoso/drift`."""
    return tenant_path(tenant_slug, segment)
