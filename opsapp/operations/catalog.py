"""The run type catalog: every operation opsapp tracks, its label, identity rules, the summary
count keys it may report, who may start it, and which page it relates to."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from opsapp.operations.access import Capability
from opsapp.operations.identity import IdentityField, IdentitySchema
from opsapp.policy_types import SUPPORTED_POLICY_TYPE_KEYS

# The count vocabulary. Types pick from it; anything else is refused, never stored free-form.
COUNT_KEYS = (
    "total",
    "processed",
    "created",
    "updated",
    "unchanged",
    "removed",
    "skipped",
    "failed",
)

_SYNC_COUNTS = COUNT_KEYS
_ITEM_COUNTS = ("total", "processed", "created", "skipped", "failed")
_REMOVE_COUNTS = ("total", "processed", "removed", "skipped", "failed")
_BACKUP_CHECKS = "opsapp.features.backups.checks"
_BACKUP_COUNTS = ("total", "processed", "created", "unchanged", "removed", "skipped", "failed")


@dataclass(frozen=True)
class OperationType:
    key: str
    label: str
    identity: IdentitySchema
    summary_keys: tuple[str, ...]
    capability: Capability
    related: str  # link kind for opsapp.operations.links
    user_startable: bool = True  # False: only the system (scheduler, adapters) starts it
    # "module:function" called as f(session, tenant_id, inputs) before a run is created; it raises
    # NotFound / InvalidInputs when the inputs name something that does not exist or does not
    # fit (a deleted backup set, a retry of a run that did not fail). Resolved lazily so the
    # catalog does not import the features.
    precheck: str | None = None
    # Held: the run is created queued ahead of time (the restore adapter creates it when a
    # restore is previewed) and dispatched later, when someone executes it. The reaper leaves a
    # held run alone until it was dispatched (OperationRun.dispatched_at).
    held: bool = False


def _policy_types_field(*, allow_empty: bool = False) -> IdentityField:
    return IdentityField(
        "policy_types",
        "str_list",
        default=lambda: list(SUPPORTED_POLICY_TYPE_KEYS),
        choices=SUPPORTED_POLICY_TYPE_KEYS,
        allow_empty=allow_empty,
        description="policy types to cover (default: all supported)",
    )


_TYPES = (
    OperationType(
        "inventory.sync",
        "Inventory sync",
        IdentitySchema(
            (_policy_types_field(), IdentityField("include_foundations", "bool", default=True))
        ),
        _SYNC_COUNTS,
        Capability.start_operations,
        related="inventory",
    ),
    OperationType(
        "policy.sync",
        "Policy sync",
        IdentitySchema((_policy_types_field(),)),
        _SYNC_COUNTS,
        Capability.start_operations,
        related="policies",
    ),
    OperationType(
        "directory_groups.sync",
        "Directory groups sync",
        IdentitySchema(()),
        _SYNC_COUNTS,
        Capability.start_operations,
        related="groups",
    ),
    OperationType(
        "drift.generate",
        "Drift generation",
        IdentitySchema((IdentityField("baseline_id", "id"), _policy_types_field())),
        ("total", "processed", "created", "updated", "unchanged", "removed", "failed"),
        Capability.start_operations,
        related="drift",
        precheck="opsapp.features.drift.checks:check_baseline",
    ),
    OperationType(
        "backup_set.add_policies",
        "Add policies to backup set",
        IdentitySchema(
            (
                IdentityField("backup_set_id", "id"),
                IdentityField("policy_ids", "id_list", empty_message="No policies selected"),
                IdentityField("include_assignments", "bool", default=True),
                IdentityField("include_scope_tags", "bool", default=True),
            )
        ),
        _ITEM_COUNTS,
        Capability.start_operations,
        related="backup_set",
        precheck=f"{_BACKUP_CHECKS}:check_backup_set",
    ),
    OperationType(
        "backup_set.remove_policies",
        "Remove policies from backup set",
        IdentitySchema(
            (
                IdentityField("backup_set_id", "id"),
                IdentityField("item_ids", "id_list", empty_message="No items selected"),
            )
        ),
        _REMOVE_COUNTS,
        Capability.start_operations,
        related="backup_set",
        precheck=f"{_BACKUP_CHECKS}:check_backup_set",
    ),
    OperationType(
        "backup_schedule.run_now",
        "Backup schedule run",
        IdentitySchema((IdentityField("schedule_id", "id"),)),
        _BACKUP_COUNTS,
        Capability.start_operations,
        related="backup_schedule",
        precheck=f"{_BACKUP_CHECKS}:check_schedule",
    ),
    OperationType(
        "backup_schedule.retry",
        "Backup schedule retry",
        IdentitySchema((IdentityField("schedule_id", "id"), IdentityField("retried_run_id", "id"))),
        _BACKUP_COUNTS,
        Capability.start_operations,
        related="backup_schedule",
        precheck=f"{_BACKUP_CHECKS}:check_retry",
    ),
    OperationType(
        "backup_schedule.scheduled",
        "Scheduled backup",
        IdentitySchema(
            (IdentityField("schedule_id", "id"), IdentityField("scheduled_for", "datetime"))
        ),
        _BACKUP_COUNTS,
        Capability.manage_schedules,
        related="backup_schedule",
        user_startable=False,
        precheck=f"{_BACKUP_CHECKS}:check_schedule",
    ),
    OperationType(
        "restore.execute",
        "Restore",
        IdentitySchema((IdentityField("restore_run_id", "id"),)),
        ("total", "processed", "created", "updated", "unchanged", "skipped", "failed"),
        Capability.execute_restore,
        related="restore_run",
        user_startable=False,  # started by the restore adapter when a restore is previewed
        held=True,
    ),
)

OPERATION_TYPES: dict[str, OperationType] = {t.key: t for t in _TYPES}


class UnknownOperationType(LookupError):
    def __init__(self, key: str) -> None:
        super().__init__(
            f"unknown operation type '{key}'; known: {', '.join(sorted(OPERATION_TYPES))}"
        )


def get_type(key: str) -> OperationType:
    try:
        return OPERATION_TYPES[key]
    except KeyError:
        raise UnknownOperationType(key) from None


def register_type(op_type: OperationType) -> None:
    """Add a type at run time (tests use it for their own task types)."""
    OPERATION_TYPES[op_type.key] = op_type


def run_precheck(op: OperationType, session, tenant_id: int, inputs: dict) -> None:
    """Call the type's precheck, if it has one (see OperationType.precheck)."""
    if not op.precheck:
        return
    module_name, _, function = op.precheck.partition(":")
    getattr(importlib.import_module(module_name), function)(session, tenant_id, inputs)


def held_types() -> tuple[str, ...]:
    return tuple(sorted(k for k, t in OPERATION_TYPES.items() if t.held))


def label_for(key: str) -> str:
    op = OPERATION_TYPES.get(key)
    return op.label if op else key
