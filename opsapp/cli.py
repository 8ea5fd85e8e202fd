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

from opsapp.cli_errors import EXIT_NOT_FOUND, EXIT_USAGE, CliError, one_line, translate

# Integers the database can hold (BIGINT); ids and offsets beyond are refused as bad input.
MAX_INT64 = 2**63 - 1
MAX_INPUTS_DEPTH = 32  # identity inputs are flat objects of lists; anything deeper is hostile
MAX_INPUTS_CHARS = 100_000


class Parser(argparse.ArgumentParser):
    """argparse with the CLI's error rule: one line on stderr, exit 2 (no usage block)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"opsapp: error: {self.prog}: {one_line(message)}\n")


def int_in(low: int, high: int, what: str = "a whole number") -> Callable[[str], int]:
    """An argparse type: a decimal integer in [low, high], else a one-line usage error."""

    def parse(text: str) -> int:
        raw = text.strip()
        digits = raw[1:] if raw[:1] in "+-" else raw
        if not digits.isascii() or not digits.isdigit():
            raise argparse.ArgumentTypeError(f"expected {what}, got '{raw[:40]}'")
        if len(digits) > 25 or not low <= int(raw) <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}")
        return int(raw)

    parse.__name__ = "integer"
    return parse


def float_in(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a finite number in [low, high]."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got '{text[:40]}'") from None
        if not low <= value <= high:  # also refuses nan and inf
            raise argparse.ArgumentTypeError(f"must be from {low:g} to {high:g}")
        return value

    parse.__name__ = "number"
    return parse


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def _depth(text: str) -> int:
    """The deepest bracket nesting of a JSON text (strings skipped), without recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _parse_json(text: str) -> dict[str, Any]:
    if len(text) > MAX_INPUTS_CHARS:
        raise CliError(f"--inputs is longer than {MAX_INPUTS_CHARS} characters", EXIT_USAGE)
    if _depth(text) > MAX_INPUTS_DEPTH:
        raise CliError(f"--inputs is nested more than {MAX_INPUTS_DEPTH} levels deep", EXIT_USAGE)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"--inputs is not valid JSON: {exc.msg} at position {exc.pos}", EXIT_USAGE
        ) from None
    except (RecursionError, ValueError):  # belt and braces: never a Python error name
        raise CliError("--inputs is not valid JSON", EXIT_USAGE) from None
    if not isinstance(value, dict):
        raise CliError('--inputs must be a JSON object such as {"policy_types": [...]}', EXIT_USAGE)
    return value


def _read_stdin_secret(what: str) -> str:
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise CliError(f"no {what} on standard input", EXIT_USAGE)
    return value


# --- commands -------------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> None:
    from opsapp.migrate import upgrade

    print(upgrade().describe(), file=sys.stderr)


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

    serve(
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        allow_remote=args.allow_remote,
    )


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

    print(prune_job(older_than_days=args.older_than_days))


def cmd_worker(args: argparse.Namespace) -> None:
    # One process execs the runner itself (its PID is the worker's: signals reach it directly).
    if args.workers == 1:
        os.execv(sys.executable, [sys.executable, "-m", "opsapp.worker.runner"])
    from opsapp.worker.runner import supervise

    sys.exit(supervise(args.workers))


def cmd_scheduler(args: argparse.Namespace) -> None:
    argv = [sys.executable, "-m", "taskiq", "scheduler", "opsapp.worker.scheduler:scheduler"]
    os.execv(sys.executable, argv)


# --- parser ---------------------------------------------------------------------------------


