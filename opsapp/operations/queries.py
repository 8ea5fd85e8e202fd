"""Read models for Monitoring → Operations and the CLI: database only, never Graph."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from opsapp.db_direct import CompiledSQL, fetch_on
from opsapp.models import OperationRun
from opsapp.models.operations import RunRow
from opsapp.models.types import utcnow
from opsapp.operations.catalog import OPERATION_TYPES
from opsapp.operations.lifecycle import status_in
from opsapp.operations.serialize import run_to_dict
from opsapp.operations.status import (
    ACTIVE_BUCKET,
    ACTIVE_STATUSES,
    STATE_BUCKETS,
    TERMINAL_STATUSES,
    RunOutcome,
)
from opsapp.paging import Page, check_page

DEFAULT_WINDOW = timedelta(days=30)
MAX_PAGE_SIZE = 200
_SINCE_RE = re.compile(r"^(\d{1,4})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# The Monitoring page's time ranges (URL value → label); "30d" is the default window.
RANGES: dict[str, str] = {
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "all": "All time",
}
DEFAULT_RANGE = "30d"


class InvalidFilter(ValueError):
    """A Monitoring filter value is unusable; the message says which and why."""


def parse_since(value: str) -> timedelta:
    """'30d', '12h', '2w', '90m' → timedelta."""
    match = _SINCE_RE.match(value.strip().lower())
    if not match:
        raise InvalidFilter(f"'{value}' is not a time range; use e.g. 30m, 12h, 30d or 2w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True)
class RunFilters:
    type: str | None = None
    state: str | None = None  # a STATE_BUCKETS key
    since: timedelta | None = DEFAULT_WINDOW  # None: all time
    initiator: str | None = None  # initiator_name, exact
    limit: int = 50
    offset: int = 0

    def validated_choices(self) -> RunFilters:
        """Check type and state only (paged lists ignore limit and offset)."""
        if self.type and self.type not in OPERATION_TYPES:
            raise InvalidFilter(f"unknown operation type '{self.type}'")
        if self.state and self.state not in STATE_BUCKETS:
            raise InvalidFilter(f"state must be one of: {', '.join(STATE_BUCKETS)}")
        return self

    def validated(self) -> RunFilters:
        self.validated_choices()
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise InvalidFilter(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        if self.offset < 0:
            raise InvalidFilter("offset must not be negative")
        return self


def _state_clause(state: str):
    """The bucket as SQL. Every bucket names its outcome, so (tenant_id, outcome, created_at)
    serves it as a newest-first range scan: "active" adds outcome = 'pending', which every
    active run has and no other run has (status.guard_outcome; lifecycle keeps it so), so the
    rows are exactly the status IN ('queued', 'running') ones."""
    if state == ACTIVE_BUCKET:
        return sa.and_(status_in(ACTIVE_STATUSES), OperationRun.outcome == RunOutcome.pending)
    return sa.and_(status_in(TERMINAL_STATUSES), OperationRun.outcome == RunOutcome(state))


def _runs_query(tenant_id: int, f: RunFilters, now: datetime | None):
    """Runs of one tenant, newest first (ORM entities, for paging). Each filter has an index
    that yields its rows newest first: (tenant_id, created_at), (tenant_id, type, created_at),
    (tenant_id, outcome, created_at) and (tenant_id, initiator_name, created_at)."""
    t = OperationRun
    query = select(t).where(t.tenant_id == tenant_id)
    if f.since is not None:
        query = query.where(t.created_at >= (now or utcnow()) - f.since)
    if f.type:
        query = query.where(t.type == f.type)
    if f.state:
        query = query.where(_state_clause(f.state))
    if f.initiator:
        query = query.where(t.initiator_name == f.initiator)
    return query.order_by(t.created_at.desc(), t.id.desc())


_T = OperationRun.__table__


@lru_cache(maxsize=64)
def _list_statement(since: bool, run_type: bool, state: str | None, initiator: bool) -> sa.Select:
    """_runs_query's SELECT as a Core statement over the table's columns (RunRow's fields, in
    order), one per filter shape, with bound parameters for the values (compiled once per
    dialect by _listing)."""
    query = sa.select(*_T.c).where(_T.c.tenant_id == sa.bindparam("tenant_id"))
    if since:
        query = query.where(_T.c.created_at >= sa.bindparam("since", type_=_T.c.created_at.type))
    if run_type:
        query = query.where(_T.c.type == sa.bindparam("type", type_=_T.c.type.type))
    if state:
        query = query.where(_state_clause(state))
    if initiator:
        query = query.where(
            _T.c.initiator_name == sa.bindparam("initiator", type_=_T.c.initiator_name.type)
        )
    return (
        query.order_by(_T.c.created_at.desc(), _T.c.id.desc())
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .offset(sa.bindparam("offset", type_=sa.Integer))
    )


@lru_cache(maxsize=128)
def _listing(
    dialect: sa.Dialect, since: bool, run_type: bool, state: str | None, initiator: bool
) -> CompiledSQL:
    """_list_statement compiled once per dialect and run on the session's DBAPI cursor
    (opsapp.db_direct): Connection.execute re-derived per call what never changes here,
    adding about half the driver's own time for a page of 50. Parameters and columns still go
    through their types' processors (UTC datetimes, enums, JSON on SQLite).

    With two or more of type, state and initiator, the statement is planned on every
    execution, never prepared: which index is best depends on the values — on a 200,000-run
    tenant "policy.sync + cancelled" wants the outcome index (1 % of runs) and "policy.sync +
    succeeded" the type index, where one generic plan took the type index for both and read
    5,000 rows for 50 (10 ms). With one filter, one index serves it whatever the values, and
    the prepared statement saves the planning (about a tenth of a page's time)."""
    statement = _list_statement(since, run_type, state, initiator)
    choices = run_type + bool(state) + initiator
    return CompiledSQL(statement, dialect, process_results=True, plan_each_time=choices >= 2)


def listing_for(dialect: sa.Dialect, f: RunFilters) -> CompiledSQL:
    """The compiled statement (and driver options) that lists runs filtered as `f`."""
    return _listing(dialect, f.since is not None, bool(f.type), f.state, bool(f.initiator))


def _fetch_runs(
    session: Session,
    tenant_id: int,
    f: RunFilters,
    *,
    limit: int,
    offset: int,
    now: datetime | None,
) -> list[RunRow]:
    """The filtered runs in [offset, offset + limit), newest first, in the session's
    transaction (pending changes flushed first, as an ORM query autoflushes)."""
    params: dict[str, Any] = {"tenant_id": tenant_id, "limit": limit, "offset": offset}
    if f.since is not None:
        params["since"] = (now or utcnow()) - f.since
    if f.type:
        params["type"] = f.type
    if f.initiator:
        params["initiator"] = f.initiator
    if session.autoflush:
        session.flush()
    conn = session.connection(bind_arguments={"mapper": OperationRun})
    listing = listing_for(conn.dialect, f)
    return list(map(RunRow._make, fetch_on(conn, listing, params)))


def list_runs(
    session: Session,
    *,
    tenant_id: int,
    filters: RunFilters = RunFilters(),
    now: datetime | None = None,
) -> list[RunRow]:
    """A window (limit / offset) of the filtered runs, newest first (the CLI's listing): the
    runs `_runs_query` loads through the ORM, in the same order, as RunRows holding the same
    values with the same types."""
    f = filters.validated()
    return _fetch_runs(session, tenant_id, f, limit=f.limit, offset=f.offset, now=now)


def list_runs_page(
    session: Session,
    *,
    tenant_id: int,
    tenant_slug: str,
    filters: RunFilters,
    page: int = 1,
    page_size: int = 25,
    now: datetime | None = None,
) -> Page:
    """One page of serialized runs for Monitoring: what paginate(count=False) returns for
    `_runs_query`, read through list_runs' path. Never counts: the runs table is the big one,
    so has_next comes from reading one row more (filters.limit / offset are ignored)."""
    f = filters.validated_choices()
    check_page(page, page_size)
    runs = _fetch_runs(
        session, tenant_id, f, limit=page_size + 1, offset=(page - 1) * page_size, now=now
    )
    return Page(
        rows=[run_to_dict(run, tenant_slug=tenant_slug) for run in runs[:page_size]],
        page=page,
        page_size=page_size,
        total=None,
        has_next=len(runs) > page_size,
    )


def initiators(session: Session, *, tenant_id: int, since: timedelta = DEFAULT_WINDOW) -> list[str]:
    """Distinct initiator names of recent runs (the initiator filter's choices)."""
    t = OperationRun
    query = (
        select(t.initiator_name)
        .where(t.tenant_id == tenant_id, t.created_at >= utcnow() - since)
        .distinct()
        .order_by(t.initiator_name)
        .limit(200)
    )
    return list(session.exec(query))


def filter_choices(session: Session, *, tenant_id: int) -> dict[str, list]:
    """Options of the Monitoring filters (initiators: those of the last 30 days)."""
    return {
        "types": [{"value": key, "label": op.label} for key, op in OPERATION_TYPES.items()],
        "states": [{"value": key, "label": label} for key, label in STATE_BUCKETS.items()],
        "ranges": [{"value": key, "label": label} for key, label in RANGES.items()],
        "initiators": initiators(session, tenant_id=tenant_id),
    }


def _param(params: Mapping[str, Any], key: str) -> str:
    value = params.get(key)
    if isinstance(value, list | tuple):  # a repeated query parameter: the first one counts
        value = value[0] if value else None
    return str(value).strip() if value is not None else ""


def parse_filters(params: Mapping[str, Any]) -> tuple[RunFilters, list[str]]:
    """URL query values (type, state, range, initiator) → RunFilters. Unusable values are
    dropped and described in the returned messages; a hand-edited URL never breaks the page."""
    errors: list[str] = []
    run_type, state = _param(params, "type"), _param(params, "state")
    range_key, initiator = _param(params, "range") or DEFAULT_RANGE, _param(params, "initiator")
    if run_type and run_type not in OPERATION_TYPES:
        errors.append(f"Unknown operation type '{run_type[:64]}' — showing all types")
        run_type = ""
    if state and state not in STATE_BUCKETS:
        errors.append(f"Unknown state '{state[:64]}' — showing all states")
        state = ""
    if range_key not in RANGES:
        errors.append(f"Unknown time range '{range_key[:64]}' — showing the last 30 days")
        range_key = DEFAULT_RANGE
    filters = RunFilters(
        type=run_type or None,
        state=state or None,
        since=None if range_key == "all" else parse_since(range_key),
        initiator=initiator[:200] or None,
    )
    return filters, errors
