"""The one place that builds run URLs: the canonical "View run" link and related links per type.

Routes are tenant-scoped (`/t/<slug>/…`) so a shared link names its tenant and access checks can
answer 404 for anyone outside it.
"""

from __future__ import annotations

from typing import Any

from opsapp.operations.catalog import OPERATION_TYPES
from opsapp.settings import get_settings


def tenant_path(tenant_slug: str, *parts: Any) -> str:
    tail = "/".join(str(p).strip("/") for p in parts if p not in (None, ""))
    return f"/t/{tenant_slug}/{tail}" if tail else f"/t/{tenant_slug}"


def operations_path(tenant_slug: str) -> str:
    return tenant_path(tenant_slug, "operations")


def view_run_path(tenant_slug: str, run_id: int) -> str:
    """Path of the run detail page — what every "View run" button and notification links to."""
    return tenant_path(tenant_slug, "operations", run_id)


def absolute(path: str) -> str:
    """Prefix OPSAPP_BASE_URL when one is configured (CLI output, e-mails)."""
    base = get_settings().base_url.rstrip("/")
    return f"{base}{path}" if base else path


def _related_target(kind: str, tenant_slug: str, inputs: dict[str, Any]) -> tuple[str, str] | None:
    if kind == "inventory":
        return "Inventory", tenant_path(tenant_slug, "inventory")
    if kind == "policies":
        return "Policies", tenant_path(tenant_slug, "policies")
    if kind == "groups":
        return "Directory groups", tenant_path(tenant_slug, "directory", "groups")
    if kind == "drift":
        baseline = inputs.get("baseline_id")
        query = f"?baseline={baseline}" if baseline else ""
        return "Drift findings", tenant_path(tenant_slug, "drift") + query
    if kind == "backup_set" and inputs.get("backup_set_id"):
        return "Backup set", tenant_path(tenant_slug, "backup-sets", inputs["backup_set_id"])
    if kind == "backup_schedule" and inputs.get("schedule_id"):
        return "Backup schedule", tenant_path(
            tenant_slug, "backup-schedules", inputs["schedule_id"]
        )
    if kind == "restore_run" and inputs.get("restore_run_id"):
        return "Restore run", tenant_path(tenant_slug, "restore", inputs["restore_run_id"])
    return None


def related_links(
    *, tenant_slug: str, run_type: str, context: dict[str, Any]
) -> list[dict[str, str]]:
    """Links a run detail page shows next to the run: the page the work belongs to, and more."""
    links = [{"label": "All operations", "url": operations_path(tenant_slug)}]
    op = OPERATION_TYPES.get(run_type)
    inputs = (context or {}).get("inputs") or {}
    target = _related_target(op.related, tenant_slug, inputs) if op else None
    if target:
        links.insert(0, {"label": target[0], "url": target[1]})
    produced = (context or {}).get("produced") or {}
    if produced.get("backup_set_id") and inputs.get("backup_set_id") is None:
        links.insert(
            1,
            {
                "label": "Backup set made by this run",
                "url": tenant_path(tenant_slug, "backup-sets", produced["backup_set_id"]),
            },
        )
    retried = inputs.get("retried_run_id")
    if retried:
        links.append({"label": "Retried run", "url": view_run_path(tenant_slug, retried)})
    return links
