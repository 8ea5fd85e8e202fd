"""When a backup schedule fires: slots in the schedule's own time zone, DST included.

A slot is a local wall-clock time ("02:30 Europe/Berlin") on a matching day. On the
spring-forward day a wall-clock time inside the gap does not exist: that slot is skipped. On the
fall-back day the repeated hour exists twice: the slot fires once, at its first occurrence.
All returned datetimes are aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

FREQUENCIES = ("daily", "weekly")
WEEKDAY_TOKENS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
_MAX_DAYS_AHEAD = 8 + 366  # a weekly cadence finds its next day within a week (+ DST gaps)


@dataclass(frozen=True)
class Cadence:
    frequency: str  # "daily" | "weekly"
    weekdays: tuple[int, ...]  # 0 = Monday … 6 = Sunday; ignored when daily
    time_of_day: time
    timezone: ZoneInfo

    def runs_on(self, day: date) -> bool:
        return self.frequency == "daily" or day.weekday() in self.weekdays


def local_slot(cadence: Cadence, day: date) -> datetime | None:
    """The UTC instant of `day`'s slot, or None when that wall-clock time does not exist there
    (inside a spring-forward gap). A repeated (fall-back) time resolves to its first occurrence."""
    naive = datetime.combine(day, cadence.time_of_day)
    aware = naive.replace(tzinfo=cadence.timezone, fold=0)
    as_utc = aware.astimezone(UTC)
    # A non-existent local time does not survive the round trip back to local time.
    if as_utc.astimezone(cadence.timezone).replace(tzinfo=None) != naive:
        return None
    return as_utc


def next_slot_after(cadence: Cadence, after: datetime) -> datetime:
    """The first slot strictly after `after` (aware)."""
    if after.tzinfo is None:
        raise ValueError("`after` must be timezone-aware")
    day = after.astimezone(cadence.timezone).date() - timedelta(days=1)
    for _ in range(_MAX_DAYS_AHEAD):
        if cadence.runs_on(day):
            slot = local_slot(cadence, day)
            if slot is not None and slot > after:
                return slot
        day += timedelta(days=1)
    raise ValueError("the cadence has no slot within a year")  # no weekdays on a weekly cadence


def due_slot(
    cadence: Cadence, next_run_at: datetime, now: datetime
) -> tuple[datetime, datetime] | None:
    """(slot to fire, new next_run_at) when `next_run_at` is due at `now`, else None.

    Slots missed while nothing ran coalesce: the slot fired is the latest one not after `now`,
    and the new next_run_at is the first slot after `now`."""
    if next_run_at > now:
        return None
    slot = next_run_at
    following = next_slot_after(cadence, slot)
    while following <= now:
        slot, following = following, next_slot_after(cadence, following)
    return slot, following
