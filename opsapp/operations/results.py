"""What a task body returns, and how that becomes a run's outcome, counts and failures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opsapp.operations.catalog import get_type
from opsapp.operations.failures import make_failure, merge_failures
from opsapp.operations.status import RunOutcome


class InvalidCounts(ValueError):
    """A task reported a count key its type does not declare, or a non-count value."""


class InvalidProduced(ValueError):
    """A task reported a produced id its type does not declare (OperationType.produces), or a
    value that is not an id."""


PRODUCED_VALUE_MAX = 200  # longest string id a run may report as produced


@dataclass
class RunResult:
    """The result of a task body. Bodies return this; they never set run status."""

    counts: dict[str, int] = field(default_factory=dict)
    # Failures of single items: {code, message, item}. Some items failing → partially succeeded.
    item_failures: list[dict[str, Any]] = field(default_factory=list)
    # A failure of the run as a whole (it could not proceed), e.g. Graph refused the listing.
    fatal: dict[str, Any] | None = None
    # Ids of what the run made, e.g. {"backup_set_id": 7}: merged into the run's
    # context["produced"] by the UPDATE that completes it; the run page links them (the type's
    # `produces` links declare which keys it may carry).
    produced: dict[str, int | str] = field(default_factory=dict)

    def fail_item(self, code: str, message: str, *, item: str | None = None) -> None:
        self.item_failures.append(make_failure(code, message, item=item))


def validate_counts(run_type: str, counts: Mapping[str, Any]) -> dict[str, int]:
    """Keep counts within the type's declared keys and non-negative integers."""
    allowed = set(get_type(run_type).summary_keys)
    clean: dict[str, int] = {}
    for key, value in counts.items():
        if key not in allowed:
            raise InvalidCounts(f"'{key}' is not a summary key of {run_type}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidCounts(f"count '{key}' must be a non-negative integer")
        clean[key] = value
    return clean


def validate_produced(run_type: str, produced: Mapping[str, Any]) -> dict[str, int | str]:
    """Keep produced ids within the keys the type's `produces` links declare; values are
    positive integers or short non-empty strings."""
    allowed = get_type(run_type).produced_keys
    clean: dict[str, int | str] = {}
    for key, value in produced.items():
        if key not in allowed:
            declared = ", ".join(sorted(allowed)) or "none"
            raise InvalidProduced(f"'{key}' is not a produced id of {run_type} ({declared})")
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise InvalidProduced(f"produced '{key}' must be an integer or string id")
        if isinstance(value, int) and value <= 0:
            raise InvalidProduced(f"produced '{key}' must be a positive integer")
        if isinstance(value, str) and not 0 < len(value.strip()) <= PRODUCED_VALUE_MAX:
            raise InvalidProduced(f"produced '{key}' must be 1-{PRODUCED_VALUE_MAX} characters")
        clean[key] = value.strip() if isinstance(value, str) else value
    return clean


def _succeeded_items(counts: Mapping[str, int], failed: int) -> int:
    attempted = counts.get("processed", counts.get("total"))
    if attempted is not None:
        return max(int(attempted) - failed, 0)
    return sum(int(counts.get(k, 0)) for k in ("created", "updated", "unchanged", "removed"))


def decide_outcome(
    counts: Mapping[str, int], item_failures: Iterable[Any], fatal: Any
) -> RunOutcome:
    """succeeded: no failure; partially succeeded: some items worked and some failed;
    failed: nothing worked, or the run as a whole could not proceed with nothing done."""
    failed = int(counts.get("failed", 0)) or len(list(item_failures))
    succeeded = _succeeded_items(counts, failed)
    if not failed and not fatal:
        return RunOutcome.succeeded
    return RunOutcome.partially_succeeded if succeeded > 0 else RunOutcome.failed


def finalise(
    run_type: str, result: RunResult
) -> tuple[RunOutcome, dict[str, int], list[dict[str, Any]]]:
    """Outcome, validated counts and merged, sanitized failures for completing a run."""
    counts = validate_counts(run_type, result.counts)
    if result.item_failures and "failed" in get_type(run_type).summary_keys:
        counts.setdefault("failed", sum(int(f.get("count", 1)) for f in result.item_failures))
    outcome = decide_outcome(counts, result.item_failures, result.fatal)
    failures = ([result.fatal] if result.fatal else []) + list(result.item_failures)
    return outcome, counts, merge_failures(failures)
