"""opsapp.db_direct.DirectStatement on PostgreSQL: the bare-cursor path must send the same
statement with the same processed parameters as SQLAlchemy would, commit it on its own, keep
SQLAlchemy's error types, and give every connection back to the pool as it found it."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from opsapp.db_direct import DirectStatement
from opsapp.models.types import PortableJSON, UTCDateTime

_PROBE = sa.Table(
    "direct_probe",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UTCDateTime),
    sa.Column("doc", PortableJSON),
)


@pytest.fixture
def probe(pg_engine):
    _PROBE.create(pg_engine)
    yield _PROBE
    _PROBE.drop(pg_engine)


class _Seen:
    """Statements SQLAlchemy sends while this listens to the engine."""

    def __init__(self, engine) -> None:
        self.engine, self.sql = engine, []

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, *_args) -> None:
        self.sql.append(statement)


def _insert(probe):
    return DirectStatement(
        sa.insert(probe)
        .values(
            id=sa.bindparam("id"),
            at=sa.bindparam("at", type_=probe.c.at.type),
            doc=sa.bindparam("doc", type_=probe.c.doc.type),
        )
        .returning(probe.c.id, probe.c.at, probe.c.doc, sa.literal("fixed").label("lit"))
    )


def test_both_paths_write_and_return_the_same(pg_engine, probe):
    insert = _insert(probe)
    at = datetime(2026, 11, 30, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    doc = {"counts": {"total": 3}, "names": ["a", "ü"]}
    (direct,) = insert.rows(pg_engine, {"id": 1, "at": at, "doc": doc})
    with _Seen(pg_engine) as seen:
        (observed,) = insert.rows(pg_engine, {"id": 2, "at": at, "doc": doc})
    assert len(seen.sql) == 1  # with a listener, SQLAlchemy sent it (and the listener saw it)
    assert (direct.id, observed.id) == (1, 2)
    assert direct.at == observed.at == at  # the same instant (UTCDateTime's bind processor ran)
    assert direct.doc == observed.doc == doc  # JSONB both ways
    assert direct.lit == observed.lit == "fixed"  # the statement's own literals
    with pg_engine.connect() as conn:  # committed: visible from another connection
        stored = conn.execute(sa.select(probe.c.id, probe.c.at).order_by(probe.c.id)).all()
    assert [(row.id, row.at.astimezone(UTC)) for row in stored] == [
        (1, at.astimezone(UTC)),
        (2, at.astimezone(UTC)),
    ]


def test_the_direct_path_sends_nothing_sqlalchemy_sees_and_leaves_autocommit_off(pg_engine, probe):
    insert = _insert(probe)
    with _Seen(pg_engine) as seen:
        pass  # a listener that was removed again does not count
    insert.rows(pg_engine, {"id": 1, "at": datetime.now(UTC), "doc": {}})
    assert seen.sql == []
    pooled = pg_engine.raw_connection()
    try:
        assert pooled.driver_connection.autocommit is False
    finally:
        pooled.close()


def test_a_bad_parameter_is_sqlalchemys_error_and_the_pool_stays_usable(pg_engine, probe):
    insert = _insert(probe)
    insert.rows(pg_engine, {"id": 1, "at": datetime.now(UTC), "doc": {}})
    with pytest.raises(sa.exc.IntegrityError):
        insert.rows(pg_engine, {"id": 1, "at": datetime.now(UTC), "doc": {}})
    with pytest.raises(ValueError, match="naive datetime"):  # the type's own check still runs
        insert.rows(pg_engine, {"id": 2, "at": datetime(2026, 1, 1), "doc": {}})
    assert [row.id for row in insert.rows(pg_engine, {"id": 3, "at": None, "doc": None})] == [3]


def test_a_connection_that_died_in_the_statement_is_not_given_back(pg_engine):
    suicide = DirectStatement(sa.select(sa.func.pg_terminate_backend(sa.func.pg_backend_pid())))
    with pytest.raises(sa.exc.OperationalError) as raised:
        suicide.rows(pg_engine, {})
    assert raised.value.connection_invalidated
    alive = DirectStatement(sa.select(sa.literal(1).label("one")))
    for _ in range(pg_engine.pool.size() + 1):  # every pooled connection works
        assert [row.one for row in alive.rows(pg_engine, {})] == [1]


def test_an_expanding_parameter_is_refused(pg_engine, probe):
    statement = DirectStatement(sa.select(probe.c.id).where(probe.c.id.in_([1, 2])))
    with pytest.raises(ValueError, match="expanding"):
        statement.rows(pg_engine, {})
