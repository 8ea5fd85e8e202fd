"""A user's start on PostgreSQL in ONE statement and one round trip (autocommit).

The general path (opsapp.operations.service) costs three transactions: authorize and read the
initiator, insert-or-find the run, write the "queued" notification. Here one data-modifying
`WITH` does all of it:

    who       the tenant, the user's display name — only if the user is a member whose role has
              the type's capability;
    existing  the active run of this identity, unless it looks lost (the reaper's predicate);
    ins       INSERT … SELECT FROM who WHERE NOT EXISTS (existing) ON CONFLICT DO NOTHING;
    note      the "queued" notification for the new run (what build_queued writes);

and returns the new run, or the existing one. It returns NO row whenever anything is unusual —
not a member, no capability, a lost active run to reap, a concurrent start that won the insert
— and the caller then takes the general path, which raises the right error or settles the
identity exactly as before. Same guarantees, fewer trips: the partial unique index still decides
between racing starts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Engine

from opsapp.db_direct import DirectStatement
from opsapp.models import Membership, Notification, OperationRun, Role, Tenant, User
from opsapp.models.operations import ACTIVE_PREDICATE, detached_run
from opsapp.models.types import as_utc
from opsapp.operations import outbox
from opsapp.operations.access import Capability, can
from opsapp.operations.catalog import OperationType
from opsapp.operations.identity import identity_hash
from opsapp.operations.notifications import (
    NOTE_COLUMNS,
    PLACEHOLDER_TENANT,
    TENANT_NAME,
    TENANT_SLUG,
    build_queued,
    filled,
)
from opsapp.operations.reaper import lost_clause, thresholds
from opsapp.operations.status import RunOutcome, RunStatus

_RUNS, _NOTES = OperationRun.__table__, Notification.__table__
_TENANTS, _USERS, _MEMBERS = Tenant.__table__, User.__table__, Membership.__table__
# The new run's id is unknown until the INSERT: a placeholder too (see _queued_templates).
_ID = "999999999999"


@dataclass(frozen=True)
class QuickStart:
    run: OperationRun
    created: bool
    tenant_slug: str


def usable(engine: Engine, op: OperationType, user_id: int | None) -> bool:
    """Whether a start can take this path: PostgreSQL, a user, a type without a precheck
    (prechecks are Python), started by users at all."""
    return (
        engine.dialect.name == "postgresql"
        and user_id is not None
        and not op.precheck
        and op.user_startable
    )


def _queued_templates(run_type: str) -> dict[str, str]:
    """build_queued's texts with placeholders for what only the statement knows (tenant name and
    slug, the new run's id), so the notification reads exactly like the general path's."""
    run = SimpleNamespace(type=run_type, user_id=0, tenant_id=0, id=int(_ID))
    note = build_queued(run, PLACEHOLDER_TENANT)  # type: ignore[arg-type]
    return {"level": note.level, "title": note.title, "body": note.body, "link": note.link}


@lru_cache(maxsize=64)
def _statement(run_type: str, roles: tuple[str, ...], held: bool) -> DirectStatement:
    """The statement for one run type, compiled once and run on the driver's cursor (see
    opsapp.db_direct: SQLAlchemy's execution machinery cost more than the round trip)."""
    runs = _RUNS
    who = (
        sa.select(
            _TENANTS.c.id.label("tenant_id"),
            _TENANTS.c.slug,
            _TENANTS.c.name,
            sa.func.coalesce(sa.func.nullif(_USERS.c.display_name, ""), _USERS.c.email).label(
                "initiator"
            ),
        )
        .join(_MEMBERS, _MEMBERS.c.tenant_id == _TENANTS.c.id)
        .join(_USERS, _USERS.c.id == _MEMBERS.c.user_id)
        .where(
            _TENANTS.c.id == sa.bindparam("tenant_id"),
            _MEMBERS.c.user_id == sa.bindparam("user_id"),
            # Inline: the roles are fixed per statement (an expanding parameter re-renders it).
            _MEMBERS.c.role.in_([sa.literal_column(f"'{Role(role).value}'") for role in roles]),
        )
        .cte("who")
    )
    now = sa.bindparam("now", type_=runs.c.created_at.type)
    lost = lost_clause(
        now,
        lost_after=sa.bindparam("lost_after", type_=sa.Interval()),
        queued_timeout=sa.bindparam("queued_timeout", type_=sa.Interval()),
    )
    # Whole rows travel as `*`: spelling out every column four times made the statement longer
    # than psycopg caches parsed queries for (4 KB), and parsing it cost more than running it.
    existing = (
        sa.select(sa.literal_column("operation_runs.*"))
        .select_from(runs)
        .where(
            runs.c.tenant_id == sa.bindparam("tenant_id"),
            runs.c.run_identity_hash == sa.bindparam("run_hash"),
            ACTIVE_PREDICATE,
            sa.not_(lost),
        )
        .cte("existing")
    )
    values = {
        "tenant_id": who.c.tenant_id,
        "user_id": sa.bindparam("user_id"),
        "initiator_name": who.c.initiator,
        "type": sa.literal(run_type),
        "status": sa.literal(RunStatus.queued.value),
        "outcome": sa.literal(RunOutcome.pending.value),
        "run_identity_hash": sa.bindparam("run_hash"),
        "summary_counts": sa.bindparam("summary_counts", type_=runs.c.summary_counts.type),
        "failures": sa.bindparam("failures", type_=runs.c.failures.type),
        "context": sa.bindparam("context", type_=runs.c.context.type),
        "created_at": now,
        "updated_at": now,
        "attempts": sa.literal(0),
        "next_send_at": sa.null()
        if held
        else sa.bindparam("next_send_at", type_=runs.c.created_at.type),
    }
    ins = (
        pg_insert(runs)
        .from_select(
            list(values),
            sa.select(*values.values())
            .select_from(who)
            .where(~sa.exists(sa.select(sa.literal_column("1")).select_from(existing))),
        )
        .on_conflict_do_nothing(
            index_elements=["tenant_id", "run_identity_hash"], index_where=ACTIVE_PREDICATE
        )
        .returning(sa.literal_column("*"))
        .cte("ins")
    )
    text = _queued_templates(run_type)
    note = (
        sa.insert(_NOTES)
        .from_select(
            NOTE_COLUMNS,
            sa.select(
                sa.literal_column("ins.user_id"),
                sa.literal_column("ins.tenant_id"),
                sa.literal_column("ins.id"),
                sa.literal(text["level"]),
                filled(text["title"], {TENANT_NAME: who.c.name}),
                filled(text["body"], {TENANT_NAME: who.c.name}),
                filled(text["link"], {_ID: sa.literal_column("ins.id"), TENANT_SLUG: who.c.slug}),
                now,
            ).select_from(ins.join(who, sa.true())),
        )
        .cte("note")
    )
    created = sa.select(
        sa.true().label("created"), who.c.slug, sa.literal_column("ins.*")
    ).select_from(ins.join(who, sa.true()))
    found = sa.select(
        sa.false().label("created"), who.c.slug, sa.literal_column("existing.*")
    ).select_from(existing.join(who, sa.true()))
    return DirectStatement(sa.union_all(created, found).add_cte(note))


