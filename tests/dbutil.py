"""Test databases: a fresh SQLite file and a fresh PostgreSQL database per test session,
migrated with the real Alembic migrations, emptied between tests."""

from __future__ import annotations

import os
import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsapp.db import get_engine
from opsapp.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "OPSAPP_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TABLES = (
    "policy_versions",
    "policies",
    "inventory_items",
    "directory_groups",
    "notifications",
    "operation_runs",
    "memberships",
    "user_sessions",
    "sign_in_attempts",
    "users",
    "tenants",
    "job_locks",
)


def create_pg_database() -> str:
    name = f"opsapp_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    get_engine(url).dispose()
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def migrated_engine(url: str) -> Engine:
    upgrade(url)
    return get_engine(url)


def empty_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES:
                conn.execute(sa.text(f"DELETE FROM {table}"))
