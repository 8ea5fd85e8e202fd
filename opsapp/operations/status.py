"""Run status and outcome: stored tokens, UI labels, named groups and the one transition guard."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    queued = "queued"  # created and (about to be) handed to the broker; nobody runs it yet
    running = "running"  # a worker picked it up; heartbeats while it works
    completed = "completed"  # final: the outcome says how it ended; never changes again

    @property
    def label(self) -> str:
        return self.value.capitalize()


class RunOutcome(StrEnum):
    pending = "pending"  # the only outcome while the run is not completed
    succeeded = "succeeded"  # everything that was attempted worked
    partially_succeeded = "partially_succeeded"  # some items worked and some failed
    failed = "failed"  # nothing worked, or the run could not proceed at all
    cancelled = "cancelled"  # reserved: no surface cancels runs yet

    @property
    def label(self) -> str:
        return _OUTCOME_LABELS[self]


_OUTCOME_LABELS = {
    RunOutcome.pending: "Pending",
    RunOutcome.succeeded: "Succeeded",
    RunOutcome.partially_succeeded: "Partially succeeded",
    RunOutcome.failed: "Failed",
    RunOutcome.cancelled: "Cancelled",
}

# The only moves a run may make. queued → completed covers a failed dispatch and a run that was
# lost before any worker picked it up; running → queued is a stopping worker handing its run
# back (fenced by the attempt token) so another worker runs it. Every status change in the code is derived from this
# table (`sources_of`, `guard_transition`); nothing else says which move is legal.
ALLOWED_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.queued: frozenset({RunStatus.running, RunStatus.completed}),
    RunStatus.running: frozenset({RunStatus.queued, RunStatus.completed}),
    RunStatus.completed: frozenset(),
}

# Final: no way out (a completed run never changes again, so only these may be pruned).
TERMINAL_STATUSES: frozenset[RunStatus] = frozenset(
    s for s, targets in ALLOWED_TRANSITIONS.items() if not targets
)
# Everything else: the run still blocks its identity (the partial unique index's predicate).
ACTIVE_STATUSES: frozenset[RunStatus] = frozenset(RunStatus) - TERMINAL_STATUSES
TERMINAL_OUTCOMES: frozenset[RunOutcome] = frozenset(RunOutcome) - {RunOutcome.pending}
# Outcomes the dashboard lists as "went wrong lately".
PROBLEM_OUTCOMES: frozenset[RunOutcome] = frozenset(
    {RunOutcome.failed, RunOutcome.partially_succeeded}
)


class IllegalTransition(Exception):
    """A lifecycle call asked for a move the transition table forbids."""


def sources_of(target: RunStatus) -> frozenset[RunStatus]:
    """The statuses from which `target` may be reached (used in guarded UPDATEs)."""
    return frozenset(s for s, targets in ALLOWED_TRANSITIONS.items() if target in targets)


def guard_transition(current: RunStatus | str, target: RunStatus | str) -> None:
    """Raise IllegalTransition unless current → target is in the table."""
    current, target = RunStatus(current), RunStatus(target)
    if target not in ALLOWED_TRANSITIONS[current]:
        raise IllegalTransition(f"run cannot move from {current} to {target}")


def guarded_sources(
    target: RunStatus | str, only_from: frozenset[RunStatus] | None = None
) -> frozenset[RunStatus]:
    """The statuses a guarded UPDATE to `target` may match: all legal sources, or the subset a
    caller narrows it to (`only_from`; each must be a legal source, else IllegalTransition)."""
    target = RunStatus(target)
    if only_from is None:
        return sources_of(target)
    for source in only_from:
        guard_transition(source, target)
    if not only_from:
        raise IllegalTransition(f"no source status given for a move to {target}")
    return frozenset(RunStatus(s) for s in only_from)


def guard_outcome(status: RunStatus | str, outcome: RunOutcome | str) -> None:
    """Raise IllegalTransition unless the outcome fits the status: pending while active, a
    terminal outcome once completed."""
    status, outcome = RunStatus(status), RunOutcome(outcome)
    if (status in TERMINAL_STATUSES) != (outcome in TERMINAL_OUTCOMES):
        raise IllegalTransition(f"a {status} run cannot have the outcome {outcome}")


# State buckets used by Monitoring filters and the CLI's --state.
# "active" is every ACTIVE_STATUSES run; every other bucket is a completed run's outcome.
ACTIVE_BUCKET = "active"
STATE_BUCKETS: dict[str, str] = {
    ACTIVE_BUCKET: "Active",
    **{o.value: o.label for o in RunOutcome if o in TERMINAL_OUTCOMES},
}
