"""One list of failure codes (opsapp.operations.failures): every code the source uses is
registered by exactly one owner, so none silently becomes internal.error."""

from __future__ import annotations

import ast
import importlib
import logging
import re
from pathlib import Path

import pytest

from opsapp.graph import errors as graph_errors
from opsapp.operations import failures
from opsapp.operations.failures import (
    KNOWN_CODES,
    DuplicateCode,
    make_failure,
    owner_of,
    register_codes,
)

ROOT = Path(__file__).resolve().parents[3] / "opsapp"
# Calls whose first argument (or code=) is a failure code, and keywords that name one.
CODE_CALLS = {"make_failure", "fail_item", "GraphError"}
CODE_KEYWORDS = {"code", "default_code"}
_CODE_SHAPE = re.compile(r"^([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)$")


def _import_code_owners() -> list[str]:
    """Import every `codes.py` under opsapp (they register their codes when imported)."""
    names = []
    for path in sorted(ROOT.rglob("codes.py")):
        name = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        importlib.import_module(name)
        names.append(name)
    return names


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _is_code_ref(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "code") or (
        isinstance(node, ast.Name) and node.id == "code"
    )


def _strings(node: ast.AST) -> list[ast.Constant]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [c for elt in node.elts for c in _strings(elt)]
    return []


def codes_used(source: str) -> list[tuple[int, str]]:
    """(line, code) for every literal the source uses as a failure code: the code argument of
    make_failure / fail_item / GraphError, a code= / default_code= keyword, a
    {"code": …} record, and a comparison with `.code` / `code`."""
    found: list[ast.Constant] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            if _call_name(node) in CODE_CALLS and node.args:
                found += _strings(node.args[0])
            found += [
                c for kw in node.keywords if kw.arg in CODE_KEYWORDS for c in _strings(kw.value)
            ]
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "code" and value is not None:
                    found += _strings(value)
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_code_ref(side) for side in sides):
                found += [c for side in sides for c in _strings(side)]
    return [(c.lineno, c.value) for c in found]


def _sources():
    return [(p.relative_to(ROOT.parent), p.read_text()) for p in sorted(ROOT.rglob("*.py"))]


def test_the_scanner_finds_codes_in_every_place_it_looks():
    source = """
make_failure("report.missing", "m")
result.fail_item("report.gone", "m", item="x")
raise GraphError("graph.nope", "m")
failure_from_exception(exc, default_code="report.default")
record = {"code": "report.record", "message": "m"}
if error.code == "graph.other" or code in ("report.a", "report.b"):
    pass
make_failure(codes.REPORT_MISSING, "m")  # a constant: its owner registers it
"""
    assert [code for _, code in codes_used(source)] == [
        "report.missing",
        "report.gone",
        "graph.nope",
        "report.default",
        "report.record",
        "graph.other",
        "report.a",
        "report.b",
    ]


def test_every_code_the_source_uses_is_registered():
    _import_code_owners()
    unregistered = [
        f"{path}:{line} {code!r}"
        for path, source in _sources()
        for line, code in codes_used(source)
        if code not in KNOWN_CODES
    ]
    assert unregistered == [], "register these in the owner's codes.py (register_codes)"


def test_no_code_shaped_literal_in_a_code_area_is_unregistered():
    """Any 'area.reason' string in an area that has failure codes is a registered code or a
    run type key — a misspelt code anywhere (a tuple of codes, a mapping) fails here."""
    from opsapp.operations.catalog import OPERATION_TYPES

    _import_code_owners()
    areas = {code.split(".")[0] for code in KNOWN_CODES}
    stray = []
    for path, source in _sources():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                match = _CODE_SHAPE.match(node.value)
                if match and match.group(1) in areas:
                    if node.value not in KNOWN_CODES and node.value not in OPERATION_TYPES:
                        stray.append(f"{path}:{node.lineno} {node.value!r}")
    assert stray == []


def test_each_codes_module_registers_every_code_it_names():
    for name in _import_code_owners():
        module = importlib.import_module(name)
        named = {
            value
            for attr, value in vars(module).items()
            if attr.isupper() and isinstance(value, str) and _CODE_SHAPE.match(value)
        }
        assert named and named == set(module.CODES), name
        assert {owner_of(code) for code in named} == {name}


def test_the_owners_of_the_built_in_codes():
    assert set(graph_errors.ERROR_CODES) <= KNOWN_CODES
    assert {owner_of(c) for c in graph_errors.ERROR_CODES} == {"opsapp.graph.errors"}
    core = {"queue.dispatch_failed", "worker.lost", "input.invalid", "internal.error"}
    assert {owner_of(c) for c in core} == {"opsapp.operations.failures"}
    assert owner_of("made.up") is None


def test_registering_codes(monkeypatch):
    monkeypatch.setattr(failures, "_OWNERS", dict(failures._OWNERS))
    assert "report.missing" not in KNOWN_CODES
    assert make_failure("report.missing", "m")["code"] == "internal.error"
    assert register_codes("report.missing", owner="tests.reports") == {"report.missing"}
    assert "report.missing" in KNOWN_CODES  # a live view, not a copy
    assert make_failure("report.missing", "m")["code"] == "report.missing"
    register_codes("report.missing", owner="tests.reports")  # again, same owner: harmless
    with pytest.raises(DuplicateCode, match="already registered by tests.reports"):
        register_codes("report.missing", owner="tests.other")
    with pytest.raises(DuplicateCode, match="already registered by opsapp.graph.errors"):
        register_codes("graph.throttled", owner="tests.other")
    for bad in ("Report.Missing", "missing", "report.", "report missing", ".x"):
        with pytest.raises(DuplicateCode, match="not of the form"):
            register_codes(bad, owner="tests.reports")
    with pytest.raises(DuplicateCode):  # nothing of a refused call is registered
        register_codes("report.fine", "nope", owner="tests.reports")
    assert "report.fine" not in KNOWN_CODES


def test_an_unregistered_code_is_not_silent(caplog):
    with caplog.at_level(logging.WARNING, logger="opsapp.operations"):
        assert make_failure("made.up", "m")["code"] == "internal.error"
    assert "'made.up' is not registered" in caplog.text
