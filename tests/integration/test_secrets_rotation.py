"""`opsapp secrets rotate`, run as a real subprocess on SQLite and PostgreSQL: every stored
client secret is re-encrypted with the current key in one transaction; a secret no key reads is
named by tenant slug, never printed and never overwritten, and the command then exits with
EXIT_INCOMPLETE instead of 0."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import pytest
from sqlmodel import select

from opsapp.cli_errors import EXIT_INCOMPLETE
from opsapp.db import session_scope
from opsapp.models import ProviderKind, Tenant
from opsapp.security import SecretUnreadable, decrypt_secret, encrypt_secret
from opsapp.settings import DEMO_SECRET_KEY, get_settings
from tests.factories import make_tenant

OPSAPP = [sys.executable, "-m", "opsapp.cli"]
OLD_KEY = "old-" + secrets.token_urlsafe(32)
NEW_KEY = "new-" + secrets.token_urlsafe(32)
LOST_KEY = "lost-" + secrets.token_urlsafe(32)
PLAIN = {
    "acme": "acm8Q~acme-client-secret-value-0123456789",
    "globex": "glx8Q~globex-client-secret-value-9876543",
    "orphan": "orp8Q~orphan-client-secret-value-5555555",
}


@pytest.fixture
def opsapp(db, tmp_path):
    """Run the CLI against the test database with exactly the given OPSAPP_* settings."""
    url, _engine = db

    def run(*args: str, stdin: str | None = None, **settings: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPSAPP_")}
        env.update(DATABASE_URL=url, OPSAPP_BROKER="memory", **settings)
        return subprocess.run(
            [*OPSAPP, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,  # no developer .env
            timeout=120,
        )

    return run


def _tokens(engine) -> dict[str, str | None]:
    with session_scope(engine) as session:
        return {t.slug: t.client_secret_encrypted for t in session.exec(select(Tenant)).all()}


def _seed(engine, monkeypatch) -> dict[str, str | None]:
    """acme and globex under OLD_KEY, orphan under a key nobody has any more, bare without one."""
    monkeypatch.setenv("OPSAPP_SECRET_KEY", OLD_KEY)
    get_settings.cache_clear()
    for slug in ("acme", "globex"):
        make_tenant(
            engine,
            slug,
            provider=ProviderKind.client_credentials,
            entra_tenant_id=f"{slug}-tenant",
            client_id=f"{slug}-client",
            client_secret=PLAIN[slug],
        )
    orphan = make_tenant(engine, "orphan", provider=ProviderKind.client_credentials)
    make_tenant(engine, "bare")
    with session_scope(engine) as session:
        row = session.get(Tenant, orphan.id)
        row.client_secret_encrypted = encrypt_secret(PLAIN["orphan"], secret_key=LOST_KEY)
        session.add(row)
    get_settings.cache_clear()
    return _tokens(engine)


def _assert_no_secret_in(*texts: str) -> None:
    for text in texts:
        for value in (*PLAIN.values(), OLD_KEY, NEW_KEY, LOST_KEY):
            assert value not in text


def test_rotate_reencrypts_every_readable_secret_and_reports_the_unreadable(
    engine, opsapp, monkeypatch
):
    before = _seed(engine, monkeypatch)
    proc = opsapp(
        "secrets",
        "rotate",
        OPSAPP_GRAPH_MODE="live",
        OPSAPP_SECRET_KEY=NEW_KEY,
        OPSAPP_SECRET_KEYS_OLD=f"{DEMO_SECRET_KEY},{OLD_KEY}",
    )
    assert proc.returncode == EXIT_INCOMPLETE, proc.stderr  # done, but orphan is left as it was
    assert json.loads(proc.stdout) == {"rotated": 2, "unreadable": 1}
    assert proc.stderr.count("\n") == 1
    assert "orphan" in proc.stderr and "acme" not in proc.stderr
    _assert_no_secret_in(proc.stdout, proc.stderr)

    after = _tokens(engine)
    assert after["orphan"] == before["orphan"]  # not overwritten
    assert after["bare"] is None
    for slug in ("acme", "globex"):
        assert after[slug] != before[slug]
        assert decrypt_secret(after[slug], secret_keys=[NEW_KEY]) == PLAIN[slug]
        with pytest.raises(SecretUnreadable):
            decrypt_secret(after[slug], secret_keys=[OLD_KEY])
    assert decrypt_secret(after["orphan"], secret_keys=[LOST_KEY]) == PLAIN["orphan"]

    # the old key can go now: a second rotation needs only the new one
    again = opsapp("secrets", "rotate", OPSAPP_GRAPH_MODE="live", OPSAPP_SECRET_KEY=NEW_KEY)
    assert again.returncode == EXIT_INCOMPLETE, again.stderr
    assert json.loads(again.stdout) == {"rotated": 2, "unreadable": 1}
    assert decrypt_secret(_tokens(engine)["acme"], secret_keys=[NEW_KEY]) == PLAIN["acme"]


def test_without_the_old_key_nothing_is_rotated_and_nothing_is_changed(engine, opsapp, monkeypatch):
    before = _seed(engine, monkeypatch)
    proc = opsapp("secrets", "rotate", OPSAPP_GRAPH_MODE="live", OPSAPP_SECRET_KEY=NEW_KEY)
    assert proc.returncode == EXIT_INCOMPLETE, proc.stderr
    assert json.loads(proc.stdout) == {"rotated": 0, "unreadable": 3}
    for slug in ("acme", "globex", "orphan"):
        assert slug in proc.stderr
    _assert_no_secret_in(proc.stdout, proc.stderr)
    assert _tokens(engine) == before


def test_rotation_is_one_transaction(engine, monkeypatch):
    """A failure half-way leaves every secret as it was (nothing is committed row by row)."""
    from cryptography.fernet import MultiFernet

    from opsapp.security import rotate_stored_secrets

    before = _seed(engine, monkeypatch)
    real_rotate = MultiFernet.rotate
    seen = []

    def failing_second(self, token):
        seen.append(token)
        if len(seen) == 2:
            raise RuntimeError("disk full")
        return real_rotate(self, token)

    monkeypatch.setattr(MultiFernet, "rotate", failing_second)
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        rotate_stored_secrets(session, secret_keys=[NEW_KEY, OLD_KEY])
    assert len(seen) == 2
    assert _tokens(engine) == before


def test_live_mode_refuses_to_rotate_onto_a_weak_key(engine, opsapp, monkeypatch):
    before = _seed(engine, monkeypatch)
    proc = opsapp(
        "secrets",
        "rotate",
        OPSAPP_GRAPH_MODE="live",
        OPSAPP_SECRET_KEY="too-short",
        OPSAPP_SECRET_KEYS_OLD=OLD_KEY,
    )
    assert proc.returncode == 5
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "secrets.token_urlsafe(48)" in proc.stderr
    _assert_no_secret_in(proc.stderr)
    assert _tokens(engine) == before


def test_a_real_secret_is_refused_under_the_built_in_key_and_nothing_is_created(engine, opsapp):
    """Demo mode, OPSAPP_SECRET_KEY unset: the issue's silent public encryption is refused."""
    proc = opsapp(
        "tenants",
        "create",
        "acme",
        "--name",
        "Acme",
        "--client-id",
        "acme-client",
        "--entra-tenant-id",
        "acme-tenant",
        "--client-secret-stdin",
        stdin=PLAIN["acme"] + "\n",
    )
    assert proc.returncode == 5
    assert "built-in demo key" in proc.stderr
    assert proc.stderr.count("\n") == 1
    _assert_no_secret_in(proc.stdout, proc.stderr)
    assert _tokens(engine) == {}

    created = opsapp(
        "tenants",
        "create",
        "acme",
        "--name",
        "Acme",
        "--client-id",
        "acme-client",
        "--entra-tenant-id",
        "acme-tenant",
        "--client-secret-stdin",
        stdin=PLAIN["acme"] + "\n",
        OPSAPP_GRAPH_MODE="live",
        OPSAPP_SECRET_KEY=NEW_KEY,
    )
    assert created.returncode == 0, created.stderr
    _assert_no_secret_in(created.stdout, created.stderr)
    token = _tokens(engine)["acme"]
    assert decrypt_secret(token, secret_keys=[NEW_KEY]) == PLAIN["acme"]
    with pytest.raises(SecretUnreadable):
        decrypt_secret(token, secret_keys=[DEMO_SECRET_KEY])


def test_the_demo_seed_still_works_with_the_built_in_key_and_rotates(engine, opsapp):
    assert opsapp("demo", "seed").returncode == 0
    demo_tokens = _tokens(engine)
    assert len(demo_tokens) == 3
    proc = opsapp(
        "secrets", "rotate", OPSAPP_SECRET_KEY=NEW_KEY, OPSAPP_SECRET_KEYS_OLD=DEMO_SECRET_KEY
    )
    assert proc.returncode == 0, proc.stderr  # nothing left out: success
    assert json.loads(proc.stdout) == {"rotated": 3, "unreadable": 0}
    assert proc.stderr == ""
    for token in _tokens(engine).values():
        decrypt_secret(token, secret_keys=[NEW_KEY])  # raises if not re-encrypted
