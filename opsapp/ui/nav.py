"""The one navigation source: sidebar groups, their entries and the tenant page each opens.

`segment` is the path below `/t/<tenant_slug>/`; routes.tenant_route(segment) is the page's route
and routes.tenant_href(slug, segment) its link, so a page added here needs no second list. Only
sections that exist are listed: a section lands here together with its page (no inert entries).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    label: str
    icon: str  # a Lucide icon name, as rx.icon takes it
    segment: str  # path below /t/<tenant_slug>/; "" is the tenant dashboard
    summary: str  # one line saying what the page is for


@dataclass(frozen=True)
class NavGroup:
    title: str
    items: tuple[NavItem, ...]


DASHBOARD = NavItem(
    "Dashboard", "layout_dashboard", "", "Counts, last syncs, active runs and recent failures."
)
INVENTORY = NavItem(
    "Inventory", "boxes", "inventory", "The last observed catalog of Intune objects."
)
POLICIES = NavItem(
    "Policies", "shield_check", "policies", "Supported policies and their captured versions."
)
GROUPS = NavItem("Groups", "users", "directory/groups", "Entra groups and their member counts.")
BACKUP_SETS = NavItem(
    "Backup sets", "archive", "backup-sets", "Named sets of captured policy versions."
)
BACKUP_SCHEDULES = NavItem(
    "Schedules",
    "calendar_clock",
    "backup-schedules",
    "Backups that run daily or weekly and keep the last N sets.",
)
RESTORE = NavItem(
    "Restore",
    "history",
    "restore",
    "Write a backup back to the tenant: preview, then execute.",
)
DRIFT = NavItem(
    "Drift",
    "git_compare",
    "drift",
    "What changed since a baseline backup, per policy and per setting.",
)
OPERATIONS = NavItem(
    "Operations",
    "activity",
    "operations",
    "Every tracked run with its status, progress, counts and failures.",
)

NAV: tuple[NavGroup, ...] = (
    NavGroup("Tenant", (DASHBOARD, INVENTORY, POLICIES)),
    NavGroup("Directory", (GROUPS,)),
    NavGroup("Backups", (BACKUP_SETS, BACKUP_SCHEDULES, RESTORE)),
    NavGroup("Drift", (DRIFT,)),
    NavGroup("Monitoring", (OPERATIONS,)),
)


def nav_items() -> tuple[NavItem, ...]:
    """Every entry in display order (route registration, tests)."""
    return tuple(item for group in NAV for item in group.items)
