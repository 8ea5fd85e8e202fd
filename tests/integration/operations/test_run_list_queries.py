"""list_runs: the lean read path returns exactly what the ORM query returns (rows, order,
values, types), on both dialects; and on PostgreSQL with realistic statistics the initiator
filter and an all-time state filter are index range scans on the indexes made for them."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from opsapp.db import session_scope
from opsapp.models import OperationRun
from opsapp.models.operations import RunRow
from opsapp.operations.queries import RunFilters, _runs_query, list_runs
from opsapp.operations.status import STATE_BUCKETS
from tests.factories import make_tenant

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
_hashes = itertools.count(1)
_MIX = [  # (type, status, outcome, initiator)
    ("policy.sync", "completed", "succeeded", "Ada"),
    ("inventory.sync", "completed", "failed", "Bob"),
    ("policy.sync", "running", "pending", "Ada"),
    ("inventory.sync", "queued", "pending", "System"),
    ("drift.generate", "completed", "cancelled", "Bob"),
    ("policy.sync", "completed", "partially_succeeded", "System"),
]


def _seed(engine, tenant, count=60):
    runs = []
    for i in range(count):
        run_type, status, outcome, who = _MIX[i % len(_MIX)]
        created = NOW - timedelta(days=i % 45, minutes=i)
        runs.append(
            OperationRun(
                tenant_id=tenant.id,
                initiator_name=who,
                type=run_type,
                status=status,
                outcome=outcome,
                run_identity_hash=f"h{next(_hashes)}",
                summary_counts={"total": i, "processed": i // 2},
                failures=[{"code": "x", "n": i}] if outcome == "failed" else [],
                context={"inputs": {"n": i}},
                created_at=created if i % 7 else NOW - timedelta(days=3),  # ties on created_at
                started_at=created + timedelta(seconds=1) if status != "queued" else None,
                completed_at=created + timedelta(seconds=9) if status == "completed" else None,
                updated_at=created + timedelta(seconds=9),
                attempts=i % 3,
            )
        )
    with session_scope(engine) as s:
        s.add_all(runs)


_CASES = [
    RunFilters(),
    RunFilters(since=None),
    RunFilters(since=timedelta(hours=24)),
    RunFilters(type="policy.sync"),
    RunFilters(type="policy.sync", since=None, limit=7, offset=3),
    RunFilters(initiator="Bob"),
    RunFilters(initiator="Bob", since=None),
    RunFilters(initiator="Nobody"),
    RunFilters(type="inventory.sync", state="failed", initiator="Bob", since=timedelta(days=7)),
    RunFilters(offset=10, limit=5),
    RunFilters(offset=500),
    *(RunFilters(state=s) for s in STATE_BUCKETS),
    *(RunFilters(state=s, since=None) for s in STATE_BUCKETS),
]


@pytest.mark.parametrize("filters", _CASES, ids=repr)
def test_list_runs_returns_what_the_orm_query_returns(engine, filters):
    tenant, other = make_tenant(engine), make_tenant(engine)
    _seed(engine, tenant)
    _seed(engine, other, 12)
    with session_scope(engine) as s:
        query = _runs_query(tenant.id, filters, NOW).limit(filters.limit).offset(filters.offset)
        expected = [
            {k: getattr(r, k) for k in OperationRun.model_fields} for r in s.exec(query).all()
        ]
    with session_scope(engine) as s:
        got = list_runs(s, tenant_id=tenant.id, filters=filters, now=NOW)
        assert all(type(r) is RunRow for r in got)
        rows = [{k: getattr(r, k) for k in OperationRun.model_fields} for r in got]
    assert rows == expected
    for row, want in zip(rows, expected, strict=True):  # same types too (enums, UTC datetimes)
        assert {k: type(v) for k, v in row.items()} == {k: type(v) for k, v in want.items()}
        assert row["created_at"].tzinfo is want["created_at"].tzinfo


def test_state_buckets_partition_the_runs(engine):
    tenant = make_tenant(engine)
    _seed(engine, tenant)
    with session_scope(engine) as s:
        everything = list_runs(s, tenant_id=tenant.id, filters=RunFilters(since=None, limit=200))
        by_bucket = {
            state: {
                r.id
                for r in list_runs(
                    s, tenant_id=tenant.id, filters=RunFilters(state=state, since=None, limit=200)
                )
            }
            for state in STATE_BUCKETS
        }
    assert sum(len(ids) for ids in by_bucket.values()) == len(everything) == 60
    assert {r.id for r in everything if r.status in ("queued", "running")} == by_bucket["active"]


def test_list_runs_sees_pending_changes_of_the_session(engine):
    """Like the ORM query it replaces, list_runs flushes the session first."""
    tenant = make_tenant(engine)
    with session_scope(engine) as s:
        s.add(
            OperationRun(
                tenant_id=tenant.id,
                initiator_name="Ada",
                type="policy.sync",
                status="completed",
                outcome="succeeded",
                run_identity_hash="pending-1",
                created_at=NOW,
                updated_at=NOW,
            )
        )
        assert [r.run_identity_hash for r in list_runs(s, tenant_id=tenant.id, now=NOW)] == [
            "pending-1"
        ]


# --- plans on PostgreSQL --------------------------------------------------------------------

_LOAD = """
INSERT INTO operation_runs (tenant_id, initiator_name, type, status, outcome, run_identity_hash,
    summary_counts, failures, context, created_at, updated_at, attempts)
