"""Read models for Monitoring → Operations and the CLI: database only, never Graph."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from opsapp.models import OperationRun
from opsapp.models.types import utcnow
from opsapp.operations.catalog import OPERATION_TYPES
from opsapp.operations.status import STATE_BUCKETS

DEFAULT_WINDOW = timedelta(days=30)
MAX_PAGE_SIZE = 200
_SINCE_RE = re.compile(r"^(\d{1,4})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


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

    def validated(self) -> RunFilters:
        if self.type and self.type not in OPERATION_TYPES:
            raise InvalidFilter(f"unknown operation type '{self.type}'")
        if self.state and self.state not in STATE_BUCKETS:
            raise InvalidFilter(f"state must be one of: {', '.join(STATE_BUCKETS)}")
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise InvalidFilter(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        if self.offset < 0:
            raise InvalidFilter("offset must not be negative")
        return self


def _state_clause(state: str):
    t = OperationRun
    if state == "active":
        return t.status.in_(("queued", "running"))
    return sa.and_(t.status == "completed", t.outcome == state)


def list_runs(
    session: Session,
    *,
    tenant_id: int,
    filters: RunFilters = RunFilters(),
    now: datetime | None = None,
) -> list[OperationRun]:
    """Runs of one tenant, newest first. Served by (tenant_id, created_at) or
    (tenant_id, type, created_at); the other filters ride on that ordered index scan."""
    f = filters.validated()
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
    query = query.order_by(t.created_at.desc(), t.id.desc()).limit(f.limit).offset(f.offset)
    return list(session.exec(query))


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
