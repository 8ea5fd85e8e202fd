"""The one error a backup form or command shows: a plain sentence, and the field it is about."""

from __future__ import annotations


class BackupInputError(ValueError):
    """Bad input for a backup set or schedule; nothing was written. `field` names the form
    field the message belongs to (None: the form as a whole)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
