"""`opsapp restore create|preview|execute|show`: restores for operators who script them. JSON
out; the error rules of `ops` (one line on stderr; exit 2 bad input or a state that does not
allow it, 3 not allowed, 4 not found, 7 the task queue refused the run). Owners and managers
only (execute_restore), as on the page."""

from __future__ import annotations

import argparse
import asyncio

from opsapp.cli import MAX_INT64, _print_json, float_in, int_in
from opsapp.cli_backups import _add, _authorized, _csv
from opsapp.cli_errors import EXIT_NOT_FOUND, EXIT_USAGE, CliError


def _ids(text: str | None) -> list[int] | None:
    if text is None:
        return None
    ids = []
    for part in _csv(text):
        if not part.isascii() or not part.isdigit() or len(part) > 18 or int(part) < 1:
            raise CliError(f"--items takes backup item ids, got '{part[:20]}'", EXIT_USAGE)
        ids.append(int(part))
    return ids


def _restore_context(session, restore_id: int, email: str):
    """(tenant, user, restore) when `email` may restore in the restore's tenant."""
    from opsapp.models import RestoreRun, Tenant
    from opsapp.operations.access import Capability

    restore = session.get(RestoreRun, restore_id)
    if restore is None:
        raise CliError(f"no restore with id {restore_id}", EXIT_NOT_FOUND)
    slug = session.get(Tenant, restore.tenant_id).slug
    tenant, user = _authorized(session, slug, email, Capability.execute_restore)
    return tenant, user, restore


def _show(tenant_id: int, restore_id: int) -> dict:
    from opsapp.db import session_scope
    from opsapp.features.restore.queries import get_restore_detail

    with session_scope() as session:
        return get_restore_detail(session, tenant_id=tenant_id, restore_id=restore_id)


def cmd_create(args: argparse.Namespace) -> None:
    from opsapp.db import session_scope
    from opsapp.features.restore.drafts import Options, create_draft
    from opsapp.operations.access import Capability

    with session_scope() as session:
        tenant, user = _authorized(session, args.tenant, args.as_email, Capability.execute_restore)
        restore = create_draft(
            session,
            tenant_id=tenant.id,
            backup_set_id=args.backup_set,
            user_id=user.id,
            user_name=user.display_name or user.email,
            item_ids=_ids(args.items),
            options=Options(
                restore_assignments=not args.no_assignments,
                restore_scope_tags=not args.no_scope_tags,
                create_missing=not args.update_only,
            ),
        )
        tenant_id, restore_id = tenant.id, restore.id
    _print_json(_show(tenant_id, restore_id))


def cmd_preview(args: argparse.Namespace) -> None:
    from opsapp.db import session_scope
    from opsapp.features.restore.service import preview_restore

    with session_scope() as session:
        tenant, user, _restore = _restore_context(session, args.id, args.as_email)
    asyncio.run(
        preview_restore(
            tenant_id=tenant.id,
            restore_id=args.id,
            user_id=user.id,
            user_name=user.display_name or user.email,
        )
    )
    _print_json(_show(tenant.id, args.id))


async def _execute(tenant_id: int, restore_id: int):
    from opsapp.features.restore import adapter
    from opsapp.settings import get_settings
    from opsapp.worker.embedded import embedded_worker, get_dispatcher

    if get_settings().broker != "memory":
        return await adapter.execute(
            tenant_id=tenant_id, restore_id=restore_id, dispatcher=get_dispatcher()
        )
    async with embedded_worker(maintenance=False) as broker:
        done = await adapter.execute(
            tenant_id=tenant_id, restore_id=restore_id, dispatcher=get_dispatcher()
        )
        if done.dispatched:
            await broker.wait_all()  # the in-process task runs before the command exits
        return done


def cmd_execute(args: argparse.Namespace) -> None:
    from opsapp.cli_ops import _load, _wait_completed
    from opsapp.db import session_scope
    from opsapp.operations.serialize import run_to_dict

    with session_scope() as session:
        tenant, _user, _restore = _restore_context(session, args.id, args.as_email)
    done = asyncio.run(_execute(tenant.id, args.id))
    run = _load(done.run.id)
    if args.wait and run.status != "completed":
        run = asyncio.run(_wait_completed(run.id, args.timeout))
    _print_json(
        {
            "dispatched": done.dispatched,
            "run": run_to_dict(run, tenant_slug=tenant.slug),
            "restore": _show(tenant.id, args.id),
        }
    )


def cmd_show(args: argparse.Namespace) -> None:
    from opsapp.db import session_scope
    from opsapp.models import RestoreRun, Tenant

    with session_scope() as session:
        restore = session.get(RestoreRun, args.id)
        if restore is None:
            raise CliError(f"no restore with id {args.id}", EXIT_NOT_FOUND)
        tenant_id, slug = restore.tenant_id, session.get(Tenant, restore.tenant_id).slug
    detail = _show(tenant_id, args.id)
    detail["tenant"] = slug
    _print_json(detail)


def register(groups) -> None:
    """Add the `restore` group to the `opsapp` parser."""
    restore = groups.add_parser("restore", help="restores").add_subparsers(
        dest="cmd", required=True
    )
    restore_id = int_in(1, MAX_INT64, "a restore id")
    p = _add(restore, "create", cmd_create, "a draft restore of a backup set (JSON)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    p.add_argument("--backup-set", required=True, type=int_in(1, MAX_INT64, "a backup set id"))
    p.add_argument("--items", help="backup item ids, comma-separated (default: all)")
    p.add_argument("--no-assignments", action="store_true", help="do not restore assignments")
    p.add_argument("--no-scope-tags", action="store_true", help="do not restore scope tags")
    p.add_argument("--update-only", action="store_true", help="do not create missing policies")
    p = _add(restore, "preview", cmd_preview, "plan a restore against the live tenant")
    p.add_argument("id", type=restore_id)
    p.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    p = _add(restore, "execute", cmd_execute, "execute a previewed restore")
    p.add_argument("id", type=restore_id)
    p.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    p.add_argument("--wait", action="store_true", help="wait until the run completes")
    p.add_argument(
        "--timeout", type=float_in(0, 86_400), default=600.0, help="seconds --wait waits at most"
    )
    p = _add(restore, "show", cmd_show, "show a restore with its items")
    p.add_argument("id", type=restore_id)
