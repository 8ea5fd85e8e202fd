"""The run type catalog: every operation opsapp tracks, its label, identity rules, the summary
count keys it may report, who may start it, and the links its run page shows.

Links are declared here, not coded in opsapp.operations.links: a `RelatedLink` names a label and
the path under /t/<tenant>/ with "{name}" placeholders, filled from the run's identity inputs
(`related`, `see_also`) or from the ids the run made (`produces`, filled from context["produced"]:
RunResult.produced / lifecycle.record_produced). A type refers to a shared link by its name in
RELATED_LINKS (register_related adds one) or declares its own RelatedLink inline. Every name and
placeholder is checked when the OperationType is built, so a typo fails at import time.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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


_PLACEHOLDER = re.compile(r"^\{([a-z_][a-z0-9_]*)\}$")


class InvalidRelatedLink(ValueError):
    """A link declaration that cannot work: an unknown link name, or a placeholder that names no
    identity input of the type (raised when the catalog entry is built, not when a page renders)."""


def _placeholder(part: str) -> str | None:
    match = _PLACEHOLDER.match(part)
    if match is None and ("{" in part or "}" in part):
        raise InvalidRelatedLink(f"'{part}': a placeholder is a whole part, e.g. '{{run_id}}'")
    return match.group(1) if match else None


@dataclass(frozen=True)
class RelatedLink:
    """A link on the run page: `label` → /t/<tenant>/<path…>[?<query>]. Parts and query values
    are fixed words or "{name}" placeholders. A link whose path placeholder has no value is left
    out; a query parameter without a value is dropped."""

    label: str
    path: tuple[str, ...]
    query: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.label or isinstance(self.path, str):
            raise InvalidRelatedLink(f"link '{self.label}': needs a label and a tuple of parts")
        for part in (*self.path, *(value for _, value in self.query)):
            _placeholder(part)

    @property
    def path_names(self) -> tuple[str, ...]:
        return tuple(name for part in self.path if (name := _placeholder(part)))

    @property
    def names(self) -> frozenset[str]:
        query = (_placeholder(value) for _, value in self.query)
        return frozenset(self.path_names) | {name for name in query if name}

    def fill(self, values: Mapping[str, Any]) -> tuple[list[Any], list[tuple[str, Any]]] | None:
        """The path parts and query pairs with the placeholders filled from `values`; None when
        a path placeholder has no value."""

        def value_of(part: str) -> Any:
            name = _placeholder(part)
            return part if name is None else values.get(name)

        parts = [value_of(part) for part in self.path]
        if any(part in (None, "") for part in parts):
            return None
        query = [(key, value_of(value)) for key, value in self.query]
        return parts, [(key, value) for key, value in query if value not in (None, "")]


# The shared links types refer to by name. A feature adds its own with register_related.
RELATED_LINKS: dict[str, RelatedLink] = {
    "inventory": RelatedLink("Inventory", ("inventory",)),
    "policies": RelatedLink("Policies", ("policies",)),
    "groups": RelatedLink("Directory groups", ("directory", "groups")),
    "drift": RelatedLink("Drift findings", ("drift",), query=(("baseline", "{baseline_id}"),)),
    "backup_set": RelatedLink("Backup set", ("backup-sets", "{backup_set_id}")),
    "backup_schedule": RelatedLink("Backup schedule", ("backup-schedules", "{schedule_id}")),
    "restore_run": RelatedLink("Restore run", ("restore", "{restore_run_id}")),
    "retried_run": RelatedLink("Retried run", ("operations", "{retried_run_id}")),
    # produced: filled from context["produced"]
    "made_backup_set": RelatedLink(
        "Backup set made by this run", ("backup-sets", "{backup_set_id}")
    ),
}


def register_related(name: str, link: RelatedLink) -> None:
    """Add a shared link under `name` (before the types that use it are built). Registering a
    different link under a name already taken is refused."""
    if not isinstance(link, RelatedLink):
        raise InvalidRelatedLink(f"'{name}': a RelatedLink is needed, not {type(link).__name__}")
    if RELATED_LINKS.get(name, link) != link:
        raise InvalidRelatedLink(f"related link '{name}' is already registered differently")
    RELATED_LINKS[name] = link


LinkRef = str | RelatedLink


def resolve_link(ref: LinkRef) -> RelatedLink:
    """The RelatedLink a catalog entry means: itself, or the shared link of that name."""
    if isinstance(ref, RelatedLink):
        return ref
    try:
        return RELATED_LINKS[ref]
    except (KeyError, TypeError):
        known = ", ".join(sorted(RELATED_LINKS))
        raise InvalidRelatedLink(f"unknown related link '{ref}'; known: {known}") from None


@dataclass(frozen=True)
class OperationType:
    key: str
    label: str
    identity: IdentitySchema
    summary_keys: tuple[str, ...]
    capability: Capability
    # The page the work belongs to (the run page's first link); placeholders: identity inputs.
    related: LinkRef
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
    # A stopping worker hands a run of this type back to the queue (another worker runs the body
    # again from the start). False for a body whose writes are not safe to repeat after a cut
    # (a restore may have created policies): such a run is failed as worker.lost instead.
    resumable: bool = True
    # Links to what a run made, after `related`; placeholders name the keys of
    # context["produced"] — the only keys RunResult.produced may carry for this type.
    produces: tuple[LinkRef, ...] = ()
    # Further links (identity inputs), shown after "All operations".
    see_also: tuple[LinkRef, ...] = ()
    _links: tuple[tuple[RelatedLink, ...], ...] = field(
        default=(), init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if isinstance(self.produces, str) or isinstance(self.see_also, str):
            raise InvalidRelatedLink(f"{self.key}: produces / see_also are tuples of links")
        related = resolve_link(self.related)
        produces = tuple(resolve_link(ref) for ref in self.produces)
        see_also = tuple(resolve_link(ref) for ref in self.see_also)
        inputs = {f.name for f in self.identity.fields}
        for link in (related, *see_also):
            missing = sorted(link.names - inputs)
            if missing:
                raise InvalidRelatedLink(
                    f"{self.key}: link '{link.label}' names {', '.join(missing)}, which "
                    f"{'is' if len(missing) == 1 else 'are'} not an identity input of the type"
                )
        object.__setattr__(self, "_links", ((related,), produces, see_also))

    @property
    def related_link(self) -> RelatedLink:
        return self._links[0][0]

    @property
    def produced_links(self) -> tuple[RelatedLink, ...]:
        return self._links[1]

    @property
    def see_also_links(self) -> tuple[RelatedLink, ...]:
        return self._links[2]

    @property
    def produced_keys(self) -> frozenset[str]:
        """The keys a run of this type may record in context["produced"]."""
        return frozenset().union(*(link.names for link in self.produced_links))


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
        produces=("made_backup_set",),
    ),
    OperationType(
        "backup_schedule.retry",
        "Backup schedule retry",
        IdentitySchema((IdentityField("schedule_id", "id"), IdentityField("retried_run_id", "id"))),
        _BACKUP_COUNTS,
        Capability.start_operations,
        related="backup_schedule",
        precheck=f"{_BACKUP_CHECKS}:check_retry",
        produces=("made_backup_set",),
        see_also=("retried_run",),
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
        produces=("made_backup_set",),
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
        resumable=False,  # a second pass could create a policy twice
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
