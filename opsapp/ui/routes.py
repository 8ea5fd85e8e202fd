"""Route patterns for `app.add_page` and href builders for links between pages.

Tenant pages live under `/t/<tenant_slug>/…`; the href builders delegate to
`opsapp.operations.links`, so the URLs a notification or the CLI prints and the routes the UI
serves come from one place.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from opsapp.operations.links import tenant_path

# Names of the dynamic route arguments. Reflex turns each into a read-only var on every state,
# so no state may declare a var of the same name.
TENANT_ARG = "tenant_slug"
RUN_ARG = "run_id"
POLICY_ARG = "policy_id"
BACKUP_SET_ARG = "backup_set_id"
SCHEDULE_ARG = "schedule_id"
FINDING_ARG = "finding_id"
RESTORE_ARG = "restore_run_id"

HOME = "/"
LOGIN = "/login"


def tenant_route(segment: str = "") -> str:
    """Reflex route pattern of a tenant page, e.g. `tenant_route("drift")` → `/t/[tenant_slug]/drift`."""
    base = f"/t/[{TENANT_ARG}]"
    segment = segment.strip("/")
    return f"{base}/{segment}" if segment else base


RUN_DETAIL = tenant_route(f"operations/[{RUN_ARG}]")
POLICY_DETAIL = tenant_route(f"policies/[{POLICY_ARG}]")
BACKUP_SET_DETAIL = tenant_route(f"backup-sets/[{BACKUP_SET_ARG}]")
SCHEDULE_NEW = tenant_route("backup-schedules/new")
SCHEDULE_DETAIL = tenant_route(f"backup-schedules/[{SCHEDULE_ARG}]")
FINDING_DETAIL = tenant_route(f"drift/findings/[{FINDING_ARG}]")
RESTORE_DETAIL = tenant_route(f"restore/[{RESTORE_ARG}]")


def tenant_href(tenant_slug: str, segment: str = "") -> str:
    """Concrete URL of a tenant page, e.g. `tenant_href("contoso", "drift")` → `/t/contoso/drift`."""
    return tenant_path(tenant_slug, segment)


def safe_next(value: str | None) -> str:
    """A post-sign-in target that stays on this site: a path, never `//host` or a scheme."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return HOME
    return value


def login_href(next_path: str | None = None) -> str:
    """The sign-in page, remembering where to go back to afterwards."""
    target = safe_next(next_path)
    if target in (HOME, LOGIN) or target.startswith(LOGIN + "?"):
        return LOGIN
    return f"{LOGIN}?{urlencode({'next': target}, quote_via=quote)}"


def with_query(path: str, params: dict[str, str | int | None]) -> str:
    """`path?k=v…` with empty values left out, keys in a stable order (shareable, cache-friendly)."""
    kept = {k: str(v) for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path
