"""Diff two normalized policy versions (see `normalize`) into masked, fingerprinted changes.

Values shown (`Change.old/new`, `side_by_side`) are masked by `secrets.mask`; fingerprints are
sha256 over the RAW values, so a finding changes identity when only a secret changed, while the
fingerprint itself reveals nothing readable.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from opsapp.features.drift.normalize import normalize
from opsapp.features.drift.secrets import mask


@dataclass(frozen=True)
class Change:
    path: str
    old: Any  # masked display value; None when the path was absent
    new: Any  # masked display value; None when absent now

    @property
    def kind(self) -> str:
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "changed"

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "old": self.old, "new": self.new, "kind": self.kind}


@dataclass(frozen=True)
class Diff:
    changes: tuple[Change, ...]  # sorted by path
    fingerprint: str  # sha256 hex over (path, raw old, raw new) of every change; "" if none

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    @property
    def paths(self) -> list[str]:
        return [change.path for change in self.changes]


def _same(a: Any, b: Any) -> bool:
    # Type-strict: True != 1, 1 != 1.0 and ["1"] != [1] are changes.
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _sha256(data: Any) -> str:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def diff(old: dict[str, Any], new: dict[str, Any]) -> Diff:
    """The changes from `old` to `new`, two `normalize()` outputs."""
    changes: list[Change] = []
    raw: list[list[Any]] = []
    for path in sorted(old.keys() | new.keys()):
        before, after = old.get(path), new.get(path)
        if _same(before, after):
            continue
        changes.append(Change(path, mask(path, before), mask(path, after)))
        raw.append([path, before, after])
    return Diff(tuple(changes), _sha256(raw) if raw else "")


def compare(old_version: dict, new_version: dict, *, include_assignments: bool = True) -> Diff:
    """`diff` of two policy versions given as dicts with payload, assignments, scope_tags."""
    return diff(
        _normalize_version(old_version, include_assignments),
        _normalize_version(new_version, include_assignments),
    )


def _normalize_version(version: dict, include_assignments: bool) -> dict[str, Any]:
    return normalize(
        version.get("payload") or {},
        version.get("assignments"),
        version.get("scope_tags"),
        include_assignments=include_assignments,
    )


def side_by_side(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Every path of either side, sorted, with masked values, for a detail view."""
    return [
        {
            "path": path,
            "old": mask(path, old.get(path)),
            "new": mask(path, new.get(path)),
            "changed": not _same(old.get(path), new.get(path)),
        }
        for path in sorted(old.keys() | new.keys())
    ]


def fingerprint_of(kind: str, flat: dict[str, Any]) -> str:
    """Fingerprint of an added/removed finding: sha256 over `kind` and the raw flat state."""
    return _sha256([kind, sorted([path, value] for path, value in flat.items())])
