"""The errors a restore form or command shows: a plain sentence (and the field it is about)."""

from __future__ import annotations


class RestoreInputError(ValueError):
    """Bad input for a restore (no items selected, an item of another set …); nothing was
    written. `field` names the form field the message belongs to (None: the form)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class RestoreStateError(ValueError):
    """The restore is not in a state that allows this (editing a previewed restore, executing a
    completed one); the message says what to do instead."""
