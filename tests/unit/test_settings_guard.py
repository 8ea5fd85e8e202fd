"""Outside demo mode no process starts without a strong OPSAPP_SECRET_KEY; keys rotate (the
first encrypts, all decrypt); the built-in key never protects a real secret; the demo Graph
stays on loopback unless told; `.env` never goes into the image."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from opsapp.graph.demo import CONTOSO
from opsapp.settings import DEMO_SECRET_KEY, get_settings
from opsapp.settings_guard import (
    MIN_SECRET_KEY_LENGTH,
    UnsafeConfiguration,
    require_safe_settings,
    secret_key_problem,
)

ROOT = Path(__file__).resolve().parents[2]
STRONG = secrets.token_urlsafe(48)
HINT = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


@pytest.fixture
def env(monkeypatch, tmp_path):
    """Set settings from a clean environment (no developer .env: the cwd is empty)."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("OPSAPP_"):
            monkeypatch.delenv(name)

    def apply(**values: str | None) -> None:
        for name, value in values.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    return apply


# --- the start guard ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, problem",
    [
        (None, "is not set"),
        ("", "is not set"),
        (DEMO_SECRET_KEY, "built-in demo key"),
        ("change-me", "too short (9 characters"),
        (secrets.token_hex(MIN_SECRET_KEY_LENGTH // 2)[1:], "too short (31 characters"),
        ("ab" * 40, "too weak"),
    ],
    # Named ids: random keys would give every collection other test ids (pytest-xdist's
    # workers must collect the same tests).
    ids=["unset", "empty", "demo-key", "change-me", "random-31-chars", "repetitive"],
)
@pytest.mark.parametrize("component", ["web", "worker", "scheduler", "cli"])
def test_live_mode_refuses_a_missing_default_or_weak_key_in_one_line(env, key, problem, component):
    env(OPSAPP_GRAPH_MODE="live", OPSAPP_SECRET_KEY=key)
    with pytest.raises(UnsafeConfiguration) as caught:
        require_safe_settings(component)
    message = str(caught.value)
    assert "\n" not in message
    assert problem in message
    assert message.startswith(f"{component} refuses to start")
    assert HINT in message
    if key and key != DEMO_SECRET_KEY:
        assert key not in message  # what is wrong with the key, never the key


@pytest.mark.parametrize("key", [STRONG, "k" + secrets.token_hex(16)], ids=["strong", "random-hex"])
def test_live_mode_starts_with_a_strong_key(env, key):
    env(OPSAPP_GRAPH_MODE="live", OPSAPP_SECRET_KEY=key)
    assert len(key) >= MIN_SECRET_KEY_LENGTH
    require_safe_settings("web")  # no exception


@pytest.mark.parametrize("key", [None, DEMO_SECRET_KEY, "short"])
def test_demo_mode_keeps_the_built_in_or_any_key_working(env, key):
    env(OPSAPP_GRAPH_MODE=None, OPSAPP_SECRET_KEY=key)
    assert get_settings().graph_mode == "demo"
    require_safe_settings("cli")


def test_old_keys_are_not_judged_so_the_built_in_key_can_be_rotated_away(env):
    env(OPSAPP_GRAPH_MODE="live", OPSAPP_SECRET_KEY=STRONG, OPSAPP_SECRET_KEYS_OLD=DEMO_SECRET_KEY)
    require_safe_settings("worker")
    assert get_settings().secret_keys() == [STRONG, DEMO_SECRET_KEY]


def test_secret_key_problem_is_none_only_for_a_strong_key():
    assert secret_key_problem(STRONG) is None
    assert secret_key_problem(STRONG, is_set=False) == "OPSAPP_SECRET_KEY is not set"
    assert secret_key_problem(DEMO_SECRET_KEY) is not None


def test_settings_never_show_the_keys(env):
    env(OPSAPP_SECRET_KEY=STRONG, OPSAPP_SECRET_KEYS_OLD="old-key-one,old-key-two")
    settings = get_settings()
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert STRONG not in shown
    assert "old-key-one" not in shown


def test_secret_keys_lists_the_current_key_first_then_the_old_ones(env):
    env(OPSAPP_SECRET_KEY="current", OPSAPP_SECRET_KEYS_OLD=" old-1 ,, current, old-2,old-1 ")
    assert get_settings().secret_keys() == ["current", "old-1", "old-2"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "component, code",
    [
        ("web", "import opsapp.opsapp"),
        ("worker", "import opsapp.worker.app"),
        ("scheduler", "import opsapp.worker.scheduler"),
        (
            "cli",
            "import sys, opsapp.cli; sys.exit(opsapp.cli.main(['ops', 'list', '--tenant', 'x']))",
        ),
    ],
)
def test_each_process_refuses_to_start_in_live_mode_with_the_built_in_key(
    tmp_path, component, code
):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSAPP_")}
    env.update(
        OPSAPP_GRAPH_MODE="live",
        OPSAPP_SECRET_KEY=DEMO_SECRET_KEY,
        OPSAPP_BROKER="memory",
        DATABASE_URL=f"sqlite:///{tmp_path / 'never-created.db'}",
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode != 0
    # the scheduler imports the worker's broker first, so either may be the one that refuses
    assert "refuses to start in live mode: OPSAPP_SECRET_KEY is the built-in" in proc.stderr
    assert HINT in proc.stderr
    assert not (tmp_path / "never-created.db").exists()
    if component == "cli":
        assert proc.returncode == 5
        assert proc.stderr.count("\n") == 1
        assert "Traceback" not in proc.stderr


# --- encryption and rotation ----------------------------------------------------------------


def test_the_first_key_encrypts_and_every_key_decrypts(env):
    from opsapp.security import SecretUnreadable, decrypt_secret, encrypt_secret

    env(OPSAPP_SECRET_KEY="old-key")
    token = encrypt_secret("real-secret-value")
    env(OPSAPP_SECRET_KEY=STRONG)
    with pytest.raises(SecretUnreadable):
        decrypt_secret(token)
    env(OPSAPP_SECRET_KEY=STRONG, OPSAPP_SECRET_KEYS_OLD="another,old-key")
    assert decrypt_secret(token) == "real-secret-value"
    fresh = encrypt_secret("real-secret-value")
    assert decrypt_secret(fresh, secret_keys=[STRONG]) == "real-secret-value"
    with pytest.raises(SecretUnreadable):
        decrypt_secret(fresh, secret_keys=["old-key"])


def test_an_unreadable_secret_error_names_no_secret(env):
    from opsapp.security import SecretUnreadable, decrypt_secret, encrypt_secret

    token = encrypt_secret("plain-secret-xyz", secret_key="lost-key")
    env(OPSAPP_SECRET_KEY=STRONG)
    for bad in (token, "not-a-token", "ümlaut"):
        with pytest.raises(SecretUnreadable) as caught:
            decrypt_secret(bad)
        assert "plain-secret-xyz" not in str(caught.value)
        assert STRONG not in str(caught.value)


def test_the_built_in_key_never_encrypts_a_real_secret_even_in_demo_mode(env):
    from opsapp.security import WeakSecretKey, decrypt_secret, encrypt_secret

    env(OPSAPP_SECRET_KEY=None)
    with pytest.raises(WeakSecretKey) as caught:
        encrypt_secret("abc8Q~a-real-client-secret-from-entra")
    assert isinstance(caught.value, UnsafeConfiguration)  # the CLI maps it to exit 5
    assert "abc8Q~a-real-client-secret-from-entra" not in str(caught.value)
    assert HINT in str(caught.value)
    # the demo tenants' secrets are public anyway: the embedded demo keeps working
    token = encrypt_secret(CONTOSO.client_secret)
    assert decrypt_secret(token, secret_key=DEMO_SECRET_KEY) == CONTOSO.client_secret


# --- the demo Graph's bind ------------------------------------------------------------------


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("10.0.0.5", False),
        ("demo.example.com", False),
    ],
)
def test_only_loopback_hosts_count_as_loopback(host, loopback):
    from opsapp.graph.demo.server import is_loopback_host

    assert is_loopback_host(host) is loopback


