"""`opsapp policies …`, `opsapp backup-sets …`, `opsapp schedules …`: backups for operators who
script them. JSON out; the error rules of `ops` (one line on stderr; exit 2 bad input, 3 not
allowed, 4 not found; a failed command creates nothing). Items are added and removed by runs:
`opsapp ops start backup_set.add_policies --inputs '{"backup_set_id": …, "policy_ids": […]}'`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from opsapp.cli import MAX_INT64, _print_json, int_in
from opsapp.cli_errors import EXIT_NOT_FOUND, EXIT_USAGE, CliError
from opsapp.paging import MAX_PAGE, MAX_PAGE_SIZE


def _tenant(session, slug: str):
    from opsapp.tenancy import get_tenant_by_slug

    tenant = get_tenant_by_slug(session, slug)
    if tenant is None:
        raise CliError(f"no tenant with slug '{slug}'", EXIT_NOT_FOUND)
    return tenant


def _authorized(session, slug: str, email: str, capability) -> tuple[Any, Any]:
    """(tenant, user) when `email` may do `capability` in the tenant; else exit 4 / 3."""
    from opsapp.operations.access import authorize
    from opsapp.tenancy import get_user_by_email

    tenant = _tenant(session, slug)
    user = get_user_by_email(session, email)
    if user is None:
        raise CliError(f"no user with e-mail '{email}'", EXIT_NOT_FOUND)
    authorize(session, user_id=user.id, tenant_id=tenant.id, capability=capability)
    return tenant, user


def _paging(args: argparse.Namespace) -> dict[str, int]:
    if args.page < 1:
        raise CliError("--page must be at least 1", EXIT_USAGE)
    if not 1 <= args.page_size <= MAX_PAGE_SIZE:
        raise CliError(f"--page-size must be from 1 to {MAX_PAGE_SIZE}", EXIT_USAGE)
    return {"page": args.page, "page_size": args.page_size}


def _csv(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


# --- commands -------------------------------------------------------------------------------


def cmd_policies_list(args: argparse.Namespace) -> None:
    from opsapp.db import session_scope
    from opsapp.features.policies.queries import list_policies
    from opsapp.policy_types import POLICY_TYPES_BY_KEY

    if args.type and args.type not in POLICY_TYPES_BY_KEY:
        raise CliError(
            f"unknown policy type '{args.type[:64]}'; known: {', '.join(sorted(POLICY_TYPES_BY_KEY))}",
            EXIT_USAGE,
        )
    with session_scope() as session:
        tenant = _tenant(session, args.tenant)
        page = list_policies(
            session,
            tenant_id=tenant.id,
            search=args.search or "",
            policy_type=args.type,
            **_paging(args),
        )
        _print_json(page.to_dict())


def cmd_sets_create(args: argparse.Namespace) -> None:
    from opsapp.db import session_scope
    from opsapp.features.backups.queries import get_backup_set_detail
    from opsapp.features.backups.sets import create_backup_set
    from opsapp.operations.access import Capability

    with session_scope() as session:
        tenant, user = _authorized(session, args.tenant, args.as_email, Capability.start_operations)
        backup_set = create_backup_set(
            session, tenant_id=tenant.id, name=args.name, user_id=user.id
        )
        _print_json(get_backup_set_detail(session, tenant_id=tenant.id, set_id=backup_set.id))


def cmd_sets_list(args: argparse.Namespace) -> None:
    from opsapp.db import session_scope
    from opsapp.features.backups.queries import list_backup_sets

    with session_scope() as session:
        tenant = _tenant(session, args.tenant)
        page = list_backup_sets(
            session, tenant_id=tenant.id, search=args.search or "", **_paging(args)
        )
        _print_json(page.to_dict())


def cmd_sets_show(args: argparse.Namespace) -> None:
    from opsapp.db import session_scope
    from opsapp.features.backups.queries import get_backup_set_detail, list_backup_items
    from opsapp.models import BackupSet, Tenant

    with session_scope() as session:
        backup_set = session.get(BackupSet, args.id)
        if backup_set is None:
            raise CliError(f"no backup set with id {args.id}", EXIT_NOT_FOUND)
        tenant_id = backup_set.tenant_id
        detail = get_backup_set_detail(session, tenant_id=tenant_id, set_id=args.id)
        detail["tenant"] = session.get(Tenant, tenant_id).slug
        items, page = [], 1
        while True:
            chunk = list_backup_items(
                session, tenant_id=tenant_id, set_id=args.id, page=page, page_size=MAX_PAGE_SIZE
            )
            items += chunk.rows
            if not chunk.has_next:
                break
            page += 1
        detail["items"] = items
        _print_json(detail)


def cmd_schedules_create(args: argparse.Namespace) -> None:
    from opsapp.db import session_scope
    from opsapp.features.backups.queries import schedule_row
    from opsapp.features.backups.schedules import ScheduleInput, create_schedule
    from opsapp.operations.access import Capability

    data = ScheduleInput(
        name=args.name,
        frequency=args.frequency,
        weekdays=_csv(args.weekdays),
        time_of_day=args.time,
        timezone=args.timezone,
        policy_types=_csv(args.policy_types),
        keep_last=args.keep,
        enabled=not args.disabled,
    )
    with session_scope() as session:
        tenant, user = _authorized(session, args.tenant, args.as_email, Capability.manage_schedules)
        schedule = create_schedule(session, tenant_id=tenant.id, data=data, user_id=user.id)
        _print_json(schedule_row(session, schedule))


def cmd_schedules_list(args: argparse.Namespace) -> None:
    from opsapp.db import session_scope
    from opsapp.features.backups.queries import list_schedules

    with session_scope() as session:
        tenant = _tenant(session, args.tenant)
        _print_json(list_schedules(session, tenant_id=tenant.id, **_paging(args)).to_dict())


# --- parser ---------------------------------------------------------------------------------


def _add(sub, name: str, handler: Callable, help_text: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(handler=handler)
    return parser


def _pages(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--page", type=int_in(1, MAX_PAGE), default=1)
    parser.add_argument(
        "--page-size", type=int_in(1, MAX_PAGE_SIZE), default=100, help=f"at most {MAX_PAGE_SIZE}"
    )


def register(groups) -> None:
    """Add the `policies`, `backup-sets` and `schedules` groups to the `opsapp` parser."""
    policies = groups.add_parser("policies", help="captured policies").add_subparsers(
        dest="cmd", required=True
    )
    p = _add(policies, "list", cmd_policies_list, "list a tenant's policies (JSON)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--type", help="a policy type key, e.g. deviceConfiguration")
    p.add_argument("--search", help="part of the name")
    _pages(p)

    sets = groups.add_parser("backup-sets", help="backup sets").add_subparsers(
        dest="cmd", required=True
    )
    p = _add(sets, "create", cmd_sets_create, "create an empty backup set")
    p.add_argument("name")
    p.add_argument("--tenant", required=True)
    p.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    p = _add(sets, "list", cmd_sets_list, "list a tenant's backup sets, newest first")
    p.add_argument("--tenant", required=True)
    p.add_argument("--search")
    _pages(p)
    p = _add(sets, "show", cmd_sets_show, "show one backup set with its items")
    p.add_argument("id", type=int_in(1, MAX_INT64, "a backup set id"))

    schedules = groups.add_parser("schedules", help="backup schedules").add_subparsers(
        dest="cmd", required=True
    )
    p = _add(schedules, "create", cmd_schedules_create, "create a backup schedule")
    p.add_argument("--tenant", required=True)
    p.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    p.add_argument("--name", required=True)
    p.add_argument("--frequency", required=True, help="daily or weekly")
    p.add_argument("--weekdays", help="weekly only, e.g. mon,thu")
    p.add_argument("--time", required=True, help="HH:MM, 24-hour, in --timezone")
    p.add_argument("--timezone", required=True, help="IANA zone, e.g. Europe/Berlin")
    p.add_argument("--policy-types", required=True, help="comma-separated type keys")
    p.add_argument("--keep", required=True, help="keep the last N sets")
    p.add_argument("--disabled", action="store_true", help="create it disabled")
    p = _add(schedules, "list", cmd_schedules_list, "list a tenant's backup schedules")
    p.add_argument("--tenant", required=True)
    _pages(p)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: python -m opsapp.cli …")
