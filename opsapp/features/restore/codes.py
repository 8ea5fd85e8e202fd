"""Failure codes of restore runs (stable: stored in runs and shown). This module is their one
list: it registers them in `opsapp.operations.failures` (see its docstring)."""

from __future__ import annotations

from opsapp.operations.failures import register_codes

RESTORE_NOT_FOUND = "restore.not_found"  # the restore record is gone
SOURCE_MISSING = "restore.source_missing"  # the captured version of an item is gone
PAYLOAD_INVALID = "restore.payload_invalid"  # the backup payload cannot be written as it is

CODES = register_codes(RESTORE_NOT_FOUND, SOURCE_MISSING, PAYLOAD_INVALID, owner=__name__)
