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
    guard_transition("running", "queued")  # a stopping worker hands its run back


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("completed", "running"),
        ("completed", "queued"),
        ("completed", "completed"),
        ("queued", "queued"),
        ("running", "running"),
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


def test_the_groups_are_derived_from_the_transition_table(monkeypatch):
    from opsapp.operations import status

    assert status.TERMINAL_STATUSES == {RunStatus.completed}
    assert status.ACTIVE_STATUSES | status.TERMINAL_STATUSES == set(RunStatus)
    assert RunOutcome.pending not in status.TERMINAL_OUTCOMES
    assert list(status.STATE_BUCKETS) == [
        "active",
        "succeeded",
        "partially_succeeded",
        "failed",
        "cancelled",
    ]
    # sources_of reads the table at call time: a narrowed table narrows every guarded UPDATE.
    narrowed = {**status.ALLOWED_TRANSITIONS, RunStatus.queued: frozenset({RunStatus.running})}
    monkeypatch.setattr(status, "ALLOWED_TRANSITIONS", narrowed)
    assert status.sources_of(RunStatus.completed) == {RunStatus.running}


def test_guarded_sources_accepts_only_legal_subsets():
    from opsapp.operations.status import guarded_sources

    assert guarded_sources(RunStatus.completed) == {RunStatus.queued, RunStatus.running}
    assert guarded_sources(RunStatus.completed, frozenset({RunStatus.queued})) == {RunStatus.queued}
    for target, only_from in (
        (RunStatus.completed, frozenset({RunStatus.completed})),
        (RunStatus.running, frozenset({RunStatus.running})),
        (RunStatus.queued, frozenset({RunStatus.queued})),
        (RunStatus.completed, frozenset()),
    ):
        with pytest.raises(IllegalTransition):
            guarded_sources(target, only_from)


@pytest.mark.parametrize(
    ("status", "outcome", "ok"),
    [
        ("queued", "pending", True),
        ("running", "pending", True),
        ("completed", "succeeded", True),
        ("completed", "cancelled", True),
        ("completed", "pending", False),
        ("running", "failed", False),
    ],
)
def test_outcome_must_fit_the_status(status, outcome, ok):
    from opsapp.operations.status import guard_outcome

    if ok:
        guard_outcome(status, outcome)
    else:
        with pytest.raises(IllegalTransition):
            guard_outcome(status, outcome)


def test_the_model_columns_are_the_enums_and_the_index_predicates_keep_their_text():
    import sqlalchemy as sa

    from opsapp.models import OperationRun
    from opsapp.models.operations import ACTIVE_PREDICATE, COMPLETED_PREDICATE

    table = OperationRun.__table__
    assert isinstance(table.c.status.type, sa.Enum) and table.c.status.type.enum_class is RunStatus
    assert isinstance(table.c.outcome.type, sa.Enum)
    assert table.c.outcome.type.enum_class is RunOutcome
    assert (table.c.status.type.length, table.c.outcome.type.length) == (16, 32)
    assert not table.c.status.type.native_enum  # stored as the plain string token
    assert table.c.status.type.enums == [s.value for s in RunStatus]
    assert ACTIVE_PREDICATE.text == "status IN ('queued', 'running')"
    assert COMPLETED_PREDICATE.text == "status = 'completed'"


_TOKENS = {s.value for s in RunStatus} | {o.value for o in RunOutcome} - {"failed"}


def _string_constants(path):
    import ast

    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                yield node.lineno, node.value


def test_no_status_or_outcome_token_is_hard_coded_outside_status_py():
    """Every status / outcome comes from the enums or their named groups. ("failed" is also a
    count key, so it is only checked next to the word outcome.)"""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[3] / "opsapp"
    files = [
        *(root / "operations").glob("*.py"),
        *(root / "worker").glob("*.py"),
        root / "models" / "operations.py",
    ]
    files = [f for f in files if f.name != "status.py"]
    assert len(files) > 15
    hits = [
        f"{f.relative_to(root)}:{line} {value!r}"
        for f in files
        for line, value in _string_constants(f)
        if value in _TOKENS
    ]
    for f in files:  # `outcome == "failed"` / `outcome.in_(("failed", …))` means the outcome
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Compare | ast.Call) and "outcome" in ast.unparse(node):
                for c in ast.walk(node):
                    if isinstance(c, ast.Constant) and c.value == "failed":
                        hits.append(f"{f.relative_to(root)}:{c.lineno} 'failed'")
    assert hits == []
