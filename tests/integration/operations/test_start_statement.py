"""The one-statement start on PostgreSQL (opsapp.operations.start_statement): it must cost one
round trip, write exactly what the general path writes, and hand every unusual case to the
general path, which decides as before."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session, select

from opsapp.models import Notification, OperationRun, Role
from opsapp.models.types import utcnow
from opsapp.operations import start_statement
from opsapp.operations.access import Forbidden, NotFound
from opsapp.operations.catalog import get_type
from opsapp.operations.notifications import build_queued
from opsapp.operations.service import DispatchFailed, start_operation
from opsapp.operations.status import RunOutcome, RunStatus
from tests.factories import make_tenant, make_user
from tests.fakes import BrokenDispatcher, RecordingDispatcher

TYPE = "directory_groups.sync"
_T = OperationRun.__table__


async def _start(engine, tenant, user, inputs=None, dispatcher=None):
    return await start_operation(
        run_type=TYPE,
        tenant_id=tenant.id,
        user_id=user.id,
        inputs=inputs,
        dispatcher=dispatcher or RecordingDispatcher(),
        engine=engine,
    )


class _Statements:
    """Every statement the engine sends, with whether its psycopg connection was in autocommit
    (then psycopg sends no BEGIN / COMMIT: the statement is the only round trip)."""

    def __init__(self, engine) -> None:
        self.engine, self.sql = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._sql)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._sql)

    def _sql(self, conn, _cursor, statement, *_args) -> None:
        self.sql.append((statement, conn.connection.dbapi_connection.autocommit))


def _notes(engine, user_id):
    with Session(engine) as s:
        query = select(Notification).where(Notification.user_id == user_id)
        return list(s.exec(query.order_by(Notification.id)))


async def test_a_start_is_one_statement_without_a_transaction_around_it(pg_engine):
    tenant = make_tenant(pg_engine, name="Contoso")
    alice = make_user(pg_engine, tenant=tenant)
    await _start(pg_engine, tenant, alice)  # warm the pool and the compiled statement

    with _Statements(pg_engine) as seen:
        second = await _start(pg_engine, tenant, alice)
    ((statement, autocommit),) = seen.sql
    assert statement.lstrip().startswith("WITH who AS") and autocommit
    assert not second.created  # the first start's run is still active: reused


async def test_it_writes_what_the_general_path_writes(pg_engine):
    tenant = make_tenant(pg_engine, name="Fabrikam ⟪slug⟫ 999999999999 & Co")
    alice = make_user(pg_engine, tenant=tenant)

    result = await _start(pg_engine, tenant, alice)

    assert result.created and result.view_path == f"/t/{tenant.slug}/operations/{result.run.id}"
    run = result.run
    assert (run.status, run.outcome, run.attempts, run.user_id) == (
        RunStatus.queued,
        RunOutcome.pending,
        0,
        alice.id,
    )
    assert run.initiator_name == (alice.display_name or alice.email)
    assert run.next_send_at is not None and run.context == {"inputs": {}}
    (note,) = _notes(pg_engine, alice.id)
    expected = build_queued(run, tenant)
    # A tenant name that looks like a placeholder is copied, never rewritten.
    assert (note.level, note.title, note.body, note.link, note.operation_run_id) == (
        expected.level,
        expected.title,
        expected.body,
        expected.link,
        run.id,
    )


@pytest.mark.parametrize("role", [None, Role.readonly])
async def test_non_members_and_readers_get_the_general_paths_errors(pg_engine, role):
    tenant = make_tenant(pg_engine)
    user = make_user(pg_engine, tenant=tenant if role else None, role=role or Role.operator)

    with pytest.raises(Forbidden if role else NotFound):
        await _start(pg_engine, tenant, user)
    with Session(pg_engine) as s:
        assert s.exec(select(OperationRun)).all() == []
        assert s.exec(select(Notification)).all() == []


async def test_a_lost_active_run_is_reaped_and_a_new_one_started(pg_engine):
    tenant = make_tenant(pg_engine)
    alice = make_user(pg_engine, tenant=tenant)
    first = await _start(pg_engine, tenant, alice)
    long_ago = utcnow() - timedelta(days=2)  # queued far longer than the queued timeout
    with pg_engine.begin() as conn:
        conn.execute(sa.update(_T).where(_T.c.id == first.run.id).values(created_at=long_ago))

    second = await _start(pg_engine, tenant, alice)

    assert second.created and second.run.id != first.run.id
    with Session(pg_engine) as s:
        lost = s.get(OperationRun, first.run.id)
    assert (lost.status, lost.outcome) == (RunStatus.completed, RunOutcome.failed)


async def test_a_failed_dispatch_takes_the_queued_notification_back(pg_engine):
    tenant = make_tenant(pg_engine)
    alice = make_user(pg_engine, tenant=tenant)

    with pytest.raises(DispatchFailed):
        await _start(pg_engine, tenant, alice, dispatcher=BrokenDispatcher())

    assert [n.level for n in _notes(pg_engine, alice.id)] == ["error"]


def test_only_user_starts_of_types_without_a_precheck_on_postgres_take_it(pg_engine, engine):
    sync, backup = get_type(TYPE), get_type("backup_set.add_policies")
    assert start_statement.usable(pg_engine, sync, user_id=1)
    assert not start_statement.usable(pg_engine, sync, user_id=None)
    assert not start_statement.usable(pg_engine, backup, user_id=1)  # its precheck is Python
    assert start_statement.usable(engine, sync, user_id=1) == (engine.dialect.name == "postgresql")


async def test_a_workers_completion_is_one_statement_with_the_same_notification(pg_engine):
    from opsapp.operations import lifecycle
    from opsapp.operations.notifications import build_completed

    tenant = make_tenant(pg_engine, name="Northwind ⟪slug⟫")
    alice = make_user(pg_engine, tenant=tenant)
    run = (await _start(pg_engine, tenant, alice)).run
    claim, attempt = lifecycle.claim_run(run.id, lost_after=timedelta(minutes=5), engine=pg_engine)
    failures = [{"code": "graph.throttled", "message": "slow down"}] * 2

    with _Statements(pg_engine) as seen:
        assert lifecycle.complete_run(
            run.id,
            outcome=RunOutcome.partially_succeeded,
            summary_counts={"total": 3, "processed": 3, "failed": 1},
            failures=failures,
            attempt=attempt,
            run_type=TYPE,
            engine=pg_engine,
        )
    ((statement, autocommit),) = seen.sql
    assert statement.lstrip().startswith("WITH done AS") and autocommit
    with Session(pg_engine) as s:
        done = s.get(OperationRun, run.id)
    assert (done.status, done.outcome) == (RunStatus.completed, RunOutcome.partially_succeeded)
    assert done.failures[0]["count"] == 2  # merged, as complete_where merges
    *_, note = _notes(pg_engine, alice.id)
    expected = build_completed(done, tenant)
    assert (note.level, note.title, note.body, note.link) == (
        expected.level,
        expected.title,
        expected.body,
        expected.link,
    )
    # A second completion (a redelivery, a zombie) matches nothing and writes nothing.
    assert not lifecycle.complete_run(
        run.id,
        outcome=RunOutcome.succeeded,
        summary_counts={},
        failures=[],
        attempt=attempt,
        run_type=TYPE,
        engine=pg_engine,
    )
    assert len(_notes(pg_engine, alice.id)) == 2
