"""Backup schedules: validate, create, edit, enable/disable, delete — and keep next_run_at
(the slot the scheduler fires next) in step with the cadence."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import sqlalchemy as sa
from sqlmodel import Session, select

from opsapp.features.backups.errors import BackupInputError
from opsapp.features.backups.names import clean_name
from opsapp.features.backups.slots import FREQUENCIES, WEEKDAY_TOKENS, Cadence, next_slot_after
from opsapp.models import BackupSchedule
from opsapp.models.types import utcnow
from opsapp.operations.access import NotFound
from opsapp.policy_types import SUPPORTED_POLICY_TYPE_KEYS

KEEP_MIN, KEEP_MAX = 1, 365
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass
class ScheduleInput:
    """What a schedule form or command submits (raw: validated by `validate`)."""

    name: str
    frequency: str = "daily"
    weekdays: list[Any] = field(default_factory=list)  # "mon".."sun" or 0..6; weekly only
    time_of_day: str = "02:00"
    timezone: str = "UTC"
    policy_types: list[str] = field(default_factory=list)
    keep_last: Any = 7
    enabled: bool = True


@lru_cache(maxsize=1)
def iana_zones() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=1)
def sorted_iana_zones() -> tuple[str, ...]:
    return tuple(sorted(iana_zones()))


def parse_time_of_day(text: object) -> time:
    match = _TIME.match(str(text or "").strip())
    if not match:
        raise BackupInputError("Time must be HH:MM on a 24-hour clock, e.g. 02:30.", field="time")
    return time(int(match[1]), int(match[2]))


def parse_timezone(name: object) -> ZoneInfo:
    text = str(name or "").strip()
    if text not in iana_zones():
        raise BackupInputError(
            f'"{text[:64]}" is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC).',
            field="timezone",
        )
    return ZoneInfo(text)


def parse_weekdays(values: list[Any]) -> list[int]:
    days: set[int] = set()
    for value in values:
        token = str(value).strip().lower()[:3]
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
            days.add(value)
        elif token in WEEKDAY_TOKENS:
            days.add(WEEKDAY_TOKENS.index(token))
        else:
            raise BackupInputError(
                f'"{str(value)[:20]}" is not a weekday (mon, tue, wed, thu, fri, sat, sun).',
                field="weekdays",
            )
    return sorted(days)


def _keep_last(value: Any) -> int:
    try:
        keep = int(str(value).strip())
    except ValueError:
        keep = 0
    if not KEEP_MIN <= keep <= KEEP_MAX:
        raise BackupInputError(
            f"Keep the last N sets: N must be a whole number from {KEEP_MIN} to {KEEP_MAX}.",
            field="keep_last",
        )
    return keep


def validate(data: ScheduleInput) -> dict[str, Any]:
    """The stored fields of a schedule, or BackupInputError naming the first bad field."""
    name = clean_name(data.name)
    frequency = str(data.frequency or "").strip().lower()
    if frequency not in FREQUENCIES:
        raise BackupInputError("Frequency must be daily or weekly.", field="frequency")
    weekdays = parse_weekdays(list(data.weekdays or [])) if frequency == "weekly" else []
    if frequency == "weekly" and not weekdays:
        raise BackupInputError("Pick at least one weekday for a weekly schedule.", field="weekdays")
    at = parse_time_of_day(data.time_of_day)
    zone = parse_timezone(data.timezone)
    types = sorted({str(t).strip() for t in data.policy_types or [] if str(t).strip()})
    if not types:
        raise BackupInputError("Pick at least one policy type.", field="policy_types")
    unknown = [t for t in types if t not in SUPPORTED_POLICY_TYPE_KEYS]
    if unknown:
        raise BackupInputError(
            f"Unknown policy type(s): {', '.join(u[:40] for u in unknown[:5])}.",
            field="policy_types",
        )
    return {
        "name": name,
        "frequency": frequency,
        "weekdays": weekdays,
        "time_of_day": f"{at:%H:%M}",
        "timezone": zone.key,
        "policy_types": types,
        "keep_last": _keep_last(data.keep_last),
        "enabled": bool(data.enabled),
    }


def cadence_of(schedule: BackupSchedule) -> Cadence:
    return Cadence(
        frequency=schedule.frequency,
        weekdays=tuple(schedule.weekdays or ()),
        time_of_day=parse_time_of_day(schedule.time_of_day),
        timezone=ZoneInfo(schedule.timezone),
    )


def get_schedule(session: Session, *, tenant_id: int, schedule_id: int) -> BackupSchedule:
    schedule = session.get(BackupSchedule, schedule_id)
    if schedule is None or schedule.tenant_id != tenant_id:
        raise NotFound("Backup schedule not found")
    return schedule


def _check_name_free(session: Session, tenant_id: int, name: str, except_id: int | None) -> None:
    query = select(BackupSchedule.id).where(
        BackupSchedule.tenant_id == tenant_id, sa.func.lower(BackupSchedule.name) == name.lower()
    )
    if except_id is not None:
        query = query.where(BackupSchedule.id != except_id)
    if session.exec(query).first() is not None:
        raise BackupInputError(f'A schedule named "{name}" already exists.', field="name")


def _apply(schedule: BackupSchedule, fields: dict[str, Any], now: datetime) -> None:
    cadence_changed = any(
        getattr(schedule, k, None) != fields[k]
        for k in ("frequency", "weekdays", "time_of_day", "timezone", "enabled")
        if k in fields
    )
    for key, value in fields.items():
        setattr(schedule, key, value)
    schedule.updated_at = now
    if not schedule.enabled:
        schedule.next_run_at = None
    elif cadence_changed or schedule.next_run_at is None:
        # From now on: a new cadence never fires a slot that is already in the past.
        schedule.next_run_at = next_slot_after(cadence_of(schedule), now)


def create_schedule(
    session: Session,
    *,
    tenant_id: int,
    data: ScheduleInput,
    user_id: int | None = None,
    now: datetime | None = None,
) -> BackupSchedule:
    fields, now = validate(data), now or utcnow()
    _check_name_free(session, tenant_id, fields["name"], None)
    schedule = BackupSchedule(
        tenant_id=tenant_id, created_by_user_id=user_id, created_at=now, **fields
    )
    schedule.next_run_at = next_slot_after(cadence_of(schedule), now) if schedule.enabled else None
    schedule.updated_at = now
    session.add(schedule)
    session.flush()
    return schedule


def update_schedule(
    session: Session,
    *,
    tenant_id: int,
    schedule_id: int,
    data: ScheduleInput,
    now: datetime | None = None,
) -> BackupSchedule:
    schedule = get_schedule(session, tenant_id=tenant_id, schedule_id=schedule_id)
    fields = validate(data)
    _check_name_free(session, tenant_id, fields["name"], schedule_id)
    _apply(schedule, fields, now or utcnow())
    session.add(schedule)
    session.flush()
    return schedule


def set_enabled(
    session: Session,
    *,
    tenant_id: int,
    schedule_id: int,
    enabled: bool,
    now: datetime | None = None,
) -> BackupSchedule:
    schedule = get_schedule(session, tenant_id=tenant_id, schedule_id=schedule_id)
    _apply(schedule, {"enabled": bool(enabled)}, now or utcnow())
    session.add(schedule)
    session.flush()
    return schedule


def delete_schedule(session: Session, *, tenant_id: int, schedule_id: int) -> str:
    """Delete a schedule; the sets it made stay (they are backups). Returns its name."""
    schedule = get_schedule(session, tenant_id=tenant_id, schedule_id=schedule_id)
    name = schedule.name
    session.delete(schedule)
    session.flush()
    return name
