"""Failure codes of restore runs (stable: stored in runs and shown). They are part of
`opsapp.operations.failures.KNOWN_CODES`; a test keeps the two in step."""

from __future__ import annotations

RESTORE_NOT_FOUND = "restore.not_found"  # the restore record is gone
SOURCE_MISSING = "restore.source_missing"  # the captured version of an item is gone
PAYLOAD_INVALID = "restore.payload_invalid"  # the backup payload cannot be written as it is

CODES = frozenset({RESTORE_NOT_FOUND, SOURCE_MISSING, PAYLOAD_INVALID})
