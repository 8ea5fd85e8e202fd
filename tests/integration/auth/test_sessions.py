"""Sessions: resolve, sliding expiry (written at most once a minute), sign-out, revocation and
pruning, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from opsapp.auth import (
    SignInFailed,
    prune_sign_in_records,
    resolve_session,
    revoke_user_sessions,
    sign_in,
    sign_out,
)
from opsapp.db import session_scope
from opsapp.models import UserSession
from opsapp.models.types import utcnow
from opsapp.settings import get_settings
from opsapp.worker.maintenance import prune_runs_job
from tests.factories import PASSWORD, make_user

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _sign_in(engine, email: str = "ada@example.test", *, now: datetime = T0) -> str:
    result = sign_in(email=email, password=PASSWORD, client_key="10.0.0.1", engine=engine, now=now)
    return result.token


def _stored(engine) -> tuple[datetime, datetime]:
    """(last_seen_at, expires_at) of the only session row."""
    with session_scope(engine) as session:
        [row] = session.exec(select(UserSession)).all()
        return row.last_seen_at, row.expires_at


def _expiry(engine) -> datetime:
    return _stored(engine)[1]


def _count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()


@pytest.fixture
def ada(engine):
    return make_user(engine, email="ada@example.test")


def test_a_token_resolves_to_its_user(engine, ada):
    token = _sign_in(engine)
    user = resolve_session(token, engine=engine, now=T0 + timedelta(seconds=1))
    assert (user.id, user.email, user.display_name) == (ada.id, "ada@example.test", "ada")


@pytest.mark.parametrize("token", [None, ""])
def test_no_token_resolves_to_nobody_without_touching_the_database(token):
    broken = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert resolve_session(token, engine=broken) is None
    sign_out(token, engine=broken)  # nothing to do, no connection either


def test_an_unknown_token_resolves_to_nobody(engine, ada):
    _sign_in(engine)
    assert resolve_session("not-a-real-token", engine=engine, now=T0) is None


def test_a_session_expires_after_session_hours_and_its_row_is_dropped(engine, ada):
    token = _sign_in(engine)
    assert resolve_session(token, engine=engine, now=T0 + 12 * HOUR - timedelta(seconds=1))
    assert resolve_session(token, engine=engine, now=T0 + 24 * HOUR) is None  # 12 h idle
    assert _count(engine, "user_sessions") == 0


def test_an_idle_session_expires_at_exactly_session_hours(engine, ada):
    token = _sign_in(engine)
    assert resolve_session(token, engine=engine, now=T0 + 12 * HOUR) is None


def test_session_hours_comes_from_the_settings(engine, ada, monkeypatch):
    monkeypatch.setenv("OPSAPP_SESSION_HOURS", "1")
    get_settings.cache_clear()
    token = _sign_in(engine)
    assert _expiry(engine) == T0 + HOUR
    assert resolve_session(token, engine=engine, now=T0 + HOUR) is None


def test_activity_slides_the_expiry_forward(engine, ada):
    token = _sign_in(engine)
    for hours in (10, 20, 30):  # active every 10 h: far beyond the first 12 h
        assert resolve_session(token, engine=engine, now=T0 + hours * HOUR) is not None
    assert _expiry(engine) == T0 + 42 * HOUR


def test_polling_writes_the_session_at_most_once_a_minute(engine, ada):
    token = _sign_in(engine)
    before = _stored(engine)
    for seconds in (2, 4, 30, 59):
        assert resolve_session(token, engine=engine, now=T0 + timedelta(seconds=seconds))
    assert _stored(engine) == before  # no write yet

    assert resolve_session(token, engine=engine, now=T0 + timedelta(seconds=60))
    assert _expiry(engine) == T0 + timedelta(seconds=60) + 12 * HOUR
    touched = _stored(engine)
    assert touched != before
    assert resolve_session(token, engine=engine, now=T0 + timedelta(seconds=90))
    assert _stored(engine) == touched


def test_sign_out_ends_the_session_and_is_idempotent(engine, ada):
    token = _sign_in(engine)
    other = _sign_in(engine)  # the same user in another browser

    sign_out(token, engine=engine)
    sign_out(token, engine=engine)

    assert resolve_session(token, engine=engine, now=T0) is None
    assert resolve_session(other, engine=engine, now=T0) is not None


def test_revoking_a_users_sessions_signs_them_out_everywhere_and_nobody_else(engine, ada):
    make_user(engine, email="bob@example.test")
    tokens = [_sign_in(engine), _sign_in(engine)]
    bob = _sign_in(engine, "bob@example.test")

    assert revoke_user_sessions(ada.id, engine=engine) == 2
    assert revoke_user_sessions(ada.id, engine=engine) == 0

    assert [resolve_session(t, engine=engine, now=T0) for t in tokens] == [None, None]
    assert resolve_session(bob, engine=engine, now=T0).email == "bob@example.test"


def test_deleting_a_user_deletes_their_sessions(engine, ada):
    _sign_in(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM users WHERE id = :id"), {"id": ada.id})
    assert _count(engine, "user_sessions") == 0


def _failed_attempt(engine, now: datetime) -> None:
    with pytest.raises(SignInFailed):
        sign_in(email="x@example.test", password="wrong!!!", client_key="c", engine=engine, now=now)


def test_prune_deletes_expired_sessions_and_day_old_attempts_only(engine, ada):
    now = T0 + 48 * HOUR
    _sign_in(engine, now=now - 13 * HOUR)  # expired (plus one succeeded attempt, 13 h old)
    live = _sign_in(engine, now=now - HOUR)  # plus a succeeded attempt, 1 h old
    _failed_attempt(engine, now - 25 * HOUR)  # old
    _failed_attempt(engine, now - 23 * HOUR)  # kept

    assert prune_sign_in_records(engine=engine, now=now) == 2
    assert prune_sign_in_records(engine=engine, now=now) == 0
    assert _count(engine, "user_sessions") == 1 and _count(engine, "sign_in_attempts") == 3
    assert resolve_session(live, engine=engine, now=now) is not None


def test_the_daily_prune_job_also_prunes_sign_in_records(engine, ada):
    _sign_in(engine, now=utcnow() - 13 * HOUR)
    _failed_attempt(engine, utcnow() - 25 * HOUR)

    prune_runs_job(engine=engine)

    assert _count(engine, "user_sessions") == 0
    assert _count(engine, "sign_in_attempts") == 1  # the succeeded attempt, 13 h old
