"""Settings that must hold before a process starts (see opsapp.bootstrap).

Outside demo mode (OPSAPP_GRAPH_MODE=live) the web app, workers, scheduler and CLI refuse to
start unless OPSAPP_SECRET_KEY is a strong key: set, not the built-in demo key, at least
MIN_SECRET_KEY_LENGTH characters with some variety. In demo mode any key works (the built-in
one included) so the embedded demo and the tests run unchanged; a real (non-demo) client secret
is still never encrypted with the built-in key (opsapp.security.encrypt_secret), which covers a
real tenant added to a demo-mode deployment without a database query at every start.

Messages never contain a key, only what is wrong with it and how to make a good one.
"""

from __future__ import annotations

from opsapp.settings import DEMO_SECRET_KEY, Settings, get_settings

MIN_SECRET_KEY_LENGTH = 32
MIN_DISTINCT_CHARACTERS = 10
MAKE_KEY_HINT = 'generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'


class UnsafeConfiguration(RuntimeError):
    """The process refuses to start; the message says, in one line, how to fix it."""


def secret_key_problem(key: str, *, is_set: bool = True) -> str | None:
    """What makes `key` unfit to protect real secrets (None when it is fine). Never echoes it."""
    if not is_set or not key:
        return "OPSAPP_SECRET_KEY is not set"
    if key == DEMO_SECRET_KEY:
        return "OPSAPP_SECRET_KEY is the built-in demo key, which is public"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return (
            f"OPSAPP_SECRET_KEY is too short ({len(key)} characters, "
            f"at least {MIN_SECRET_KEY_LENGTH} needed)"
        )
    if len(set(key)) < MIN_DISTINCT_CHARACTERS:
        return "OPSAPP_SECRET_KEY is too weak (too few distinct characters)"
    return None


def _secret_key_is_set(settings: Settings) -> bool:
    return "secret_key" in settings.model_fields_set


def require_safe_settings(component: str) -> None:
    """Raise UnsafeConfiguration when the settings are unsafe for `component`."""
    settings = get_settings()
    if settings.graph_mode == "demo":
        return
    problem = secret_key_problem(
        settings.secret_key.get_secret_value(), is_set=_secret_key_is_set(settings)
    )
    if problem:
        raise UnsafeConfiguration(
            f"{component} refuses to start in live mode: {problem}; {MAKE_KEY_HINT} "
            "(for secrets stored under a previous key, list it in OPSAPP_SECRET_KEYS_OLD and run "
            "'opsapp secrets rotate')"
        )
