"""The log sanitizer every process installs (see opsapp.bootstrap)."""

from __future__ import annotations


def install_log_sanitizer() -> None:
    """Install the sanitizing filter on the root logger's handlers (idempotent)."""
