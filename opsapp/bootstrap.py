"""What every opsapp process does first — the web app, a worker, the scheduler, the CLI: install
the log sanitizer (no record leaves the process with a secret in it) and refuse settings that
are unsafe outside the demo (opsapp.settings_guard)."""

from __future__ import annotations


def init_process(component: str) -> None:
    """`component` names the process in messages: "web", "worker", "scheduler", "cli"."""
    from opsapp.logging_setup import install_log_sanitizer
    from opsapp.settings_guard import UnsafeConfiguration, require_safe_settings

    install_log_sanitizer()
    try:
        require_safe_settings(component)
    except UnsafeConfiguration as exc:
        if component == "cli":
            raise  # the CLI prints it as one line with exit code 5
        raise SystemExit(f"opsapp {component}: error: {exc}") from None
