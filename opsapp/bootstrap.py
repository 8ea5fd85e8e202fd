"""What every opsapp process does first — the web app, a worker, the scheduler, the CLI: install
the log sanitizer (no record leaves the process with a secret in it) and refuse settings that
are unsafe outside the demo (opsapp.settings_guard)."""

from __future__ import annotations


def init_process(component: str) -> None:
    """`component` names the process in messages: "web", "worker", "scheduler", "cli"."""
    from opsapp.logging_setup import install_log_sanitizer
    from opsapp.settings_guard import require_safe_settings

    install_log_sanitizer()
    require_safe_settings(component)
