"""Run notifications: "queued" and one terminal notification, to the initiator only, with safe
content. System runs (no initiator) notify nobody.

The "queued" notification is written with the run, in the start's own transaction (or its one
statement, opsapp.operations.start_statement); a dispatch that fails takes it back
(service._fail_dispatch), so it stands only for a run that really was queued.

The terminal notification is written by `add_completed` inside the transaction that completes
the run (opsapp.operations.lifecycle.complete_where), so a completed run always has it: no crash
can fall between the two."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from opsapp.models import Notification, OperationRun, Tenant
from opsapp.operations.catalog import OPERATION_TYPES, label_for
from opsapp.operations.links import view_run_path
from opsapp.operations.status import RunOutcome

_LEVELS = {
    RunOutcome.succeeded: "success",
    RunOutcome.partially_succeeded: "warning",
    RunOutcome.failed: "error",
    RunOutcome.cancelled: "info",
}


class Notifier(Protocol):
    """Sends "queued" some other way, after the dispatch (instead of the stored notification)."""

    def run_queued(self, run: OperationRun) -> None: ...


# Statements that write a notification together with its run (start_statement, the completion
# in lifecycle) build the texts in Python with these in place of the tenant's name and slug, and
# let the database fill them in from the tenants row (see `filled`).
TENANT_NAME, TENANT_SLUG = "⟪tenant⟫", "⟪slug⟫"
# What such a statement's INSERT … SELECT fills, in this order.
NOTE_COLUMNS = (
    "user_id",
    "tenant_id",
    "operation_run_id",
    "level",
    "title",
    "body",
    "link",
    "created_at",
)
PLACEHOLDER_TENANT = SimpleNamespace(name=TENANT_NAME, slug=TENANT_SLUG)


def filled(template: Any, replacements: Mapping[str, Any]) -> Any:
    """SQL: `template` (a string, or a bound parameter) with each placeholder replaced by a column expression, in order. Values
    go in after their placeholder was replaced, so a tenant name is never rewritten."""
    expr: Any = template if isinstance(template, sa.ColumnElement) else sa.literal(template)
    for placeholder, column in replacements.items():
        expr = sa.func.replace(expr, placeholder, sa.cast(column, sa.Text))
    return expr


def _counts_text(run: OperationRun) -> str:
    """The counts ("total 3, processed 3, failed 1") in the type's declared order (a JSONB column returns
    its keys in an order of its own, so the stored order is not the one to show)."""
    counts = run.summary_counts or {}
    op = OPERATION_TYPES.get(run.type)
    declared = op.summary_keys if op else ()
    keys = [k for k in declared if k in counts] + sorted(k for k in counts if k not in declared)
    return ", ".join(f"{k} {counts[k]}" for k in keys if counts[k]) or "no items"


def queued_title(run_type: str) -> str:
    return f"{label_for(run_type)} queued"


def build_queued(run: OperationRun, tenant: Tenant) -> Notification:
    label = label_for(run.type)
    return Notification(
        user_id=run.user_id,
        tenant_id=run.tenant_id,
        operation_run_id=run.id,
        level="info",
        title=queued_title(run.type),
        body=f"{label} for {tenant.name} is queued.",
        link=view_run_path(tenant.slug, run.id),
    )


def completed_texts(run: OperationRun, tenant: Tenant) -> dict[str, str]:
    """The terminal notification's level, title, body and link."""
    label = label_for(run.type)
    outcome = RunOutcome(run.outcome)
    body = f"{label} for {tenant.name}: {outcome.label.lower()} ({_counts_text(run)})."
    if run.failures:
        # Codes only: messages are safe, but a short notification should not carry them.
        codes = sorted({f.get("code", "internal.error") for f in run.failures})
        body += " Failures: " + ", ".join(codes[:3]) + "."
    return {
        "level": _LEVELS.get(outcome, "info"),
        "title": f"{label} {outcome.label.lower()}",
        "body": body[:1000],
        "link": view_run_path(tenant.slug, run.id),
    }


def build_completed(run: OperationRun, tenant: Tenant) -> Notification:
    return Notification(
        user_id=run.user_id,
        tenant_id=run.tenant_id,
        operation_run_id=run.id,
        **completed_texts(run, tenant),
    )


def add_completed(conn: Connection, run_ids: Sequence[int]) -> int:
    """Insert the terminal notification of each of `run_ids` that has an initiator, inside the
    caller's transaction (the one that completed them). Returns how many were written."""
    if not run_ids:
        return 0
    runs, tenants = OperationRun.__table__, Tenant.__table__
    rows = conn.execute(
        sa.select(
            runs.c.id,
            runs.c.tenant_id,
            runs.c.user_id,
            runs.c.type,
            runs.c.outcome,
            runs.c.summary_counts,
            runs.c.failures,
            tenants.c.name.label("tenant_name"),
            tenants.c.slug.label("tenant_slug"),
        )
        .join(tenants, tenants.c.id == runs.c.tenant_id)
        .where(runs.c.id.in_(list(run_ids)), runs.c.user_id.is_not(None))
    ).all()
    if not rows:
        return 0
    values = []
    for row in rows:
        run = SimpleNamespace(**row._mapping)
        tenant = SimpleNamespace(name=row.tenant_name, slug=row.tenant_slug)
        note = build_completed(run, tenant)  # type: ignore[arg-type]
        values.append(note.model_dump(exclude={"id"}))
    conn.execute(sa.insert(Notification.__table__), values)
    return len(values)
