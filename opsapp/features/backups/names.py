"""Names of backup sets and schedules: trimmed, single-line, printable, bounded."""

from __future__ import annotations

import unicodedata

from opsapp.features.backups.errors import BackupInputError
from opsapp.models.backups import NAME_MAX


def clean_name(raw: object, *, field: str = "name") -> str:
    """The name as stored, or BackupInputError saying what is wrong with it."""
    if not isinstance(raw, str):
        raise BackupInputError("Name must be text.", field=field)
    name = raw.strip()
    if not name:
        raise BackupInputError("Name is required.", field=field)
    if len(name) > NAME_MAX:
        raise BackupInputError(
            f"Name is too long ({len(name):,} characters; at most {NAME_MAX}).", field=field
        )
    # Cc: tabs, newlines, escapes; Cf/Co/Cs: invisible formatting, private use, lone surrogates.
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs") for ch in name):
        raise BackupInputError(
            "Name must not contain control or invisible characters (tabs, line breaks …).",
            field=field,
        )
    return name
