"""Failure codes of the backup runs (stable: stored in runs and shown by the UI). This module is
their one list: it registers them in `opsapp.operations.failures` (an unregistered code would be
stored as internal.error), so make failures with these constants, never with the string."""

from __future__ import annotations

from opsapp.operations.failures import register_codes

SET_NOT_FOUND = "backup_set.not_found"  # the set was deleted (before or while the run ran)
SCHEDULE_NOT_FOUND = "backup_schedule.not_found"  # the schedule was deleted
POLICY_NOT_FOUND = "policy.not_found"  # a picked policy is not (or no longer) in the tenant
POLICY_REMOVED = "policy.removed"  # a picked policy was removed from Intune (per the last sync)
TYPE_UNSUPPORTED = "policy_type.unsupported"  # a schedule names a type opsapp no longer supports

CODES = register_codes(
    SET_NOT_FOUND,
    SCHEDULE_NOT_FOUND,
    POLICY_NOT_FOUND,
    POLICY_REMOVED,
    TYPE_UNSUPPORTED,
    owner=__name__,
)
