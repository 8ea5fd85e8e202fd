"""The Alembic migrations and the models agree on both dialects, and migrate down and up."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import opsapp.models  # noqa: F401
from alembic import command
from opsapp.migrate import alembic_config
from tests import dbutil


def _diff(engine):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"render_as_batch": True})
        return compare_metadata(ctx, SQLModel.metadata)


def test_models_and_migrations_agree(engine):
    assert _diff(engine) == []


def test_partial_unique_index_is_partial_on_this_dialect(engine):
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            ddl = conn.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_operation_runs_active_identity'"
            ).scalar()
        else:
            ddl = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'uq_operation_runs_active_identity'"
            ).scalar()
    assert "UNIQUE" in ddl.upper() and "WHERE" in ddl.upper() and "queued" in ddl


def _schema(engine) -> dict:
    """Tables → (columns, indexes with their columns and uniqueness), as the database reports."""
    inspector = sa.inspect(engine)
    return {
        table: (
            sorted(c["name"] for c in inspector.get_columns(table)),
            sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
        )
        for table in inspector.get_table_names()
    }


@pytest.fixture(params=["sqlite", "postgres"])
def scratch_url(request, tmp_path):
    """A brand-new, empty database of each dialect (not the session's migrated one)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'roundtrip.db'}"
        return
    url = dbutil.create_pg_database()
    try:
        yield url
    finally:
        dbutil.drop_pg_database(url)


def test_downgrade_to_base_and_upgrade_again_restores_the_schema(scratch_url):
    cfg = alembic_config(scratch_url)
    engine = sa.create_engine(scratch_url)
    try:
        command.upgrade(cfg, "head")
        migrated = _schema(engine)
        assert {"operation_runs", "backup_sets", "backup_schedules"} <= set(migrated)

        command.downgrade(cfg, "base")
        assert set(_schema(engine)) <= {"alembic_version"}  # every table of ours is gone

        command.upgrade(cfg, "head")
        assert _schema(engine) == migrated
        assert _diff(engine) == []
    finally:
        engine.dispose()
