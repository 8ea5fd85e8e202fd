"""list_runs and list_runs_page read on the session's DBAPI connection, with SQLAlchemy's
compiled SQL and type processors: every field of a RunRow equals the attribute the ORM loads
(value and type: enums, UTC datetimes, JSON), on both dialects; the page equals paginate's;
observers (event listeners) see the same SQL; a lost connection fails as SQLAlchemy fails."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from opsapp.db import session_scope
from opsapp.models import OperationRun
from opsapp.models.operations import RunRow
from opsapp.operations.queries import RunFilters, _listing, _runs_query, list_runs, list_runs_page
from opsapp.operations.serialize import run_to_dict
from opsapp.operations.status import RunOutcome, RunStatus
from opsapp.paging import MAX_PAGE, MAX_PAGE_SIZE, InvalidPage, paginate
from tests.factories import make_tenant, make_user

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
_COLUMNS = tuple(c.key for c in sa.inspect(OperationRun).column_attrs)
_FILTERS = [
    RunFilters(),  # the since bind: a UTC datetime through UTCDateTime
    RunFilters(since=None),
    RunFilters(state="failed", since=None),  # the statement's own outcome bind (an enum)
    RunFilters(state="active", type="policy.sync", initiator="Ada Ünicode"),
]


def _seed(engine, tenant, user_id):
    """Runs with every column set (nested, non-ASCII JSON) and runs with every nullable one
    NULL, in each state bucket."""
    runs = []
    for i, (status, outcome) in enumerate(
        [("completed", "failed"), ("running", "pending"), ("queued", "pending")] * 4
    ):
        full = i % 2 == 0
        at = NOW - timedelta(days=i, microseconds=123457 * i)
        runs.append(
            OperationRun(
                tenant_id=tenant.id,
                user_id=user_id if full else None,
                initiator_name="Ada Ünicode",
                type="policy.sync",
                status=status,
                outcome=outcome,
                run_identity_hash=f"fast-{i}",
                summary_counts={"total": i, "nested": {"ü": [1, 2.5, None, True]}},
                failures=[{"code": "x", "message": "ß ✓", "n": i}] if full else [],
                context={"inputs": {"ids": [i, i + 1]}, "label": "Zürich"},
                created_at=at,
                started_at=at + timedelta(seconds=1) if full else None,
                completed_at=at + timedelta(seconds=9) if full else None,
                dispatched_at=at + timedelta(seconds=2) if full else None,
                updated_at=at + timedelta(seconds=9),
                heartbeat_at=at + timedelta(seconds=5) if full else None,
                next_send_at=at + timedelta(minutes=1) if full else None,
                attempts=i,
            )
        )
    with session_scope(engine) as s:
        s.add_all(runs)


def _attributes(run):
    return {key: getattr(run, key) for key in _COLUMNS}


@pytest.fixture
def seeded(engine):
    tenant = make_tenant(engine)
    _seed(engine, tenant, make_user(engine, tenant=tenant).id)
    return engine, tenant


@pytest.mark.parametrize("filters", _FILTERS, ids=repr)
def test_every_attribute_is_what_the_orm_loads(seeded, filters):
    engine, tenant = seeded
    with session_scope(engine) as s:
        query = _runs_query(tenant.id, filters, NOW).limit(filters.limit)
        loaded = s.exec(query).all()
        expected = [_attributes(r) for r in loaded]
    with session_scope(engine) as s:
        listed = list_runs(s, **_args(tenant, filters))
    assert all(type(r) is RunRow for r in listed)
    got = [_attributes(r) for r in listed]
    assert got == expected and got
    for row, want in zip(got, expected, strict=True):
        for name, value in row.items():
            assert type(value) is type(want[name]), (name, value, want[name])
            if isinstance(value, datetime):
                assert value.tzinfo is UTC, name
        assert type(row["status"]) is RunStatus and type(row["outcome"]) is RunOutcome
    assert any(None not in row.values() for row in got)  # some run had every column set


def test_a_row_has_every_column_and_nothing_else():
    assert RunRow._fields == _COLUMNS == tuple(c.key for c in OperationRun.__table__.c)


def _args(tenant, filters):
    return {"tenant_id": tenant.id, "filters": filters, "now": NOW}


def test_a_listed_run_is_read_only_and_the_session_holds_nothing(seeded):
    """A listing never hands out something that could write a run behind the lifecycle's back."""
    engine, tenant = seeded
    with session_scope(engine) as s:
        (run,) = list_runs(s, **_args(tenant, RunFilters(since=None, limit=1)))
        with pytest.raises(AttributeError):
            run.attempts = 99
        assert not list(s.identity_map.values()) and not s.new and not s.dirty