def _add(sub, name: str, handler: Callable, help_text: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(handler=handler)
    return parser


MAX_RETENTION_DAYS = 36_500  # a century: beyond, "older than" reaches before year 1


def build_parser() -> argparse.ArgumentParser:
    from opsapp.operations.status import STATE_BUCKETS
    from opsapp.roles import Role  # not opsapp.models: a usage error must not load the models

    parser = Parser(prog="opsapp", description="opsapp operator command line")
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
    p.add_argument("--port", type=int_in(1, 65535), default=8765)
    p.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="'warning' hides the per-request access log",
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        default=None,
        help="allow a non-loopback --host (the demo Graph's credentials are public)",
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
    p.add_argument(
        "--timeout", type=float_in(0, 86_400), default=600.0, help="seconds --wait waits at most"
    )
    p = _add(
        ops, "list", cmd_ops_list, "list a tenant's runs, newest first (last 30 days by default)"
    )
    p.add_argument("--tenant", required=True)
    p.add_argument("--type")
    p.add_argument("--state", choices=list(STATE_BUCKETS))
    p.add_argument(
        "--since",
        default="30d",
        help="only runs created in the last N minutes, hours, days or weeks: 90m, 12h, 30d (the "
        "last 30 days; the default) or 2w, without a sign; or 'all'",
    )
    p.add_argument("--initiator")
    p.add_argument("--limit", type=int_in(1, MAX_INT64), default=50)
    p.add_argument("--offset", type=int_in(0, MAX_INT64), default=0)
    p = _add(ops, "show", cmd_ops_show, "show one run")
    p.add_argument("id", type=int_in(1, MAX_INT64, "a run id"))
    p = _add(ops, "prune", cmd_ops_prune, "delete completed runs older than the retention period")
    p.add_argument(
        "--older-than-days", type=int_in(1, MAX_RETENTION_DAYS), default=None, help="1 to 36500"
    )

    p = _add(
        groups,
        "worker",
        cmd_worker,
        "run worker processes (Redis broker); SIGTERM stops them gracefully",
    )
    p.add_argument("--workers", type=int_in(1, 256), default=1, help="processes (1 to 256)")
    _add(
        groups,
        "scheduler",
        cmd_scheduler,
        "run the taskiq scheduler (every minute: fire due backup schedules, reap lost runs; "
        "daily: prune)",
    )
    from opsapp.cli_backups import register as register_backups

    register_backups(groups)  # policies, backup-sets, schedules
    from opsapp.cli_drift import register as register_drift

    register_drift(groups)
    from opsapp.cli_restore import register as register_restore

    register_restore(groups)
    from opsapp.cli_secrets import register as register_secrets

    register_secrets(groups)
    return parser


def _value_options(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string (of any sub-command) that takes exactly one value."""
    found: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _value_options(sub)
        elif action.option_strings and action.nargs is None:
            found.update(action.option_strings)
    return found


def _glue_dash_values(argv: list[str], value_options: set[str]) -> list[str]:
    """`--since -5d` → `--since=-5d`: a value that starts with '-' is still the option's value
    (argparse would take it for an option), unless it is itself an option."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out += argv[i:]
            break
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if (
            arg in value_options
            and nxt is not None
            and nxt.startswith("-")
            and nxt.split("=", 1)[0] not in value_options
            and nxt not in ("-h", "--help")
            and not nxt.startswith("--")
        ):
            out.append(f"{arg}={nxt}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def _check_text(argv: list[str]) -> None:
    for arg in argv:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:  # undecodable bytes on the command line (surrogateescape)
            raise CliError("arguments must be valid UTF-8 text", EXIT_USAGE) from None
        if "\x00" in arg:
            raise CliError("arguments must not contain NUL characters", EXIT_USAGE)


def _fail(exc: BaseException) -> int:
    message, code = translate(exc)
    print(f"opsapp: error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    from opsapp.logging_setup import install_cli_logging, install_log_sanitizer

    install_log_sanitizer()  # before anything may log (init_process installs it again: no-op)
    logs = install_cli_logging()  # warnings and errors of any library: one sanitized line each
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        _check_text(argv)
        args = parser.parse_args(_glue_dash_values(argv, _value_options(parser)))
    except CliError as exc:
        return _fail(exc)
    except SystemExit as exc:  # argparse: --help (0) or a usage error already printed (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        from opsapp.bootstrap import init_process

        init_process("cli")
        code = args.handler(args)  # None: success; an exit code when the result is incomplete
    except (Exception, KeyboardInterrupt) as exc:  # one sanitized line, never a traceback
        logs.finish(succeeded=False)
        return _fail(exc)
    logs.finish(succeeded=True)
    return code or 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