SELECT CASE WHEN i % 4 = 0 THEN :big ELSE :small END,
       CASE WHEN r % 100 < 2 THEN 'Rita Rare' WHEN r % 100 < 50 THEN 'System' ELSE 'Oscar' END,
       (ARRAY['inventory.sync','policy.sync','drift.generate','restore.execute'])[1 + r / 7 % 4],
       CASE WHEN i % 2000 = 0 THEN 'running' ELSE 'completed' END,
       CASE WHEN i % 2000 = 0 THEN 'pending' WHEN r / 3 % 100 < 1 THEN 'cancelled'
            WHEN r / 3 % 100 < 7 THEN 'failed' ELSE 'succeeded' END,
       md5(i::text), '{}'::jsonb, '[]'::jsonb, '{}'::jsonb,
       now() - i * interval '5 minutes', now(), 1
FROM (SELECT i, abs(hashtext(i::text)) AS r FROM generate_series(1, :n) AS i) AS g
"""


def _plan(engine, tenant_id: int, filters: RunFilters) -> str:
    captured = []

    def before(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        with session_scope(engine) as s:
            list_runs(s, tenant_id=tenant_id, filters=filters)
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
    ((statement, parameters),) = captured
    with engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        cursor.execute("EXPLAIN (COSTS OFF) " + statement, parameters)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_filters_are_index_range_scans_on_postgres(pg_engine):
    big, small = make_tenant(pg_engine), make_tenant(pg_engine)
    with pg_engine.begin() as conn:
        conn.execute(sa.text(_LOAD), {"big": big.id, "small": small.id, "n": 60_000})
    with pg_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE operation_runs"))  # real planner statistics, no enable_*
    expected = {
        "initiator": (
            RunFilters(initiator="Rita Rare", since=None),
            "ix_operation_runs_tenant_initiator_created",
        ),
        "initiator, 30 days": (
            RunFilters(initiator="Rita Rare"),
            "ix_operation_runs_tenant_initiator_created",
        ),
        "cancelled, all time": (
            RunFilters(state="cancelled", since=None),
            "ix_operation_runs_tenant_outcome_created",
        ),
        # The few active runs: the outcome index, or the partial index of active runs (then
        # sorted: a handful of rows).
        "active, all time": (
            RunFilters(state="active", since=None),
            "ix_operation_runs_tenant_outcome_created|uq_operation_runs_active_identity",
        ),
    }
    for name, (filters, indexes) in expected.items():
        plan = _plan(pg_engine, big.id, filters)
        assert any(
            f"Index Scan{' Backward' if 'uq_' not in index else ''} using {index} on operation_runs"
            in plan
            for index in indexes.split("|")
        ), (name, plan)
        assert "Bitmap Heap Scan" not in plan and "Seq Scan" not in plan, (name, plan)
