"""The Alembic migrations and the models agree on both dialects, and migrate down and up."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import opsapp.models  # noqa: F401
from alembic import command
from opsapp.migrate import alembic_config


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


def test_downgrade_to_base_and_upgrade_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    cfg = alembic_config(url)
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")
