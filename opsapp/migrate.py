"""Run the Alembic migrations programmatically (CLI `db upgrade`, tests, make run)."""

from __future__ import annotations

from dataclasses import dataclass

from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from alembic import command
from opsapp.settings import PROJECT_ROOT


@dataclass(frozen=True)
class UpgradeResult:
    """The revision before and after `upgrade` (None: a database without the schema)."""

    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def describe(self) -> str:
        """One line for an operator: what the upgrade did."""
        if not self.changed:
            return f"database already up to date (revision {self.after})"
        if self.before is None:
            return f"created the schema and migrated to {self.after}"
        return f"migrated from {self.before} to {self.after}"


def alembic_config(database_url: str | None = None) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    cfg.attributes["configure_logger"] = False
    if database_url:
        cfg.attributes["database_url"] = database_url
    return cfg


def current_revision(database_url: str | None = None) -> str | None:
    """The revision the database at `database_url` (default: settings) is at; None if none."""
    from opsapp.db import get_engine

    with get_engine(database_url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(database_url: str | None = None, revision: str = "head") -> UpgradeResult:
    """Bring the database at `database_url` (default: settings) up to `revision`."""
    if database_url and database_url.startswith("sqlite:///"):
        from pathlib import Path

        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    before = current_revision(database_url)
    command.upgrade(alembic_config(database_url), revision)
    return UpgradeResult(before, current_revision(database_url))
