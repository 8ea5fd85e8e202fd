"""Settings that must hold before a process starts (see opsapp.bootstrap)."""

from __future__ import annotations


class UnsafeConfiguration(RuntimeError):
    """The process refuses to start; the message says, in one line, how to fix it."""


def require_safe_settings(component: str) -> None:
    """Raise UnsafeConfiguration when the settings are unsafe for `component`."""