@pytest.mark.parametrize(
    ("page", "size"), [(1, 5), (2, 5), (3, 5), (1, 12), (1, 11), (4, 3), (5, 3), (9, 200)]
)
def test_the_page_is_what_paginate_returns(seeded, page, size):
    engine, tenant = seeded
    for filters in _FILTERS:
        with session_scope(engine) as s:
            expected = paginate(
                s,
                _runs_query(tenant.id, filters.validated_choices(), NOW),
                page=page,
                page_size=size,
                count=False,
                row=lambda run: run_to_dict(run, tenant_slug=tenant.slug),
            )
        with session_scope(engine) as s:
            got = list_runs_page(
                s,
                tenant_id=tenant.id,
                tenant_slug=tenant.slug,
                filters=filters,
                page=page,
                page_size=size,
                now=NOW,
            )
        assert got == expected, (filters, page, size)


@pytest.mark.parametrize(
    ("page", "size"),
    [(0, 25), (MAX_PAGE + 1, 25), ("2", 25), (1, 0), (1, MAX_PAGE_SIZE + 1), (1, 2.0)],
)
def test_the_page_refuses_what_paginate_refuses(page, size):
    with pytest.raises(InvalidPage) as expected:
        paginate(None, None, page=page, page_size=size)
    with pytest.raises(InvalidPage, match=f"^{expected.value}$"):
        list_runs_page(
            None, tenant_id=1, tenant_slug="t", filters=RunFilters(), page=page, page_size=size
        )


def test_a_listener_sees_the_statement_and_the_runs_are_the_same(seeded):
    """While anything listens, list_runs goes through SQLAlchemy's execution with the same SQL
    and values; once the listener is gone, through the cursor again (nothing captured)."""
    engine, tenant = seeded
    filters = RunFilters(state="failed", since=timedelta(days=400))
    captured = []

    def before(conn, cursor, statement, parameters, context, executemany):
        captured.append(statement)

    with session_scope(engine) as s:
        fast = [_attributes(r) for r in list_runs(s, **_args(tenant, filters))]
        sa.event.listen(engine, "before_cursor_execute", before)
        try:
            observed = [_attributes(r) for r in list_runs(s, **_args(tenant, filters))]
        finally:
            sa.event.remove(engine, "before_cursor_execute", before)
        again = [_attributes(r) for r in list_runs(s, **_args(tenant, filters))]
        listing = _listing(s.connection().dialect, True, False, "failed", False)
    assert fast == observed == again and len(fast) == 4
    assert captured == [listing.sql]


def test_a_lost_connection_raises_sqlalchemys_error_and_is_invalidated(pg_engine):
    tenant = make_tenant(pg_engine)
    with session_scope(pg_engine) as s:
        list_runs(s, tenant_id=tenant.id)  # the session's connection, its kept cursor
        pid = s.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        with pg_engine.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
        with pytest.raises(sa.exc.OperationalError) as lost:
            list_runs(s, tenant_id=tenant.id)
        assert lost.value.connection_invalidated
        s.rollback()
        assert list_runs(s, tenant_id=tenant.id) == []  # a fresh connection, a fresh cursor


@pytest.mark.parametrize(
    ("filters", "prepared"),
    [
        (RunFilters(type="policy.sync"), True),  # one index serves it: a prepared statement
        (RunFilters(state="failed", since=None), True),
        (RunFilters(type="policy.sync", state="cancelled", since=None), False),
        (RunFilters(state="failed", initiator="Ada Ünicode"), False),
    ],
    ids=repr,
)
def test_shapes_with_several_filters_are_planned_on_every_execution(pg_engine, filters, prepared):
    """psycopg prepares a statement on its fifth execution; a listing whose best index depends
    on the values (two filters or more) is never prepared, so it always gets a plan made for
    its own values instead of one generic plan."""
    tenant = make_tenant(pg_engine)
    fresh = sa.create_engine(pg_engine.url, poolclass=sa.pool.NullPool)  # nothing prepared yet
    query = "SELECT statement FROM pg_prepared_statements WHERE statement ~ '^SELECT operation_runs[.]id'"
    try:
        with session_scope(fresh) as s:
            for _ in range(8):
                list_runs(s, tenant_id=tenant.id, filters=filters)
            statements = s.connection().exec_driver_sql(query).scalars().all()
    finally:
        fresh.dispose()
    assert len(statements) == (1 if prepared else 0), statements
