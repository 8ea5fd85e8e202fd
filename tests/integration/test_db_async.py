"""DirectStatement.rows_async on PostgreSQL: awaited on kept async connections (opsapp.db_async),
the same values as the thread path; a connection is reused across calls and event loops,
replaced when the server closed it, closed when anything went wrong in it (a lost connection,
an SQL error, a cancellation); a burst never opens more than MAX_OPEN; observers still see
every statement; errors are SQLAlchemy's."""

import asyncio
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from opsapp.db_async import MAX_OPEN, kept_connections
from opsapp.db_direct import DirectStatement

_PID = DirectStatement(sa.select(sa.func.pg_backend_pid().label("pid")))
_SLOW_PID = DirectStatement(
    sa.select(sa.func.pg_backend_pid().label("pid"), sa.func.pg_sleep(0.2).label("slept"))
)
_UTC_NOW = DirectStatement(
    sa.select(
        sa.func.current_setting("TimeZone").label("zone"),
        sa.literal_column("'2026-03-10 12:00+09'::timestamptz").label("at"),
    )
)


@pytest.fixture
def fresh(pg_engine):
    """An engine of its own: nothing kept yet, everything closed afterwards."""
    engine = sa.create_engine(pg_engine.url)
    yield engine
    kept_connections(engine).close()
    engine.dispose()


async def _pid(engine) -> int:
    (row,) = await _PID.rows_async(engine, {})
    return row.pid


async def test_the_same_rows_as_the_thread_path_in_a_utc_session(fresh):
    (awaited,) = await _UTC_NOW.rows_async(fresh, {})
    (threaded,) = _UTC_NOW.rows(fresh, {})
    assert awaited.zone == "UTC"
    assert awaited.at == threaded.at == datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
    assert awaited.at.tzinfo is UTC


async def test_one_connection_serves_call_after_call(fresh):
    first = await _pid(fresh)
    assert [await _pid(fresh) for _ in range(5)] == [first] * 5
    assert kept_connections(fresh)._open == 1


def test_a_connection_serves_another_event_loop(fresh):
    first = asyncio.run(_pid(fresh))
    assert asyncio.run(_pid(fresh)) == first


async def test_a_connection_the_server_closed_while_idle_is_replaced(fresh, pg_engine):
    first = await _pid(fresh)
    with pg_engine.connect() as other:
        other.exec_driver_sql(f"SELECT pg_terminate_backend({first})")
    for _ in range(50):  # the server's goodbye reaches the idle socket
        await asyncio.sleep(0.01)
        with pg_engine.connect() as other:
            gone = other.exec_driver_sql(
                f"SELECT count(*) FROM pg_stat_activity WHERE pid = {first}"
            )
            if gone.scalar_one() == 0:
                break
    second = await _pid(fresh)
    assert second != first and kept_connections(fresh)._open == 1


async def test_a_connection_lost_in_the_statement_is_sqlalchemys_error_and_closed(fresh):
    suicide = DirectStatement(sa.select(sa.func.pg_terminate_backend(sa.func.pg_backend_pid())))
    first = await _pid(fresh)
    with pytest.raises(sa.exc.OperationalError) as raised:
        await suicide.rows_async(fresh, {})
    assert raised.value.connection_invalidated
    assert kept_connections(fresh)._open == 0
    assert await _pid(fresh) != first


async def test_an_sql_error_is_sqlalchemys_and_the_next_call_works(fresh):
    broken = DirectStatement(sa.select((sa.literal(1) / sa.literal(0)).label("x")))
    with pytest.raises(sa.exc.DataError, match="division by zero") as raised:
        await broken.rows_async(fresh, {})
    assert not raised.value.connection_invalidated
    assert await _pid(fresh) > 0 and kept_connections(fresh)._open == 1


async def test_a_cancelled_statement_closes_its_connection(fresh):
    sleeper = DirectStatement(sa.select(sa.func.pg_sleep(2)))
    first = await _pid(fresh)
    task = asyncio.create_task(sleeper.rows_async(fresh, {}))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert kept_connections(fresh)._open == 0  # closed: its state was unknown
    assert await _pid(fresh) != first


async def test_a_burst_opens_at_most_max_open_and_the_rest_take_threads(fresh):
    calls = 3 * MAX_OPEN
    rows = await asyncio.gather(*(_SLOW_PID.rows_async(fresh, {}) for _ in range(calls)))
    assert len(rows) == calls and all(len(r) == 1 for r in rows)
    kept = kept_connections(fresh)
    assert kept._open == MAX_OPEN
    assert len({r[0].pid for r in rows}) > MAX_OPEN  # the others came from the pool, in threads


async def test_observers_see_the_statement(fresh):
    seen = []

    def before(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    sa.event.listen(fresh, "before_cursor_execute", before)
    try:
        await _pid(fresh)
    finally:
        sa.event.remove(fresh, "before_cursor_execute", before)
    assert len(seen) == 1 and "pg_backend_pid" in seen[0]
    assert kept_connections(fresh)._open == 0  # it never touched a kept connection


async def test_close_closes_the_idle_connections(fresh, pg_engine):
    pid = await _pid(fresh)
    kept_connections(fresh).close()
    for _ in range(50):
        with pg_engine.connect() as other:
            alive = other.exec_driver_sql(
                f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}"
            )
            if alive.scalar_one() == 0:
                break
        await asyncio.sleep(0.01)
    else:
        pytest.fail("the kept connection's backend is still there")
    assert await _pid(fresh) != pid  # and a later call connects again


async def test_no_server_is_sqlalchemys_error_and_takes_no_slot():
    engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(sa.exc.OperationalError):
            await _PID.rows_async(engine, {})
        assert kept_connections(engine)._open == 0
    finally:
        engine.dispose()


async def test_a_connection_from_another_process_is_left_alone(fresh, pg_engine):
    """What a forked child finds in its parent's keeper: never reused, never closed (libpq's
    goodbye would end the parent's session on the shared socket)."""
    from opsapp.db_async import _INHERITED

    parents = await _pid(fresh)
    kept = kept_connections(fresh)
    (entry,) = kept._idle
    entry.pid = -1  # as a forked child sees it
    assert await _pid(fresh) != parents
    assert entry.conn in _INHERITED and not entry.conn.closed
    with pg_engine.connect() as other:
        alive = other.exec_driver_sql(
            f"SELECT count(*) FROM pg_stat_activity WHERE pid = {parents}"
        )
        assert alive.scalar_one() == 1
    _INHERITED.remove(entry.conn)
    await entry.conn.close()
