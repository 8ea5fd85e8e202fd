"""Shared fixtures. Database tests run on BOTH SQLite and PostgreSQL (the `engine` fixture is
parametrized); each test starts from empty tables on a migrated database."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `tests.*` helpers importable

# Under pytest-xdist each worker process gets a Redis database of its own (gw0 → 1, gw1 → 2…),
# as it gets a PostgreSQL database of its own: keys derived from tenant ids (the Graph budget,
# locks) would otherwise be shared between tests running side by side. Set before any test
# helper reads OPSAPP_TEST_REDIS_URL at import.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _XDIST_WORKER.startswith("gw") and "OPSAPP_TEST_REDIS_URL" not in os.environ:
    os.environ["OPSAPP_TEST_REDIS_URL"] = f"redis://127.0.0.1:6379/{int(_XDIST_WORKER[2:]) + 1}"

from tests import dbutil  # noqa: E402


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'opsapp-test.db'}"


@pytest.fixture(scope="session")
def pg_url():
    url = dbutil.create_pg_database()
    yield url
    dbutil.drop_pg_database(url)


@pytest.fixture(scope="session")
def _migrated(request):
    return {}


def _engine_for(kind: str, request, cache: dict):
    if kind not in cache:
        url = request.getfixturevalue("sqlite_url" if kind == "sqlite" else "pg_url")
        cache[kind] = (url, dbutil.migrated_engine(url))
    return cache[kind]


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, _migrated):
    """(url, engine) of an empty, migrated database — once per dialect."""
    url, engine = _engine_for(request.param, request, _migrated)
    dbutil.empty_tables(engine)
    return url, engine


@pytest.fixture
def engine(db):
    return db[1]


@pytest.fixture
def db_url(db):
    return db[0]


@pytest.fixture
def pg_engine(request, _migrated):
    url, engine = _engine_for("postgres", request, _migrated)
    dbutil.empty_tables(engine)
    return engine


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch):
    # Tests pass engines explicitly; a stray default DATABASE_URL must never be the dev database.
    monkeypatch.setenv("OPSAPP_SECRET_KEY", "test-secret-key")
    from opsapp.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
