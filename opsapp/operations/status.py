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

ACTIVE_STATUSES: frozenset[RunStatus] = frozenset({RunStatus.queued, RunStatus.running})
TERMINAL_STATUSES: frozenset[RunStatus] = frozenset({RunStatus.completed})
TERMINAL_OUTCOMES: frozenset[RunOutcome] = frozenset(
    {RunOutcome.succeeded, RunOutcome.partially_succeeded, RunOutcome.failed, RunOutcome.cancelled}
)

# The only moves a run may make. queued → completed covers a failed dispatch and a run that was
# lost before any worker picked it up.
ALLOWED_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.queued: frozenset({RunStatus.running, RunStatus.completed}),
    RunStatus.running: frozenset({RunStatus.completed}),
    RunStatus.completed: frozenset(),
}


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


# State buckets used by Monitoring filters and the CLI's --state.
STATE_BUCKETS: dict[str, str] = {
    "active": "Active",
    "succeeded": "Succeeded",
    "partially_succeeded": "Partially succeeded",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
