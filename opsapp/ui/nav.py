"""The one navigation source: sidebar groups, their entries and the tenant page each opens.

`segment` is the path below `/t/<tenant_slug>/`; routes.tenant_route(segment) is the page's route
and routes.tenant_href(slug, segment) its link, so a page added here needs no second list.
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


NAV: tuple[NavGroup, ...] = (
    NavGroup(
        "Tenant",
        (
            NavItem(
                "Dashboard",
                "layout_dashboard",
                "",
                "Counts, last syncs, active runs and recent failures.",
            ),
            NavItem(
                "Inventory",
                "boxes",
                "inventory",
                "The last observed catalog of Intune objects.",
            ),
            NavItem(
                "Policies",
                "shield_check",
                "policies",
                "Supported policies and their captured versions.",
            ),
        ),
    ),
    NavGroup(
        "Directory",
        (
            NavItem(
                "Groups",
                "users",
                "directory/groups",
                "Entra groups and their member counts.",
            ),
        ),
    ),
    NavGroup(
        "Drift & backup",
        (
            NavItem(
                "Drift",
                "git_compare",
                "drift",
                "Differences between a baseline and the current configuration.",
            ),
            NavItem(
                "Backup sets",
                "archive",
                "backup-sets",
                "Named sets of captured policy versions.",
            ),
            NavItem(
                "Backup schedules",
                "calendar_clock",
                "backup-schedules",
                "Recurring backups with retention.",
            ),
            NavItem(
                "Restore",
                "rotate_ccw",
                "restore",
                "Preview and restore items from a backup set.",
            ),
        ),
    ),
    NavGroup(
        "Monitoring",
        (
            NavItem(
                "Operations",
                "activity",
                "operations",
                "Every tracked run with its status, progress, counts and failures.",
            ),
        ),
    ),
)


def nav_items() -> tuple[NavItem, ...]:
    """Every entry in display order (route registration, tests)."""
    return tuple(item for group in NAV for item in group.items)
