"""A run as plain JSON-able data (CLI output, UI state vars): never an ORM object."""

from __future__ import annotations

from typing import Any

from opsapp.models import OperationRun
from opsapp.models.operations import RunRow
from opsapp.models.types import iso
from opsapp.operations.catalog import COUNT_KEYS, OPERATION_TYPES, label_for
from opsapp.operations.links import absolute, related_links, view_run_path
from opsapp.operations.status import ACTIVE_BUCKET, ACTIVE_STATUSES, RunOutcome, RunStatus


def progress_percent(counts: dict[str, Any]) -> int | None:
    """processed / total as a whole percentage (rounded down, so 100 means all of it), or None
    when the run has not reported a total yet."""
    total, processed = counts.get("total"), counts.get("processed")
    if not isinstance(total, int) or not isinstance(processed, int) or total <= 0:
        return None
    return max(0, min(100, processed * 100 // total))


def duration_label(seconds: float | None) -> str:
    """'0.4 s', '12 s', '3 min 12 s', '2 h 5 min' — what a person reads; '' when not started."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def counts_list(run_type: str, counts: dict[str, Any]) -> list[dict[str, Any]]:
    """The reported counts in the catalog's order for this type (stable columns in the UI)."""
    op = OPERATION_TYPES.get(run_type)
    order = list(op.summary_keys if op else COUNT_KEYS)
    order += [k for k in counts if k not in order]
    return [{"key": k, "label": k.capitalize(), "value": counts[k]} for k in order if k in counts]


def run_to_dict(run: OperationRun | RunRow, *, tenant_slug: str) -> dict[str, Any]:
    duration = None
    if run.started_at:
        end = run.completed_at or run.updated_at
        duration = round(max((end - run.started_at).total_seconds(), 0.0), 3)
    counts = dict(run.summary_counts or {})
    status, outcome = RunStatus(run.status), RunOutcome(run.outcome)
    is_active = status in ACTIVE_STATUSES
    return {
        "id": run.id,
        "tenant": tenant_slug,
        "type": run.type,
        "type_label": label_for(run.type),
        "status": status.value,  # plain tokens: JSON and Reflex state vars, never enum objects
        "status_label": status.label,
        "outcome": outcome.value,
        "outcome_label": outcome.label,
        "initiator_name": run.initiator_name,
        "run_identity_hash": run.run_identity_hash,
        "summary_counts": counts,
        "failures": list(run.failures or []),
        "context": dict(run.context or {}),
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "completed_at": iso(run.completed_at),
        "duration_seconds": duration,
        "duration_label": duration_label(duration),
        "attempts": run.attempts,
        "view_url": absolute(view_run_path(tenant_slug, run.id)),
        "progress_percent": progress_percent(counts),
        "is_active": is_active,
        # The Monitoring state filter's vocabulary (STATE_BUCKETS): one badge per bucket.
        "state_bucket": ACTIVE_BUCKET if is_active else outcome.value,
        "counts_list": counts_list(run.type, counts),
        "related_links": related_links(
            tenant_slug=tenant_slug, run_type=run.type, context=dict(run.context or {})
        ),
    }
