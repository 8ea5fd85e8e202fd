"""`opsapp drift findings|acknowledge`: drift findings for operators who script them. JSON out;
the error rules of `ops` (one line on stderr; exit 2 bad input, 3 not allowed, 4 not found).
Generation is a run like any other:
`opsapp ops start drift.generate --tenant SLUG --as EMAIL --inputs '{"baseline_id": …}' --wait`."""

from __future__ import annotations

import argparse

from opsapp.cli import MAX_INT64, _print_json, int_in
from opsapp.cli_backups import _add, _authorized, _tenant
from opsapp.cli_errors import EXIT_NOT_FOUND, CliError


def cmd_findings(args: argparse.Namespace) -> None:
    from opsapp.db import session_scope
    from opsapp.features.drift import queries

    with session_scope() as session:
        tenant = _tenant(session, args.tenant)
        if args.baseline is None:
            baselines = queries.list_baselines(session, tenant_id=tenant.id)
            if not baselines:
                raise CliError(f"tenant '{tenant.slug}' has no backup set", EXIT_NOT_FOUND)
            baseline_id = baselines[0]["id"]  # the page's default: the newest set
        else:
            baseline_id = args.baseline
        baseline = queries.get_baseline(session, tenant_id=tenant.id, baseline_id=baseline_id)
        if baseline is None:
            raise CliError(
                f"no backup set with id {baseline_id} in '{tenant.slug}'", EXIT_NOT_FOUND
            )
        findings = queries.all_findings(
            session,
            tenant_id=tenant.id,
            baseline_id=baseline.id,
            state=args.state or "all",
            kind=args.kind,
        )
        _print_json(
            {
                "tenant": tenant.slug,
                "baseline": {"id": baseline.id, "name": baseline.name},
                "count": len(findings),
                "findings": findings,
            }
        )


def cmd_acknowledge(args: argparse.Namespace) -> None:
    from opsapp.db import session_scope
    from opsapp.features.drift.findings import acknowledge
    from opsapp.models import DriftFinding, Tenant
    from opsapp.operations.access import Capability

    with session_scope() as session:
        first = session.get(DriftFinding, args.ids[0])
        if first is None:
            raise CliError(f"no drift finding with id {args.ids[0]}", EXIT_NOT_FOUND)
        slug = session.get(Tenant, first.tenant_id).slug
        tenant, user = _authorized(session, slug, args.as_email, Capability.start_operations)
        result = acknowledge(
            session,
            tenant_id=tenant.id,
            finding_ids=args.ids,
            user_id=user.id,
            user_name=user.display_name or user.email,
            note=args.note,
        )
        if result.not_found:
            # An unknown id (or another tenant's) refuses the whole command: raising rolls the
            # acknowledgement back, so nothing is written.
            missing = ", ".join(str(i) for i in result.not_found[:10])
            raise CliError(f"no drift finding with id {missing} in '{slug}'", EXIT_NOT_FOUND)
        _print_json(result.to_json())


def register(groups) -> None:
    """Add the `drift` group to the `opsapp` parser."""
    drift = groups.add_parser("drift", help="drift findings").add_subparsers(
        dest="cmd", required=True
    )
    p = _add(drift, "findings", cmd_findings, "a baseline's drift findings (JSON)")
    p.add_argument("--tenant", required=True)
    p.add_argument(
        "--baseline",
        type=int_in(1, MAX_INT64, "a backup set id"),
        help="backup set id (default: the newest set)",
    )
    p.add_argument("--state", choices=("new", "acknowledged", "resolved", "open", "all"))
    p.add_argument("--kind", choices=("added", "removed", "modified"))
    p = _add(drift, "acknowledge", cmd_acknowledge, "acknowledge new drift findings")
    p.add_argument("ids", nargs="+", type=int_in(1, MAX_INT64, "a finding id"), metavar="ID")
    p.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    p.add_argument("--note", help="why the drift is accepted (at most 1,000 characters)")
