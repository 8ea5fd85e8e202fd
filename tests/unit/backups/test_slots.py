"""Backup schedule slots: daily and weekly cadences in their own time zone, DST spring-forward
(the missing wall-clock time is skipped) and fall-back (the repeated hour fires once, at its
first occurrence), and coalescing of missed slots."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from opsapp.features.backups.slots import Cadence, due_slot, local_slot, next_slot_after

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
SUN = 6


def cadence(at: str, zone: ZoneInfo, weekdays: tuple[int, ...] = ()) -> Cadence:
    hours, minutes = map(int, at.split(":"))
    return Cadence(
        frequency="weekly" if weekdays else "daily",
        weekdays=weekdays,
        time_of_day=time(hours, minutes),
        timezone=zone,
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def slots_from(c: Cadence, start: datetime, n: int) -> list[datetime]:
    out, at = [], start
    for _ in range(n):
        at = next_slot_after(c, at)
        out.append(at)
    return out


# --- ordinary days ---------------------------------------------------------------------------


def test_daily_slot_is_the_local_wall_clock_time_converted_to_utc():
    c = cadence("02:30", BERLIN)
    # winter (CET, UTC+1) and summer (CEST, UTC+2)
    assert next_slot_after(c, utc(2026, 1, 10, 12)) == utc(2026, 1, 11, 1, 30)
    assert next_slot_after(c, utc(2026, 7, 10, 12)) == utc(2026, 7, 11, 0, 30)
    # the slot itself is not "after" itself; one second before it is
    assert next_slot_after(c, utc(2026, 1, 11, 1, 30)) == utc(2026, 1, 12, 1, 30)
    assert next_slot_after(c, utc(2026, 1, 11, 1, 29, 59)) == utc(2026, 1, 11, 1, 30)


def test_next_slot_after_refuses_a_naive_datetime():
    with pytest.raises(ValueError, match="timezone-aware"):
        next_slot_after(cadence("02:30", BERLIN), datetime(2026, 1, 1))


def test_weekly_slots_fall_only_on_the_chosen_weekdays():
    c = cadence("09:15", NEW_YORK, weekdays=(0, 3))  # Monday and Thursday
    got = slots_from(c, utc(2026, 6, 1), 6)  # 2026-06-01 is a Monday, 00:00 UTC = Sunday evening NY
    local = [s.astimezone(NEW_YORK) for s in got]
    assert [d.weekday() for d in local] == [0, 3, 0, 3, 0, 3]
    assert {(d.hour, d.minute) for d in local} == {(9, 15)}
    assert local[0].date().isoformat() == "2026-06-01"


def test_a_weekly_cadence_without_weekdays_has_no_slot():
    with pytest.raises(ValueError, match="no slot"):
        next_slot_after(Cadence("weekly", (), time(9), BERLIN), utc(2026, 1, 1))


# --- DST: spring forward -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "at", "before", "day_before_slot", "day_after_slot"),
    [
        # Europe/Berlin 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist.
        (BERLIN, "02:30", utc(2026, 3, 28, 0), utc(2026, 3, 28, 1, 30), utc(2026, 3, 30, 0, 30)),
        # America/New_York 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist.
        (NEW_YORK, "02:30", utc(2026, 3, 7, 0), utc(2026, 3, 7, 7, 30), utc(2026, 3, 9, 6, 30)),
    ],
)
def test_daily_spring_forward_skips_the_missing_slot(
    zone, at, before, day_before_slot, day_after_slot
):
    c = cadence(at, zone)
    assert slots_from(c, before, 2) == [day_before_slot, day_after_slot]
    # and the gap day's local_slot says so explicitly
    gap_day = (day_before_slot.astimezone(zone) + timedelta(days=1)).date()
    assert local_slot(c, gap_day) is None


@pytest.mark.parametrize(
    ("zone", "gap_sunday", "at", "expected"),
    [
        (BERLIN, "2026-03-29", "02:30", utc(2026, 4, 5, 0, 30)),
        (NEW_YORK, "2026-03-08", "02:00", utc(2026, 3, 15, 6, 0)),
    ],
)
def test_weekly_spring_forward_skips_to_the_next_week(zone, gap_sunday, at, expected):
    c = cadence(at, zone, weekdays=(SUN,))
    week_before = datetime.fromisoformat(gap_sunday).replace(tzinfo=zone) - timedelta(days=7)
    first = next_slot_after(c, week_before.astimezone(UTC))
    assert first.astimezone(zone).date().isoformat() != gap_sunday
    # the Sunday before the gap, then (gap Sunday skipped) the Sunday after
    assert (first.astimezone(zone).date() + timedelta(days=7)).isoformat() == gap_sunday
    assert next_slot_after(c, first) == expected


def test_a_time_just_after_the_gap_still_fires_on_the_dst_day():
    c = cadence("03:00", BERLIN)  # 03:00 CEST exists (the clock jumps to it)
    assert next_slot_after(c, utc(2026, 3, 28, 12)) == utc(2026, 3, 29, 1, 0)


# --- DST: fall back -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "at", "first", "repeat", "next_day"),
    [
        # Europe/Berlin 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice.
        (
            BERLIN,
            "02:30",
            utc(2026, 10, 25, 0, 30),
            utc(2026, 10, 25, 1, 30),
            utc(2026, 10, 26, 1, 30),
        ),
        # America/New_York 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
        (
            NEW_YORK,
            "01:30",
            utc(2026, 11, 1, 5, 30),
            utc(2026, 11, 1, 6, 30),
            utc(2026, 11, 2, 6, 30),
        ),
    ],
)
def test_daily_fall_back_fires_the_repeated_time_once_at_its_first_occurrence(
    zone, at, first, repeat, next_day
):
    c = cadence(at, zone)
    assert next_slot_after(c, first - timedelta(hours=12)) == first
    # after the first occurrence, the second one (same wall-clock time) is NOT a slot
    assert next_slot_after(c, first) == next_day
    # a scheduler that was down over the first occurrence and wakes inside the repeat does not
    # fire again either: it fires the first occurrence (coalesced) and moves on to the next day
    assert due_slot(c, first, repeat) == (first, next_day)
    assert due_slot(c, next_day, repeat) is None


def test_weekly_fall_back_sunday_fires_once():
    c = cadence("01:30", NEW_YORK, weekdays=(SUN,))
    got = slots_from(c, utc(2026, 10, 30), 2)
    assert got == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 8, 6, 30)]


# --- a whole year ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "at", "expected"),
    [
        (BERLIN, "09:00", 365),
        (NEW_YORK, "01:30", 365),  # the repeated hour: still one slot that day
        (BERLIN, "02:30", 364),  # 2026-03-29 02:30 does not exist
        (NEW_YORK, "02:15", 364),  # 2026-03-08 02:15 does not exist
    ],
)
def test_a_year_of_daily_slots(zone, at, expected):
    c = cadence(at, zone)
    start = datetime(2026, 1, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(2027, 1, 1, tzinfo=zone).astimezone(UTC)
    slots, at_ = [], start
    while (at_ := next_slot_after(c, at_)) < end:
        slots.append(at_)
    assert len(slots) == len(set(slots)) == expected
    local_days = [s.astimezone(zone).date() for s in slots]
    assert len(set(local_days)) == expected  # at most one slot per local day
    assert all(b > a for a, b in zip(slots, slots[1:], strict=False))
    hh, mm = map(int, at.split(":"))
    assert {(s.astimezone(zone).hour, s.astimezone(zone).minute) for s in slots} == {(hh, mm)}


def test_a_year_of_weekly_slots_counts_each_chosen_weekday():
    c = cadence("06:00", BERLIN, weekdays=(0, 3, 4))  # Mon, Thu, Fri
    start, end = utc(2026, 1, 1), utc(2027, 1, 1)
    slots, at = [], start
    while (at := next_slot_after(c, at)) < end:
        slots.append(at)
    # 2026 starts on a Thursday: 53 Thursdays, 52 Mondays and 52 Fridays
    assert len(set(slots)) == len(slots) == 157
    weekdays = [s.astimezone(BERLIN).weekday() for s in slots]
    assert (weekdays.count(0), weekdays.count(3), weekdays.count(4)) == (52, 53, 52)


# --- due_slot: firing, coalescing, clock jumps --------------------------------------------------


def test_due_slot_fires_the_slot_at_its_time_and_schedules_the_next():
    c = cadence("02:30", BERLIN)
    slot = utc(2026, 1, 11, 1, 30)
    assert due_slot(c, slot, slot) == (slot, utc(2026, 1, 12, 1, 30))
    assert due_slot(c, slot, slot + timedelta(seconds=59)) == (slot, utc(2026, 1, 12, 1, 30))


def test_due_slot_is_nothing_before_the_slot_and_after_a_clock_jump_back():
    c = cadence("02:30", BERLIN)
    slot = utc(2026, 1, 11, 1, 30)
    assert due_slot(c, slot, slot - timedelta(seconds=1)) is None
    assert due_slot(c, slot, slot - timedelta(days=3)) is None


def test_missed_slots_coalesce_into_the_latest_one():
    c = cadence("02:30", BERLIN)
    missed_from = utc(2026, 1, 5, 1, 30)
    now = utc(2026, 1, 11, 9, 0)  # six slots missed, plus today's
    assert due_slot(c, missed_from, now) == (utc(2026, 1, 11, 1, 30), utc(2026, 1, 12, 1, 30))


def test_coalescing_across_the_spring_forward_gap_fires_the_latest_existing_slot():
    c = cadence("02:30", BERLIN)
    # down from 2026-03-27 to the afternoon of 2026-03-29 (whose 02:30 does not exist)
    assert due_slot(c, utc(2026, 3, 27, 1, 30), utc(2026, 3, 29, 15)) == (
        utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 30, 0, 30),
    )


def test_weekly_coalescing_over_months():
    c = cadence("22:00", NEW_YORK, weekdays=(4,))  # Fridays 22:00 New York
    fired, following = due_slot(c, utc(2026, 1, 3, 3, 0), utc(2026, 6, 1))
    assert fired == utc(2026, 5, 30, 2, 0)  # Friday 2026-05-29 22:00 EDT
    assert following == utc(2026, 6, 6, 2, 0)
    assert fired.astimezone(NEW_YORK).weekday() == 4
