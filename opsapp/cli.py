"""The `opsapp` command line for operators. Output is JSON where a machine may read it; errors
are one line on stderr with a non-zero exit, and a failed command creates nothing."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from opsapp.cli_errors import EXIT_NOT_FOUND, EXIT_USAGE, CliError, translate


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def _parse_json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"--inputs is not valid JSON: {exc.msg} at position {exc.pos}", EXIT_USAGE
        ) from None
    if not isinstance(value, dict):
        raise CliError(
            '--inputs must be a JSON object, e.g. \'{"policy_types": ["deviceConfiguration"]}\'',
            EXIT_USAGE,
        )
    return value


def _read_stdin_secret(what: str) -> str:
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise CliError(f"no {what} on standard input", EXIT_USAGE)
    return value


# --- commands -------------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> None:
    from opsapp.migrate import upgrade

    upgrade()
    print("database is up to date", file=sys.stderr)


def cmd_demo_seed(args: argparse.Namespace) -> None:
    from opsapp.demo_seed import seed_demo

    result = seed_demo()
    if args.json:
        _print_json(result)
        return
    for tenant in result["tenants"]:
        print(f"tenant  {tenant['slug']:<12} {tenant['name']}")
    for user in result["users"]:
        shown = user["password"] if user.get("password") else "(unchanged)"
        print(
            f"user    {user['email']:<28} password {shown:<24} {user['role']} in {user['tenant']}"
        )
    history = result.get("history") or {}
    if history.get("skipped"):
        print(f"history not seeded ({history['skipped']})")
    else:
        print(f"history {history.get('runs', 0)} completed demo runs over the last 30 days")


def cmd_demo_graph(args: argparse.Namespace) -> None:
    from opsapp.graph.demo.server import serve

    serve(host=args.host, port=args.port, log_level=args.log_level)


def cmd_tenants_create(args: argparse.Namespace) -> None:
    from opsapp.db import session_scope
    from opsapp.models import ProviderKind
    from opsapp.tenancy import create_tenant

    secret = _read_stdin_secret("client secret") if args.client_secret_stdin else None
    provider = ProviderKind.client_credentials if secret else ProviderKind.demo
    if secret and not (args.client_id and args.entra_tenant_id):
        raise CliError(
            "--client-id and --entra-tenant-id are required with a client secret", EXIT_USAGE
        )
    with session_scope() as session:
        tenant = create_tenant(
            session,
            slug=args.slug,
            name=args.name,
            entra_tenant_id=args.entra_tenant_id or "",
            provider=provider,
            client_id=args.client_id or "",
            client_secret=secret,
        )
        _print_json(
            {
                "id": tenant.id,
                "slug": tenant.slug,
                "name": tenant.name,
                "provider": tenant.provider,
                "entra_tenant_id": tenant.entra_tenant_id,
                "has_client_secret": bool(secret),
            }
        )


def cmd_users_create(args: argparse.Namespace) -> None:
    from opsapp.db import session_scope
    from opsapp.tenancy import create_user, get_tenant_by_slug, set_membership

    password = _read_stdin_secret("password") if args.password_stdin else None
    if password is None:
        raise CliError("pass the password on standard input with --password-stdin", EXIT_USAGE)
    with session_scope() as session:
        tenant = get_tenant_by_slug(session, args.tenant)
        if tenant is None:
            raise CliError(f"no tenant with slug '{args.tenant}'", EXIT_NOT_FOUND)
        user = create_user(
            session, email=args.email, password=password, display_name=args.name or ""
        )
        set_membership(session, tenant=tenant, user=user, role=args.role)
        _print_json(
            {
                "id": user.id,
                "email": user.email,
                "display_name": user.display_name,
                "tenant": tenant.slug,
                "role": args.role,
            }
        )


def _tenant_and_user(session, slug: str, email: str | None):
    from opsapp.tenancy import get_tenant_by_slug, get_user_by_email

    tenant = get_tenant_by_slug(session, slug)
    if tenant is None:
        raise CliError(f"no tenant with slug '{slug}'", EXIT_NOT_FOUND)
    user = get_user_by_email(session, email) if email else None
    if email and user is None:
        raise CliError(f"no user with e-mail '{email}'", EXIT_NOT_FOUND)
    return tenant, user


def cmd_ops_start(args: argparse.Namespace) -> None:
    from opsapp.db import session_scope

    inputs = _parse_json(args.inputs)
    with session_scope() as session:
        tenant, user = _tenant_and_user(session, args.tenant, args.as_email)
    from opsapp.cli_ops import start_from_cli

    _print_json(
        asyncio.run(
            start_from_cli(
                tenant=tenant,
                user=user,
                run_type=args.type,
                inputs=inputs,
                wait=args.wait,
                timeout=args.timeout,
            )
        )
    )


def cmd_ops_list(args: argparse.Namespace) -> None:
    from opsapp.db import session_scope
    from opsapp.operations.queries import RunFilters, list_runs, parse_since
    from opsapp.operations.serialize import run_to_dict

    since = None if args.since == "all" else parse_since(args.since)
    filters = RunFilters(
        type=args.type,
        state=args.state,
        since=since,
        initiator=args.initiator,
        limit=args.limit,
        offset=args.offset,
    )
    with session_scope() as session:
        tenant, _ = _tenant_and_user(session, args.tenant, None)
        runs = list_runs(session, tenant_id=tenant.id, filters=filters)
        _print_json([run_to_dict(r, tenant_slug=tenant.slug) for r in runs])


def cmd_ops_show(args: argparse.Namespace) -> None:
    from opsapp.db import session_scope
    from opsapp.models import OperationRun, Tenant
    from opsapp.operations.serialize import run_to_dict

    with session_scope() as session:
        run = session.get(OperationRun, args.id)
        if run is None:
            raise CliError(f"no operation run with id {args.id}", EXIT_NOT_FOUND)
        _print_json(run_to_dict(run, tenant_slug=session.get(Tenant, run.tenant_id).slug))


def cmd_ops_prune(args: argparse.Namespace) -> None:
    from opsapp.operations.retention import prune_job

    if args.older_than_days is not None and args.older_than_days < 1:
        raise CliError("--older-than-days must be at least 1", EXIT_USAGE)
    print(prune_job(older_than_days=args.older_than_days))


def cmd_worker(args: argparse.Namespace) -> None:
    argv = [
        sys.executable,
        "-m",
        "taskiq",
        "worker",
        "opsapp.worker.app:broker",
        "--workers",
        str(args.workers),
    ]
    os.execv(sys.executable, argv)


def cmd_scheduler(args: argparse.Namespace) -> None:
    argv = [sys.executable, "-m", "taskiq", "scheduler", "opsapp.worker.scheduler:scheduler"]
    os.execv(sys.executable, argv)


# --- parser ---------------------------------------------------------------------------------


def _add(sub, name: str, handler: Callable, help_text: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    from opsapp.models import Role
    from opsapp.operations.status import STATE_BUCKETS

    parser = argparse.ArgumentParser(prog="opsapp", description="opsapp operator command line")
    groups = parser.add_subparsers(dest="group", required=True)

    db = groups.add_parser("db", help="database").add_subparsers(dest="cmd", required=True)
    _add(db, "upgrade", cmd_db_upgrade, "apply all migrations to DATABASE_URL")

    demo = groups.add_parser("demo", help="demo data and the demo Graph").add_subparsers(
        dest="cmd", required=True
    )
    p = _add(demo, "seed", cmd_demo_seed, "create the demo tenants and users (idempotent)")
    p.add_argument("--json", action="store_true", help="print what was created as JSON")
    p = _add(demo, "graph", cmd_demo_graph, "serve the demo Graph over HTTP")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="'warning' hides the per-request access log",
    )

    tenants = groups.add_parser("tenants", help="tenants").add_subparsers(dest="cmd", required=True)
    p = _add(tenants, "create", cmd_tenants_create, "create a tenant")
    p.add_argument("slug")
    p.add_argument("--name", required=True)
    p.add_argument("--entra-tenant-id")
    p.add_argument("--client-id")
    p.add_argument(
        "--client-secret-stdin", action="store_true", help="read the client secret from stdin"
    )

    users = groups.add_parser("users", help="users").add_subparsers(dest="cmd", required=True)
    p = _add(users, "create", cmd_users_create, "create a user and give them a role in a tenant")
    p.add_argument("email")
    p.add_argument("--tenant", required=True)
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    ops = groups.add_parser("ops", help="operation runs").add_subparsers(dest="cmd", required=True)
    p = _add(ops, "start", cmd_ops_start, "start an operation (or reuse the active identical run)")
    p.add_argument("type")
    p.add_argument("--tenant", required=True)
    p.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    p.add_argument("--inputs", default="{}", help="identity inputs as a JSON object")
    p.add_argument("--wait", action="store_true", help="wait until the run completes")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds --wait waits at most")
    p = _add(
        ops, "list", cmd_ops_list, "list a tenant's runs, newest first (last 30 days by default)"
    )
    p.add_argument("--tenant", required=True)
    p.add_argument("--type")
    p.add_argument("--state", choices=list(STATE_BUCKETS))
    p.add_argument("--since", default="30d", help="time range such as 12h, 30d, 2w, or 'all'")
    p.add_argument("--initiator")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--offset", type=int, default=0)
    p = _add(ops, "show", cmd_ops_show, "show one run")
    p.add_argument("id", type=int)
    p = _add(ops, "prune", cmd_ops_prune, "delete completed runs older than the retention period")
    p.add_argument("--older-than-days", type=int, default=None)

    p = _add(groups, "worker", cmd_worker, "run a taskiq worker (Redis broker)")
    p.add_argument("--workers", type=int, default=1)
    _add(
        groups,
        "scheduler",
        cmd_scheduler,
        "run the taskiq scheduler (every minute: fire due backup schedules, reap lost runs; "
        "daily: prune)",
    )
    from opsapp.cli_backups import register as register_backups

    register_backups(groups)  # policies, backup-sets, schedules
    from opsapp.cli_secrets import register as register_secrets

    register_secrets(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from opsapp.bootstrap import init_process

        init_process("cli")
        args.handler(args)
    except Exception as exc:  # every failure is one sanitized line, never a traceback dump
        message, code = translate(exc)
        print(f"opsapp: error: {message}", file=sys.stderr)
        return code
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
