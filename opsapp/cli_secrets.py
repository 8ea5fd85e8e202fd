"""`opsapp secrets …` (see register)."""

from __future__ import annotations


def register(groups) -> None:
    """Add the `secrets` command group to the CLI's sub-parsers."""