def test_the_demo_graph_refuses_a_remote_bind_unless_told(env, monkeypatch):
    from opsapp.graph.demo import server

    calls = []
    monkeypatch.setattr(server.uvicorn, "run", lambda *a, **kw: calls.append(kw["host"]))
    env(OPSAPP_DEMO_GRAPH_ALLOW_REMOTE=None)
    with pytest.raises(server.RemoteBindRefused) as caught:
        server.serve(host="0.0.0.0")
    assert isinstance(caught.value, UnsafeConfiguration)
    assert "OPSAPP_DEMO_GRAPH_ALLOW_REMOTE" in str(caught.value)
    with pytest.raises(server.RemoteBindRefused):
        server.BackgroundDemoServer(host="0.0.0.0")
    assert calls == []

    server.serve(host="127.0.0.1")
    server.serve(host="0.0.0.0", allow_remote=True)
    env(OPSAPP_DEMO_GRAPH_ALLOW_REMOTE="1")
    server.serve(host="0.0.0.0")
    with pytest.raises(server.RemoteBindRefused):
        server.serve(host="0.0.0.0", allow_remote=False)  # the explicit argument wins
    assert calls == ["127.0.0.1", "0.0.0.0", "0.0.0.0"]


def test_the_demo_graph_cli_refuses_a_remote_bind_with_exit_5(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSAPP_")}
    proc = subprocess.run(
        [sys.executable, "-m", "opsapp.cli", "demo", "graph", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 5
    assert proc.stderr.count("\n") == 1
    assert "OPSAPP_DEMO_GRAPH_ALLOW_REMOTE to 1" in proc.stderr


# --- packaging ------------------------------------------------------------------------------


def test_env_files_stay_out_of_the_image_but_the_example_goes_in():
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ".env" in lines
    assert ".env.*" in lines
    assert lines.index("!.env.example") > lines.index(".env.*")


def test_env_example_says_how_to_make_a_key_and_rotate():
    example = (ROOT / ".env.example").read_text()
    assert HINT in example
    assert "opsapp secrets rotate" in example
