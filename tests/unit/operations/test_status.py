import pytest

from opsapp.operations.status import (
    ACTIVE_STATUSES,
    IllegalTransition,
    RunOutcome,
    RunStatus,
    guard_transition,
    sources_of,
)


def test_allowed_moves():
    guard_transition("queued", "running")
    guard_transition("queued", "completed")
    guard_transition("running", "completed")


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("completed", "running"),
        ("completed", "queued"),
        ("completed", "completed"),
        ("running", "queued"),
    ],
)
def test_illegal_moves_are_refused(current, target):
    with pytest.raises(IllegalTransition):
        guard_transition(current, target)


def test_groups_and_labels():
    assert ACTIVE_STATUSES == {RunStatus.queued, RunStatus.running}
    assert sources_of(RunStatus.completed) == {RunStatus.queued, RunStatus.running}
    assert RunOutcome.partially_succeeded.label == "Partially succeeded"
    assert RunOutcome.partially_succeeded.value == "partially_succeeded"
