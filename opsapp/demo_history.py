"""A believable run history for the demo tenants, so Monitoring → Operations, the dashboard and
the bell are not empty on a fresh demo.

Only ever writes into a demo-only database (every tenant has provider "demo"), only for the demo
tenants of opsapp.graph.demo.tenants that have no runs yet, and only COMPLETED runs: a seeded
queued/running run would be reaped as lost and would block real starts through the partial
unique index. Runs are built the way the primitive builds them (normalised identity inputs and
their hash, catalog count keys, failures from make_failure with stable codes and Graph-shaped
messages) and marked `context.demo_history`. Deterministic per tenant slug and `now`.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from opsapp.db import get_engine
from opsapp.graph.demo.tenants import DEMO_TENANTS, DemoTenant
from opsapp.graph.errors import from_response, from_transport_error
from opsapp.models import Membership, Notification, OperationRun, ProviderKind, Role, Tenant, User
from opsapp.models.types import utcnow
from opsapp.operations.access import can
from opsapp.operations.catalog import OPERATION_TYPES
from opsapp.operations.failures import make_failure
from opsapp.operations.identity import identity_hash
from opsapp.operations.notifications import build_completed
from opsapp.operations.reaper import LOST_MESSAGE
from opsapp.operations.service import SYSTEM_INITIATOR
from opsapp.operations.status import RunOutcome, RunStatus
from opsapp.policy_types import POLICY_TYPES_BY_KEY, SUPPORTED_POLICY_TYPE_KEYS

_RUNS = OperationRun.__table__
_NOTIFICATIONS = Notification.__table__

OWNER_EMAIL = "owner@opsapp.demo"
UNREAD_NOTIFICATIONS = 2
NOTIFIED_RUNS = 6
GRAPH_ATTEMPTS = 5  # the live client's 4 retries + the first try

# Runs users start over 30 days (scaled by `days`): (min, max) per type.
_USER_RUNS: dict[str, tuple[int, int]] = {
    "inventory.sync": (8, 14),
    "policy.sync": (6, 10),
    "directory_groups.sync": (3, 6),
    "drift.generate": (2, 5),
    "backup_set.add_policies": (2, 4),
    "backup_set.remove_policies": (1, 2),
    "backup_schedule.run_now": (1, 3),
    "restore.execute": (1, 2),
}
_OUTCOME_WEIGHTS = (
    (RunOutcome.succeeded, 82),
    (RunOutcome.partially_succeeded, 11),
    (RunOutcome.failed, 7),
)
_GRAPH_CODES = ("graph.throttled", "graph.forbidden", "graph.unavailable")
_GRAPH_STATUS = {"graph.throttled": 429, "graph.forbidden": 403, "graph.unavailable": 503}
# Types whose work happens in the database only: they fail by losing their worker, not by Graph.
_DB_ONLY = frozenset({"backup_set.remove_policies", "drift.generate"})
_BACKUP_TYPES = ("backup_schedule.scheduled", "backup_schedule.run_now")
_FOUNDATIONS = ("assignmentFilter", "roleScopeTag")


@dataclass
class _Run:
    type: str
    created_at: datetime
    inputs: dict[str, Any]
    outcome: RunOutcome = RunOutcome.succeeded
    user_id: int | None = None
    initiator_name: str = SYSTEM_INITIATOR
    retry_of: _Run | None = None  # backup_schedule.retry: the run it retries
    row: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Member:
    user_id: int
    name: str
    role: Role


def seed_demo_history(
    engine: Engine | None = None, *, now: datetime | None = None, days: int = 30
) -> dict[str, Any]:
    """Seed completed runs (and the demo owner's notifications) for demo tenants without runs.

    Returns {"runs": how many were created, "skipped": why nothing was seeded, or None}.
    """
    engine = engine or get_engine()
    now = (now or utcnow()).astimezone(UTC)
    days = max(int(days), 1)
    demo_by_slug = {d.slug: d for d in DEMO_TENANTS}
    with engine.begin() as conn:
        tenants = conn.execute(
            sa.select(Tenant.id, Tenant.slug, Tenant.name, Tenant.provider).order_by(Tenant.id)
        ).all()
        if any(t.provider != ProviderKind.demo.value for t in tenants):
            return {"runs": 0, "skipped": "real tenants present"}
        with_runs = set(conn.execute(sa.select(_RUNS.c.tenant_id).distinct()).scalars())
        targets = [t for t in tenants if t.slug in demo_by_slug and t.id not in with_runs]
        if not targets:
            has_demo = any(t.slug in demo_by_slug for t in tenants)
            return {"runs": 0, "skipped": "history present" if has_demo else "no demo tenants"}
        members = _members(conn, [t.id for t in targets])
        planned: list[tuple[Any, list[_Run]]] = []
        for tenant in targets:
            runs = _plan_tenant(
                demo_by_slug[tenant.slug], tenant.id, members.get(tenant.id, []), now, days
            )
            planned.append((tenant, runs))
        created = _insert_runs(conn, planned)
        _notify_owner(conn, planned, now)
    return {"runs": created, "skipped": None}


def _members(conn: Connection, tenant_ids: list[int]) -> dict[int, list[_Member]]:
    rows = conn.execute(
        sa.select(Membership.tenant_id, Membership.user_id, Membership.role, User.display_name)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id.in_(tenant_ids))
        .order_by(Membership.tenant_id, Membership.user_id)
    ).all()
    result: dict[int, list[_Member]] = {}
    for row in rows:
        result.setdefault(row.tenant_id, []).append(
            _Member(row.user_id, row.display_name, Role(row.role))
        )
    return result


# --- planning ---------------------------------------------------------------------------------


def _plan_tenant(
    demo: DemoTenant, tenant_id: int, members: list[_Member], now: datetime, days: int
) -> list[_Run]:
    rng = random.Random(f"opsapp-demo-history:{demo.slug}")
    window_start = now - timedelta(days=days)
    base_id = tenant_id * 10  # plausible per-tenant ids for schedules, backup sets, baselines
    schedule_id, backup_set_ids, baseline_id = base_id + 1, (base_id + 1, base_id + 2), base_id + 1

    runs: list[_Run] = []
    # The nightly backup schedule: the scheduler starts it as "System".
    schedule_time = timedelta(hours=2, minutes=rng.choice((0, 15, 30)))
    for day in range(days):
        slot = (now - timedelta(days=day)).replace(hour=0, minute=0, second=0, microsecond=0)
        scheduled_for = slot + schedule_time
        if window_start <= scheduled_for and scheduled_for + timedelta(minutes=30) <= now:
            runs.append(
                _Run(
                    "backup_schedule.scheduled",
                    scheduled_for + timedelta(seconds=rng.uniform(0.2, 3.0)),
                    {"schedule_id": schedule_id, "scheduled_for": scheduled_for.isoformat()},
                )
            )
    scale = days / 30
    restore_run_id = base_id
    for run_type, (low, high) in _USER_RUNS.items():
        for _ in range(max(1, round(rng.randint(low, high) * scale))):
            if run_type == "restore.execute":
                restore_run_id += 1
            inputs = _user_inputs(
                rng, run_type, schedule_id, backup_set_ids, baseline_id, restore_run_id
            )
            runs.append(_Run(run_type, _working_hours(rng, now, days), inputs))

    for run in runs:
        run.outcome = _pick_outcome(rng)
        if run.type in _DB_ONLY and run.outcome == RunOutcome.partially_succeeded:
            run.outcome = RunOutcome.succeeded  # no Graph items to fail one by one
    _ensure_outcomes(rng, runs)
    runs.sort(key=lambda r: r.created_at)
    for run in runs:
        _assign_initiator(rng, run, members)

    # Retries follow a failed (or partially failed) backup some minutes after it ended.
    retried = [r for r in runs if r.type in _BACKUP_TYPES and r.outcome != RunOutcome.succeeded]
    retried = [r for r in retried if r.created_at + timedelta(hours=2) < now]
    for original in rng.sample(retried, k=min(len(retried), 2)):
        retry = _Run(
            "backup_schedule.retry",
            original.created_at + timedelta(minutes=rng.uniform(20, 90)),
            {"schedule_id": schedule_id},
            outcome=RunOutcome.succeeded,
            retry_of=original,
        )
        _assign_initiator(rng, retry, members)
        runs.append(retry)
    runs.sort(key=lambda r: r.created_at)

    state = _TenantState(demo)
    for run in runs:
        run.row = _build_row(rng, run, tenant_id, state, now)
    return runs


def _working_hours(rng: random.Random, now: datetime, days: int) -> datetime:
    """A weekday-ish office-hours start time inside the window, at least 15 minutes ago."""
    day = rng.randrange(days)
    if rng.random() < 0.6 and day + 1 < days:  # fewer starts at weekends
        while (now - timedelta(days=day)).weekday() >= 5 and day + 1 < days:
            day += 1
    at = (now - timedelta(days=day)).replace(
        hour=rng.randint(7, 18), minute=rng.randrange(60), second=rng.randrange(60), microsecond=0
    )
    at += timedelta(microseconds=rng.randrange(1_000_000))
    latest = now - timedelta(minutes=15)
    if at > latest:
        at = latest - timedelta(minutes=rng.uniform(5, 240))
    return max(at, now - timedelta(days=days) + timedelta(minutes=1))


def _user_inputs(
    rng: random.Random,
    run_type: str,
    schedule_id: int,
    backup_set_ids: tuple[int, ...],
    baseline_id: int,
    restore_run_id: int,
) -> dict[str, Any]:
    if run_type in ("inventory.sync", "policy.sync"):
        inputs: dict[str, Any] = {}
        if rng.random() < 0.3:
            inputs["policy_types"] = rng.sample(SUPPORTED_POLICY_TYPE_KEYS, k=rng.randint(1, 3))
        if run_type == "inventory.sync" and rng.random() < 0.15:
            inputs["include_foundations"] = False
            inputs.setdefault("policy_types", list(SUPPORTED_POLICY_TYPE_KEYS))
            inputs["policy_types"] = [t for t in inputs["policy_types"] if t not in _FOUNDATIONS]
            if not inputs["policy_types"]:
                inputs["policy_types"] = ["deviceConfiguration"]
        return inputs
    if run_type == "directory_groups.sync":
        return {}
    if run_type == "drift.generate":
        return {"baseline_id": baseline_id}
    if run_type == "backup_set.add_policies":
        ids = rng.sample(range(1, 400), k=rng.randint(2, 25))
        return {
            "backup_set_id": rng.choice(backup_set_ids),
            "policy_ids": ids,
            "include_assignments": rng.random() < 0.85,
        }
    if run_type == "backup_set.remove_policies":
        return {
            "backup_set_id": rng.choice(backup_set_ids),
            "item_ids": rng.sample(range(1, 300), k=rng.randint(1, 6)),
        }
    if run_type == "backup_schedule.run_now":
        return {"schedule_id": schedule_id}
    if run_type == "restore.execute":
        return {"restore_run_id": restore_run_id}
    raise AssertionError(f"no demo inputs for {run_type}")  # pragma: no cover


def _pick_outcome(rng: random.Random) -> RunOutcome:
    outcomes, weights = zip(*_OUTCOME_WEIGHTS, strict=True)
    return rng.choices(outcomes, weights=weights)[0]


def _ensure_outcomes(rng: random.Random, runs: list[_Run]) -> None:
    """At least one partial and one failed run per tenant, and one unsuccessful backup that is
    not the newest (a retry needs one to follow)."""
    backups = [r for r in runs if r.type == "backup_schedule.scheduled"]  # newest first
    if backups and all(r.outcome == RunOutcome.succeeded for r in backups[1:]):
        rng.choice(backups[len(backups) // 3 :]).outcome = RunOutcome.partially_succeeded
    for outcome in (RunOutcome.partially_succeeded, RunOutcome.failed):
        if not any(r.outcome == outcome for r in runs):
            candidates = [
                r
                for r in runs
                if r.outcome == RunOutcome.succeeded
                and r.type in ("inventory.sync", "policy.sync", "backup_schedule.scheduled")
            ]
            if candidates:
                rng.choice(candidates).outcome = outcome


def _assign_initiator(rng: random.Random, run: _Run, members: list[_Member]) -> None:
    op = OPERATION_TYPES[run.type]
    if run.type == "backup_schedule.scheduled":
        run.user_id, run.initiator_name = None, SYSTEM_INITIATOR
        return
    allowed = [m for m in members if can(m.role, op.capability) and m.role != Role.readonly]
    if not allowed:  # nobody may start it here: the scheduler's runs are all we can show
        run.user_id, run.initiator_name = None, SYSTEM_INITIATOR
        return
    # Operators do most of the day-to-day clicking, owners the least.
    weights = [
        3 if m.role == Role.operator else 2 if m.role == Role.manager else 1.5 for m in allowed
    ]
    member = rng.choices(allowed, weights=weights)[0]
    run.user_id, run.initiator_name = member.user_id, member.name


# --- counts, failures, times ------------------------------------------------------------------


class _TenantState:
    """What earlier runs left behind, so the first sync creates and later ones mostly agree."""

    def __init__(self, demo: DemoTenant) -> None:
        self.demo = demo
        self.synced_types: set[tuple[str, str]] = set()
        self.findings = 0  # open drift findings

    def per_type(self, policy_type: str) -> int:  # the demo Graph spreads objects evenly
        return max(self.demo.size // len(SUPPORTED_POLICY_TYPE_KEYS), 2)

    @property
    def groups(self) -> int:
        return max(self.demo.size // 2, 20)


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _graph_failure(
    rng: random.Random, code: str, path: str, *, item: str | None, count: int = 1
) -> dict[str, Any]:
    if code == "graph.unavailable" and rng.random() < 0.3:
        error = from_transport_error(httpx.ConnectError(""), path=path, attempts=GRAPH_ATTEMPTS)
    else:
        attempts = 1 if code == "graph.forbidden" else GRAPH_ATTEMPTS
        error = from_response(status=_GRAPH_STATUS[code], path=path, attempts=attempts)
    return make_failure(error.code, error.message, count=count, item=item)


def _sync_types(run: _Run) -> list[str]:
    normalised = OPERATION_TYPES[run.type].identity.normalise(run.inputs)
    types = list(normalised["policy_types"])
    if not normalised.get("include_foundations", True):
        types = [t for t in types if t not in _FOUNDATIONS]
    return types


def _fatal_kind(rng: random.Random, run: _Run) -> str:
    """How a failed run failed: dispatch refused, worker lost, or Graph refused everything."""
    if run.type in _DB_ONLY:
        return rng.choice(("worker.lost", "worker.lost", "queue.dispatch_failed"))
    roll = rng.random()
    if roll < 0.12:
        return "queue.dispatch_failed"
    if roll < 0.3:
        return "worker.lost"
    return "graph"


def _counts_and_failures(
    rng: random.Random, run: _Run, state: _TenantState
) -> tuple[dict[str, int], list[dict[str, Any]], str | None]:
    """(summary counts, failures, fatal kind) consistent with the run's planned outcome."""
    keys = OPERATION_TYPES[run.type].summary_keys
    counts = dict.fromkeys(keys, 0)
    failures: list[dict[str, Any]] = []
    outcome = run.outcome
    fatal = _fatal_kind(rng, run) if outcome == RunOutcome.failed else None
    if fatal == "queue.dispatch_failed":
        failure = make_failure(
            "queue.dispatch_failed",
            "The task queue did not accept the operation (TimeoutError); nothing was started.",
            error_id=uuid.UUID(int=rng.getrandbits(128)).hex[:12],
        )
        return {}, [failure], fatal  # never started: no counts, as ensure_run left them
    if fatal == "worker.lost":
        counts["failed"] = 1
        return counts, [make_failure("worker.lost", LOST_MESSAGE)], fatal
    code = rng.choice(_GRAPH_CODES)

    if run.type in ("inventory.sync", "policy.sync"):
        # As the sync services do: a type whose listing Graph refuses is one failed item.
        types = _sync_types(run)
        broken: dict[str, int] = {}  # policy type → objects observed before its listing failed
        if outcome == RunOutcome.failed:
            broken = dict.fromkeys(types, 0)
        elif outcome == RunOutcome.partially_succeeded and len(types) > 1:
            k = rng.randint(1, 2) if len(types) > 3 else 1
            broken = dict.fromkeys(rng.sample(types, k=k), 0)
        elif outcome == RunOutcome.partially_succeeded:  # its one listing failed part-way
            broken = {types[0]: rng.randint(1, state.per_type(types[0]) - 1)}
        for policy_type in types:
            if policy_type in broken:
                counts["failed"] += 1
                path = POLICY_TYPES_BY_KEY[policy_type].graph_path
                failures.append(_graph_failure(rng, code, path, item=policy_type))
                seen, partial = broken[policy_type], True
            else:
                seen, partial = state.per_type(policy_type), False
            if seen:
                _observe(rng, counts, state, (run.type, policy_type), seen, partial=partial)
        return counts, failures, fatal

    if run.type == "directory_groups.sync":
        if outcome == RunOutcome.failed:
            counts["failed"] = 1
            failures.append(_graph_failure(rng, code, "groups", item="groups"))
            return counts, failures, fatal
        seen = state.groups
        if outcome == RunOutcome.partially_succeeded:  # a later page gave up after retries
            seen = rng.randint(seen // 3, seen - 1)
            counts["failed"] = 1
            failures.append(_graph_failure(rng, "graph.throttled", "groups", item="groups"))
        _observe(rng, counts, state, ("groups", ""), seen, partial=seen < state.groups)
        return counts, failures, fatal

    if run.type == "drift.generate":
        total = state.demo.size
        counts.update(total=total, processed=total)
        new = rng.randint(0, max(3, total // 200))
        resolved = min(state.findings, rng.randint(0, max(2, state.findings // 3)))
        changed = min(state.findings - resolved, rng.randint(0, 3))
        counts.update(
            created=new,
            removed=resolved,
            updated=changed,
            unchanged=state.findings - resolved - changed,
        )
        state.findings += new - resolved
        return counts, failures, fatal

    if run.type == "backup_set.add_policies":
        ids = OPERATION_TYPES[run.type].identity.normalise(run.inputs)["policy_ids"]
        total = len(ids)
        failed = _failed_items(rng, outcome, total)
        skipped = 0 if failed == total else rng.randint(0, (total - failed) // 4)
        counts.update(
            total=total, processed=total, skipped=skipped, created=total - failed - skipped
        )
        counts["failed"] = failed
        if failed:
            failures += _item_failures(rng, code, failed)
        return counts, failures, fatal

    if run.type == "backup_set.remove_policies":
        ids = OPERATION_TYPES[run.type].identity.normalise(run.inputs)["item_ids"]
        total = len(ids)
        skipped = rng.randint(0, total // 3)
        counts.update(total=total, processed=total, removed=total - skipped, skipped=skipped)
        return counts, failures, fatal

    if run.type.startswith("backup_schedule."):
        if outcome == RunOutcome.failed:  # the policy listing was refused: nothing captured
            counts["failed"] = 1
            path = rng.choice(tuple(POLICY_TYPES_BY_KEY.values())).graph_path
            failures.append(_graph_failure(rng, code, path, item=None))
            return counts, failures, fatal
        total = state.demo.size
        failed = _failed_items(rng, outcome, total)
        changed = rng.randint(0, max(2, total // 250))
        counts.update(
            total=total,
            processed=total,
            created=changed,
            unchanged=total - failed - changed,
            removed=rng.randint(0, 2),
            failed=failed,
        )
        if failed:
            failures += _item_failures(rng, code, failed)
        return counts, failures, fatal

    if run.type == "restore.execute":
        total = rng.randint(2 if outcome == RunOutcome.partially_succeeded else 1, 12)
        failed = _failed_items(rng, outcome, total)
        skipped = 0 if failed == total else rng.randint(0, (total - failed) // 3)
        updated = rng.randint(0, total - failed - skipped)
        counts.update(
            total=total,
            processed=total,
            updated=updated,
            created=total - failed - skipped - updated,
            skipped=skipped,
            failed=failed,
        )
        if failed:
            failures += _item_failures(rng, rng.choice(("graph.forbidden", code)), failed)
        return counts, failures, fatal

    raise AssertionError(f"no demo counts for {run.type}")  # pragma: no cover


def _observe(
    rng: random.Random,
    counts: dict[str, int],
    state: _TenantState,
    key: tuple[str, str],
    seen: int,
    *,
    partial: bool = False,
) -> None:
    """Counts of a reconcile pass over `seen` objects: the first pass creates them all."""
    counts["total"] += seen
    counts["processed"] += seen
    if key not in state.synced_types:
        state.synced_types.add(key)
        counts["created"] += seen
        return
    created = rng.randint(0, max(1, seen // 150))
    updated = rng.randint(0, max(1, seen // 40))
    created, updated = min(created, seen), min(updated, seen - min(created, seen))
    counts["created"] += created
    counts["updated"] += updated
    counts["unchanged"] += seen - created - updated
    if not partial:  # an unreadable listing must not look like deletions
        counts["removed"] += rng.randint(0, max(1, seen // 200))


def _failed_items(rng: random.Random, outcome: RunOutcome, total: int) -> int:
    if outcome == RunOutcome.failed:
        return total
    if outcome == RunOutcome.partially_succeeded:
        return rng.randint(1, max(1, min(total - 1, 5))) if total > 1 else 0
    return 0


def _item_failures(rng: random.Random, code: str, failed: int) -> list[dict[str, Any]]:
    """Per-policy failures (at most three records; the rest folded into the last one)."""
    records = []
    for index in range(min(failed, 3)):
        policy_type = rng.choice(
            ("deviceConfiguration", "deviceCompliancePolicy", "settingsCatalogPolicy")
        )
        graph_id = _guid(rng)
        path = f"{POLICY_TYPES_BY_KEY[policy_type].graph_path}/{graph_id}"
        if rng.random() < 0.5:
            path += "/assignments"
        count = 1 if index < 2 else failed - 2
        records.append(
            _graph_failure(rng, code, path, item=f"{policy_type}/{graph_id}", count=count)
        )
    return records


def _duration(rng: random.Random, run: _Run, state: _TenantState) -> timedelta:
    size = state.demo.size
    if run.type in ("inventory.sync", "policy.sync"):
        per_item = 0.004 if run.type == "inventory.sync" else 0.006
        fraction = len(_sync_types(run)) / len(SUPPORTED_POLICY_TYPE_KEYS)
        seconds = 3 + size * fraction * per_item * rng.uniform(0.7, 1.4)
    elif run.type == "directory_groups.sync":
        seconds = 2 + state.groups * 0.003 * rng.uniform(0.7, 1.3)
    elif run.type.startswith("backup_schedule."):
        seconds = 5 + size * 0.004 * rng.uniform(0.7, 1.4)
    elif run.type == "drift.generate":
        seconds = 2 + size * 0.001 * rng.uniform(0.7, 1.3)
    else:
        seconds = rng.uniform(1.5, 25)
    return timedelta(seconds=min(seconds, 420))


def _build_row(
    rng: random.Random, run: _Run, tenant_id: int, state: _TenantState, now: datetime
) -> dict[str, Any]:
    op = OPERATION_TYPES[run.type]
    if run.retry_of is not None:
        # The retried run's id is only known after the insert: it is filled in there.
        run.inputs = {**run.inputs, "retried_run_id": 1}
    normalised = op.identity.normalise(run.inputs)
    counts, failures, fatal = _counts_and_failures(rng, run, state)
    if fatal == "queue.dispatch_failed":  # queued → completed: never started, never attempted
        started_at, attempts = None, 0
        completed_at = run.created_at + timedelta(seconds=rng.uniform(2.0, 2.3))
        heartbeat_at = None
    else:
        started_at = run.created_at + timedelta(seconds=rng.uniform(0.05, 2.5))
        attempts = 1
        work = _duration(rng, run, state)
        if fatal == "worker.lost":  # stopped heartbeating, reaped after lost_after (90 s)
            heartbeat_at = started_at + work * rng.uniform(0.2, 0.8)
            completed_at = heartbeat_at + timedelta(seconds=rng.uniform(95, 150))
        else:
            completed_at = started_at + work
            heartbeat_at = max(started_at, completed_at - timedelta(seconds=rng.uniform(0, 8)))
    if completed_at > now - timedelta(minutes=1):  # keep everything safely in the past
        shift = completed_at - (now - timedelta(minutes=1))
        run.created_at -= shift
        started_at = started_at - shift if started_at else None
        heartbeat_at = heartbeat_at - shift if heartbeat_at else None
        completed_at -= shift
    return {
        "tenant_id": tenant_id,
        "user_id": run.user_id,
        "initiator_name": run.initiator_name,
        "type": run.type,
        "status": RunStatus.completed.value,
        "outcome": run.outcome.value,
        "run_identity_hash": identity_hash(
            tenant_id=tenant_id, run_type=run.type, normalised_inputs=normalised
        ),
        "summary_counts": counts,
        "failures": failures,
        "context": {"inputs": normalised, "demo_history": True},
        "created_at": run.created_at,
        "started_at": started_at,
        "completed_at": completed_at,
        "updated_at": completed_at,
        "heartbeat_at": heartbeat_at,
        "attempts": attempts,
    }


# --- writing ----------------------------------------------------------------------------------


def _insert_runs(conn: Connection, planned: list[tuple[Any, list[_Run]]]) -> int:
    """One executemany per tenant (plus a tiny one for its retries, which name a run id)."""
    created = 0
    insert = sa.insert(_RUNS).returning(_RUNS.c.id, sort_by_parameter_order=True)
    for tenant, runs in planned:
        first = [r for r in runs if r.retry_of is None]
        retries = [r for r in runs if r.retry_of is not None]
        ids = conn.execute(insert, [r.row for r in first]).scalars().all()
        for run, run_id in zip(first, ids, strict=True):
            run.row["id"] = run_id
        if retries:
            for retry in retries:
                _point_retry_at(retry, tenant.id)
            rows = [{k: v for k, v in r.row.items() if k != "id"} for r in retries]
            ids = conn.execute(insert, rows).scalars().all()
            for run, run_id in zip(retries, ids, strict=True):
                run.row["id"] = run_id
        created += len(runs)
    return created


def _point_retry_at(retry: _Run, tenant_id: int) -> None:
    assert retry.retry_of is not None
    inputs = {**retry.row["context"]["inputs"], "retried_run_id": retry.retry_of.row["id"]}
    normalised = OPERATION_TYPES[retry.type].identity.normalise(inputs)
    retry.row["context"] = {"inputs": normalised, "demo_history": True}
    retry.row["run_identity_hash"] = identity_hash(
        tenant_id=tenant_id, run_type=retry.type, normalised_inputs=normalised
    )


def _notify_owner(conn: Connection, planned: list[tuple[Any, list[_Run]]], now: datetime) -> None:
    """Terminal notifications for the owner's newest runs; all read but the newest two."""
    owner_id = conn.execute(sa.select(User.id).where(User.email == OWNER_EMAIL)).scalar()
    if owner_id is None:
        return
    mine = [(run, tenant) for tenant, runs in planned for run in runs if run.user_id == owner_id]
    mine.sort(key=lambda pair: pair[0].row["completed_at"], reverse=True)
    rows = []
    for index, (run, tenant) in enumerate(mine[:NOTIFIED_RUNS]):
        record = OperationRun(**run.row)
        note = build_completed(record, Tenant(id=tenant.id, slug=tenant.slug, name=tenant.name))
        created_at = run.row["completed_at"]
        read_at = None
        if index >= UNREAD_NOTIFICATIONS:
            read_at = min(created_at + timedelta(minutes=5 + 7 * index), now)
        rows.append(
            {
                "user_id": note.user_id,
                "tenant_id": note.tenant_id,
                "operation_run_id": note.operation_run_id,
                "level": note.level,
                "title": note.title,
                "body": note.body,
                "link": note.link,
                "created_at": created_at,
                "read_at": read_at,
            }
        )
    if rows:
        conn.execute(sa.insert(_NOTIFICATIONS), rows)
