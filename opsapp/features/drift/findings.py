"""Working through findings: acknowledge one or many (who, when, an optional note).

Only new findings can be acknowledged; an acknowledged one stays as it was (its first note and
author are kept), a resolved one is history and is left alone. Ids of another tenant are treated
like ids that do not exist."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session

from opsapp.models import DriftFinding
from opsapp.models.drift import NOTE_MAX, FindingState
from opsapp.models.types import utcnow

MAX_IDS = 5000  # one bulk acknowledge; a page never sends more
_F = DriftFinding.__table__


class DriftInputError(ValueError):
    """Bad input for an acknowledgement; nothing was written."""


@dataclass
class AckResult:
    acknowledged: list[int] = field(default_factory=list)
    already: list[int] = field(default_factory=list)  # acknowledged before
    resolved: list[int] = field(default_factory=list)  # history: not acknowledged
    not_found: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, list[int]]:
        return {
            "acknowledged": self.acknowledged,
            "already_acknowledged": self.already,
            "resolved": self.resolved,
            "not_found": self.not_found,
        }


def clean_note(raw: object) -> str:
    """The note as stored ("" for none), or DriftInputError saying what is wrong."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise DriftInputError("Note must be text.")
    note = raw.strip()
    if len(note) > NOTE_MAX:
        raise DriftInputError(f"Note is too long ({len(note):,} characters; at most {NOTE_MAX}).")
    if any(
        unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs") and ch not in "\n\t" for ch in note
    ):
        raise DriftInputError("Note must not contain control or invisible characters.")
    return note


def clean_ids(raw: object) -> list[int]:
    if not isinstance(raw, list | tuple | set) or not raw:
        raise DriftInputError("No findings selected.")
    ids = []
    for value in raw:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise DriftInputError("Finding ids must be positive whole numbers.")
        ids.append(value)
    unique = sorted(set(ids))
    if len(unique) > MAX_IDS:
        raise DriftInputError(f"At most {MAX_IDS:,} findings at a time.")
    return unique


def acknowledge(
    session: Session,
    *,
    tenant_id: int,
    finding_ids: list[int],
    user_id: int | None,
    user_name: str,
    note: object = None,
) -> AckResult:
    """Acknowledge the tenant's new findings among `finding_ids` (one UPDATE; a finding resolved
    by a generation meanwhile is not acknowledged: the WHERE re-checks the state)."""
    ids, text = clean_ids(finding_ids), clean_note(note)
    rows = {
        r.id: r.state
        for r in session.execute(
            sa.select(_F.c.id, _F.c.state).where(_F.c.id.in_(ids), _F.c.tenant_id == tenant_id)
        )
    }
    result = AckResult(not_found=[i for i in ids if i not in rows])
    fresh = [i for i in ids if rows.get(i) == FindingState.new.value]
    if fresh:
        done = session.execute(
            sa.update(_F)
            .where(_F.c.id.in_(fresh), _F.c.state == FindingState.new.value)
            .values(
                state=FindingState.acknowledged.value,
                acknowledged_at=utcnow(),
                acknowledged_by_user_id=user_id,
                acknowledged_by_name=user_name[:200],
                acknowledgement_note=text,
            )
            .returning(_F.c.id)
        )
        result.acknowledged = sorted(done.scalars())
    for i in ids:
        if i in rows and i not in result.acknowledged:
            # New when read but not updated: a generation resolved it in between.
            gone = rows[i] == FindingState.resolved.value or i in fresh
            (result.resolved if gone else result.already).append(i)
    return result