@lru_cache(maxsize=16)
def _roles_with(capability: Capability) -> tuple[str, ...]:
    return tuple(sorted(r.value for r in Role if can(r, capability)))


async def quick_start(
    engine: Engine,
    op: OperationType,
    *,
    tenant_id: int,
    user_id: int,
    inputs: dict[str, Any],
    context: dict[str, Any] | None,
    now: datetime,
) -> QuickStart | None:
    """Start (or find) the run in one statement, awaited on the caller's event loop (see
    DirectStatement.rows_async); None: take the general path."""
    roles = _roles_with(op.capability)
    lost_after, queued_timeout = thresholds()
    params = {
        "tenant_id": tenant_id,
        "user_id": user_id,
        "run_hash": identity_hash(tenant_id=tenant_id, run_type=op.key, normalised_inputs=inputs),
        "summary_counts": {},
        "failures": [],
        "context": {**(context or {}), "inputs": inputs},
        "now": now,
        "next_send_at": None if op.held else outbox.first_resend_at(now),
        "lost_after": lost_after,
        "queued_timeout": queued_timeout,
    }
    rows = await _statement(op.key, roles, op.held).rows_async(engine, params)
    if not rows:
        return None
    fields = rows[0]._asdict()
    created, slug = fields.pop("created"), fields.pop("slug")
    return QuickStart(_run_from(fields), bool(created), slug)


def _run_from(fields: dict[str, Any]) -> OperationRun:
    """An OperationRun from a `*` row (raw driver values: the column types did not apply)."""
    fields["status"], fields["outcome"] = RunStatus(fields["status"]), RunOutcome(fields["outcome"])
    for key, value in fields.items():
        if isinstance(value, datetime):
            fields[key] = as_utc(value)  # opsapp's sessions read UTC already: usually a no-op
    return detached_run(fields, fields["id"])
