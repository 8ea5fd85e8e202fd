"""Alembic environment: the URL comes from opsapp settings (or a connection handed in)."""

from __future__ import annotations

from logging.config import fileConfig

from sqlmodel import SQLModel

import opsapp.models  # noqa: F401  (registers every table on the metadata)
from alembic import context
from opsapp.db import get_engine
from opsapp.settings import get_settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=get_settings().database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_with(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    url = config.attributes.get("database_url") or get_settings().database_url
    with get_engine(url).connect() as conn:
        _run_with(conn)
        conn.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
