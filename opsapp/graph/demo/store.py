"""Lazily generated, mutable collections of one demo tenant.

Base objects are computed from their index; only changes (created, updated, deleted objects,
replaced assignments) are stored. Ids embed the index, so an id lookup needs no table either.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache
from typing import Any

Item = dict[str, Any]


@lru_cache(maxsize=4096)
def _generated(collection: Collection, index: int) -> Item:
    """A base object, generated. A sync reads each object a few times within moments (listed,
    then its assignments and settings, each checking it exists): the last few thousand
    generated, across all collections, are kept (~10 MB), not all."""
    return collection._make(index, collection.id_at(index))


def _id_prefix(*parts: object) -> str:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()
    variant = "89ab"[int(digest[16], 16) % 4]
    return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-{variant}{digest[17:20]}-"


class Collection:
    """One Graph collection: ``base_count`` generated objects plus an overlay of changes."""

    def __init__(self, *, key: str, seed: int, base_count: int, make: Callable[[int, str], Item]):
        self.key = key
        self.base_count = base_count
        self._prefix = _id_prefix(seed, key)
        self._make = make
        self.overrides: dict[str, Item] = {}  # base objects changed by PATCH / mutate
        self.created: list[Item] = []  # objects added after the seed (POST / mutate)
        self.deleted: set[str] = set()
        self.assignments: dict[str, list[Item]] = {}  # replaced via /assign
        self.settings: dict[str, list[Item]] = {}  # given on create (settings catalog)

    def id_at(self, index: int) -> str:
        """The id of the object at ``index`` (stable: created objects continue the range)."""
        return f"{self._prefix}{index:012x}"

    def index_of(self, object_id: str) -> int | None:
        """The index an id belongs to, or None for foreign ids."""
        if len(object_id) != 36 or not object_id.startswith(self._prefix):
            return None
        try:
            index = int(object_id[len(self._prefix) :], 16)
        except ValueError:
            return None
        return index if index < self.base_count + len(self.created) else None

    def _at(self, index: int) -> Item:
        if index >= self.base_count:
            return self.created[index - self.base_count]
        return self.overrides.get(self.id_at(index)) or _generated(self, index)

    def get(self, object_id: str) -> Item | None:
        """The live object with this id, or None (unknown or deleted)."""
        index = self.index_of(object_id)
        if index is None or object_id in self.deleted:
            return None
        return dict(self._at(index))

    def page(self, *, cursor: int, top: int) -> tuple[list[Item], int | None]:
        """Up to ``top`` live objects from position ``cursor``, and the next cursor (or None)."""
        total = self.base_count + len(self.created)
        items: list[Item] = []
        position = cursor
        while position < total and len(items) < top:
            if self.id_at(position) not in self.deleted:
                items.append(dict(self._at(position)))
            position += 1
        return items, (position if position < total else None)

    def live_count(self) -> int:
        """Objects currently present."""
        return self.base_count + len(self.created) - len(self.deleted)

    def create(self, payload: Item, *, stamp: str) -> Item:
        """Add an object (the server assigns ``id`` and timestamps)."""
        item = {k: v for k, v in payload.items() if k not in ("settings", "assignments")}
        item.update(
            id=self.id_at(self.base_count + len(self.created)),
            createdDateTime=stamp,
            lastModifiedDateTime=stamp,
        )
        self.created.append(item)
        if isinstance(payload.get("settings"), list):
            self.settings[item["id"]] = payload["settings"]
            item["settingCount"] = len(payload["settings"])
        return dict(item)

    def update(self, object_id: str, patch: Item, *, stamp: str) -> Item | None:
        """Merge ``patch`` into an object; None when it does not exist."""
        current = self.get(object_id)
        if current is None:
            return None
        merged = {**current, **{k: v for k, v in patch.items() if k != "id"}}
        return self._store(object_id, merged, stamp=stamp)

    def replace(self, object_id: str, item: Item, *, stamp: str) -> Item | None:
        """Replace an object's properties wholesale (PUT); ``id`` stays. None when missing."""
        if self.get(object_id) is None:
            return None
        return self._store(object_id, {**item, "id": object_id}, stamp=stamp)

    def _store(self, object_id: str, item: Item, *, stamp: str) -> Item:
        item["lastModifiedDateTime"] = stamp
        index = self.index_of(object_id)
        assert index is not None
        if index >= self.base_count:
            self.created[index - self.base_count] = item
        else:
            self.overrides[object_id] = item
        return dict(item)

    def delete(self, object_id: str) -> bool:
        """Remove an object; False when it did not exist."""
        if self.get(object_id) is None:
            return False
        self.deleted.add(object_id)
        return True
