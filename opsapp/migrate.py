"""Run the Alembic migrations programmatically (CLI `db upgrade`, tests, make run)."""

from __future__ import annotations

from alembic.config import Config

from alembic import command
from opsapp.settings import PROJECT_ROOT


def alembic_config(database_url: str | None = None) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    cfg.attributes["configure_logger"] = False
    if database_url:
        cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    """Bring the database at `database_url` (default: settings) up to `revision`."""
    if database_url and database_url.startswith("sqlite:///"):
        from pathlib import Path

        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), revision)
