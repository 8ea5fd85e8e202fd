"""Failure codes of the backup runs (stable: stored in runs and shown by the UI). They are part
of `opsapp.operations.failures.KNOWN_CODES` (an unknown code would be stored as internal.error);
a test keeps the two in step."""

from __future__ import annotations

SET_NOT_FOUND = "backup_set.not_found"  # the set was deleted (before or while the run ran)
SCHEDULE_NOT_FOUND = "backup_schedule.not_found"  # the schedule was deleted
POLICY_NOT_FOUND = "policy.not_found"  # a picked policy is not (or no longer) in the tenant
POLICY_REMOVED = "policy.removed"  # a picked policy was removed from Intune (per the last sync)
TYPE_UNSUPPORTED = "policy_type.unsupported"  # a schedule names a type opsapp no longer supports

CODES = frozenset(
    {SET_NOT_FOUND, SCHEDULE_NOT_FOUND, POLICY_NOT_FOUND, POLICY_REMOVED, TYPE_UNSUPPORTED}
)
