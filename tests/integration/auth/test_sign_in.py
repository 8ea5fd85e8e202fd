"""Sign-in: password check, generic refusals, attempt records and the rate limit (per e-mail and
per client), on SQLite and PostgreSQL with the real argon2 hasher."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from opsapp.auth import (
    AuthenticatedUser,
    SignInFailed,
    SignInThrottled,
    resolve_session,
    sign_in,
)
from opsapp.auth import service as auth_service
from opsapp.auth.throttle import MAX_FAILURES_PER_CLIENT, MAX_FAILURES_PER_EMAIL, WINDOW
from tests.factories import PASSWORD, make_user

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
GENERIC = "Invalid e-mail or password."


def _attempts(engine) -> list[tuple[str, str, bool]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT email_key, client_key, succeeded FROM sign_in_attempts ORDER BY id")
        ).all()
    return [(e, c, bool(s)) for e, c, s in rows]


@pytest.fixture
def verify_calls(monkeypatch):
    """The password hashes verify_password was called with (the real hasher still runs)."""
    calls: list[str] = []
    real = auth_service.verify_password

    def spy(password_hash: str, password: str) -> bool:
        calls.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(auth_service, "verify_password", spy)
    return calls


def _fail(engine, email: str, *, client: str = "10.0.0.1", now: datetime = T0) -> SignInFailed:
    with pytest.raises(SignInFailed) as info:
        sign_in(email=email, password="wrong password!", client_key=client, engine=engine, now=now)
    return info.value


def _ok(engine, email: str = "ada@example.test", *, client: str = "10.0.0.1", now=T0):
    return sign_in(email=email, password=PASSWORD, client_key=client, engine=engine, now=now)


def test_right_password_signs_in_and_returns_a_usable_session(engine):
    user = make_user(engine, email="ada@example.test")

    result = sign_in(
        email="ada@example.test", password=PASSWORD, client_key="10.0.0.1", engine=engine, now=T0
    )

    assert result.user == AuthenticatedUser(
        id=user.id, email="ada@example.test", display_name="ada"
    )
    assert result.expires_at == T0 + timedelta(hours=12)
    assert len(result.token) >= 40
    assert resolve_session(result.token, engine=engine, now=T0) == result.user
    assert _attempts(engine) == [("ada@example.test", "10.0.0.1", True)]


def test_the_email_is_matched_stripped_and_case_insensitively(engine):
    make_user(engine, email="ada@example.test")
    result = sign_in(
        email="  Ada@Example.TEST ", password=PASSWORD, client_key="c", engine=engine, now=T0
    )
    assert result.user.email == "ada@example.test"
    assert _attempts(engine)[0][0] == "ada@example.test"


def test_wrong_password_is_refused_with_the_generic_message(engine):
    make_user(engine, email="ada@example.test")
    exc = _fail(engine, "ada@example.test")
    assert type(exc) is SignInFailed and str(exc) == GENERIC
    assert _attempts(engine) == [("ada@example.test", "10.0.0.1", False)]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM user_sessions")).scalar() == 0


def test_unknown_email_gets_the_same_message_after_a_dummy_password_check(engine, verify_calls):
    exc = _fail(engine, "nobody@example.test")
    assert type(exc) is SignInFailed and str(exc) == GENERIC
    assert verify_calls == [auth_service.DUMMY_PASSWORD_HASH]  # same argon2 work as a real user
    assert _attempts(engine) == [("nobody@example.test", "10.0.0.1", False)]


def test_the_dummy_hash_uses_the_current_hasher_parameters():
    assert PasswordHasher().check_needs_rehash(auth_service.DUMMY_PASSWORD_HASH) is False


@pytest.mark.parametrize(("email", "password"), [("", PASSWORD), ("  ", PASSWORD), ("a@b.c", "")])
def test_empty_email_or_password_is_refused_without_recording_an_attempt(
    engine, verify_calls, email, password
):
    with pytest.raises(SignInFailed) as info:
        sign_in(email=email, password=password, client_key="c", engine=engine, now=T0)
    assert str(info.value) == GENERIC
    assert verify_calls == [] and _attempts(engine) == []


def test_the_session_token_is_stored_only_as_its_sha256(engine):
    make_user(engine, email="ada@example.test")
    result = sign_in(
        email="ada@example.test", password=PASSWORD, client_key="10.0.0.9", engine=engine, now=T0
    )
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM user_sessions")).mappings().all()
    [row] = rows
    assert row["token_hash"] == hashlib.sha256(result.token.encode()).hexdigest()
    assert all(result.token not in str(value) for value in row.values())
    assert row["client"] == "10.0.0.9"


def test_five_failures_for_an_email_throttle_it_until_the_oldest_leaves_the_window(engine):
    make_user(engine, email="ada@example.test")
    for i in range(MAX_FAILURES_PER_EMAIL):  # one failure every 5 s, from changing addresses
        _fail(engine, "ada@example.test", client=f"10.0.0.{i}", now=T0 + timedelta(seconds=5 * i))

    now = T0 + timedelta(seconds=30)
    exc = _fail(engine, "ADA@example.test", client="10.9.9.9", now=now)

    assert isinstance(exc, SignInThrottled)
    assert exc.retry_after_seconds == 30  # T0 + 60 s - (T0 + 30 s)
    assert str(exc) == "Too many sign-in attempts. Try again in 30 seconds."
    assert len(_attempts(engine)) == MAX_FAILURES_PER_EMAIL  # the throttled one is not recorded
    # another account is not affected
    make_user(engine, email="bob@example.test")
    assert sign_in(
        email="bob@example.test", password=PASSWORD, client_key="10.9.9.9", engine=engine, now=now
    )


def test_a_throttled_attempt_with_the_right_password_is_refused_without_checking_it(
    engine, verify_calls
):
    make_user(engine, email="ada@example.test")
    for _ in range(MAX_FAILURES_PER_EMAIL):
        _fail(engine, "ada@example.test")
    verify_calls.clear()

    with pytest.raises(SignInThrottled) as info:
        sign_in(
            email="ada@example.test",
            password=PASSWORD,
            client_key="10.0.0.1",
            engine=engine,
            now=T0 + timedelta(seconds=59, milliseconds=500),
        )

    assert info.value.retry_after_seconds == 1  # rounded up, never 0
    assert verify_calls == []  # no hashing work
    assert len(_attempts(engine)) == MAX_FAILURES_PER_EMAIL
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM user_sessions")).scalar() == 0


def test_the_email_can_sign_in_again_once_the_window_has_passed(engine):
    make_user(engine, email="ada@example.test")
    for _ in range(MAX_FAILURES_PER_EMAIL):
        _fail(engine, "ada@example.test")

    result = sign_in(
        email="ada@example.test",
        password=PASSWORD,
        client_key="10.0.0.1",
        engine=engine,
        now=T0 + WINDOW,
    )
    assert result.user.email == "ada@example.test"


def test_too_many_failures_from_one_client_throttle_it_for_every_email(engine):
    make_user(engine, email="ada@example.test")
    for i in range(MAX_FAILURES_PER_CLIENT):  # spraying different accounts from one address
        _fail(engine, f"guess{i}@example.test", client="203.0.113.7", now=T0 + timedelta(seconds=i))

    now = T0 + timedelta(seconds=40)
    with pytest.raises(SignInThrottled) as info:
        _ok(engine, client="203.0.113.7", now=now)
    assert info.value.retry_after_seconds == 20
    # another address is not affected, and the client recovers after the window
    assert _ok(engine, client="198.51.100.1", now=now)
    assert _ok(engine, client="203.0.113.7", now=T0 + WINDOW)


def test_an_unknown_client_address_is_not_limited_as_one_client(engine):
    for i in range(MAX_FAILURES_PER_CLIENT + 1):
        exc = _fail(engine, f"guess{i}@example.test", client="", now=T0)
        assert not isinstance(exc, SignInThrottled)


def test_successful_sign_ins_do_not_count_towards_the_limit(engine):
    make_user(engine, email="ada@example.test")
    for _ in range(MAX_FAILURES_PER_EMAIL + 2):
        sign_in(email="ada@example.test", password=PASSWORD, client_key="c", engine=engine, now=T0)
    assert [s for *_, s in _attempts(engine)] == [True] * (MAX_FAILURES_PER_EMAIL + 2)
