"""The canonical OperationRun table (SPEC §2)."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import InstanceState
from sqlmodel import Field, SQLModel

from opsapp.models.types import PortableJSON, UTCDateTime, utcnow
from opsapp.operations.status import ACTIVE_STATUSES, TERMINAL_STATUSES, RunOutcome, RunStatus


def _in_predicate(statuses: frozenset[RunStatus]) -> sa.TextClause:
    """`status IN ('a', 'b')` / `status = 'a'` with the tokens in declaration order: the exact
    text the migrations gave the partial indexes (a planner only uses them on a literal match)."""
    tokens = [f"'{s.value}'" for s in RunStatus if s in statuses]
    if len(tokens) == 1:
        return sa.text(f"status = {tokens[0]}")
    return sa.text(f"status IN ({', '.join(tokens)})")


# The predicate of the partial unique index. Both dialects must get it: without sqlite_where
# SQLite silently builds a FULL unique index, which would forbid a second run ever.
# Renders as: status IN ('queued', 'running')
ACTIVE_PREDICATE = _in_predicate(ACTIVE_STATUSES)
# Renders as: status = 'completed'
COMPLETED_PREDICATE = _in_predicate(TERMINAL_STATUSES)
# The outbox index's predicate: a run still waiting to be (re-)sent.
OUTBOX_PREDICATE = sa.text("next_send_at IS NOT NULL")


def _token_enum(enum_cls: type, length: int) -> sa.Enum:
    """The enum stored as its plain string token in a VARCHAR(length) — no native database enum
    and no CHECK constraint, so the column is the same one the migrations created."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=length,
        validate_strings=True,
        values_callable=lambda members: [m.value for m in members],
    )


class OperationRun(SQLModel, table=True):
    __tablename__ = "operation_runs"
    __table_args__ = (
        sa.Index(
            "uq_operation_runs_active_identity",
            "tenant_id",
            "run_identity_hash",
            unique=True,
            postgresql_where=ACTIVE_PREDICATE,
            sqlite_where=ACTIVE_PREDICATE,
        ),
        sa.Index("ix_operation_runs_tenant_created", "tenant_id", "created_at"),
        sa.Index("ix_operation_runs_tenant_type_created", "tenant_id", "type", "created_at"),
        # Monitoring's initiator filter and state buckets, newest first (migration 0009).
        sa.Index(
            "ix_operation_runs_tenant_initiator_created",
            "tenant_id",
            "initiator_name",
            "created_at",
        ),
        sa.Index("ix_operation_runs_tenant_outcome_created", "tenant_id", "outcome", "created_at"),
        # Retention: find expired completed runs without scanning the table.
        sa.Index(
            "ix_operation_runs_completed_at",
            "completed_at",
            postgresql_where=COMPLETED_PREDICATE,
            sqlite_where=COMPLETED_PREDICATE,
        ),
        # The outbox: queued runs whose message may need (re-)sending. Only they have a
        # next_send_at (a claim or a completion clears it), so the relay's scan stays tiny.
        sa.Index(
            "ix_operation_runs_next_send",
            "next_send_at",
            postgresql_where=OUTBOX_PREDICATE,
            sqlite_where=OUTBOX_PREDICATE,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", ondelete="CASCADE")
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    initiator_name: str = Field(max_length=200)
    type: str = Field(max_length=64)
    status: RunStatus = Field(sa_type=_token_enum(RunStatus, 16))
    outcome: RunOutcome = Field(sa_type=_token_enum(RunOutcome, 32))
    run_identity_hash: str = Field(max_length=64)
    summary_counts: dict[str, Any] = Field(default_factory=dict, sa_type=PortableJSON)
    failures: list[dict[str, Any]] = Field(default_factory=list, sa_type=PortableJSON)
    context: dict[str, Any] = Field(default_factory=dict, sa_type=PortableJSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Held runs (restore.execute) wait queued until someone executes them; this says when they
    # were handed to the broker. The reaper times a held run out from here, never before.
    dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Written by the worker while it executes the run; a stale heartbeat means the worker died.
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # How many times a worker picked the run up (a take-over or a hand-back counts). It is also
    # the attempt token: a worker's heartbeats, progress and completion carry the value its claim
    # set, so a worker that was frozen while another took the run over writes nothing.
    attempts: int = Field(default=0)
    # The outbox (see opsapp.operations.outbox): while the run is queued, when a worker's relay
    # should send its message again if nobody has claimed it by then. NULL once claimed or
    # completed, and for a held run that was not dispatched yet.
    next_send_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# A run as read models hand it out (the Monitoring list, `opsapp ops list`): its columns as an
# immutable row, with OperationRun's attribute names and Python types. Never an ORM entity:
# nothing changes a run through a listing (the lifecycle does), and a tuple costs a tenth of
# building a detached entity — that was a third of a 50-run page's time.
RunRow = namedtuple("RunRow", [column.key for column in OperationRun.__table__.c])  # type: ignore[misc]

_RUN_MAPPER = sa.inspect(OperationRun)
_RUN_MANAGER = _RUN_MAPPER.class_manager
# An identity key is (identity class, primary key tuple, identity token); the class part, once.
_RUN_IDENTITY_CLASS = _RUN_MAPPER.identity_key_from_primary_key((0,))[0]


def detached_run(
    values: Mapping[str, Any] | Iterable[tuple[str, Any]], run_id: int
) -> OperationRun:
    """An OperationRun holding `values` (every column, already of the mapped Python types; a
    mapping or (name, value) pairs) as a loaded-then-detached instance, like one a closed
    session left behind: every attribute loaded, the identity key set, so session.add()
    re-attaches it and never INSERTs it.

    For rows read by hand (read models, the one-statement start): pydantic's validation and
    SQLAlchemy's per-attribute events cost more than the query. This is what
    ClassManager.new_instance does, minus its detour through SQLModel.__setattr__ for the state
    (a fifth of the cost): SQLModel's __new__ (the pydantic slots an ORM load gets), then the
    InstanceState, stored where that setattr would store it."""
    if not _RUN_MAPPER.configured:  # attribute access needs it (the call costs 4 µs even
        sa.orm.configure_mappers()  # when there is nothing to do: a third of this function)
    run = OperationRun.__new__(OperationRun)
    state = InstanceState(run, _RUN_MANAGER)
    state.key = (_RUN_IDENTITY_CLASS, (run_id,), None)
    attributes = run.__dict__
    attributes[_RUN_MANAGER.STATE_ATTR] = state
    attributes.update(values)
    return run
