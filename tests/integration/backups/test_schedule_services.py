"""Backup schedule services on a real database (SQLite and PostgreSQL): validation refuses bad
input with a clear message and writes nothing; create / edit / enable / delete keep next_run_at
(the slot the scheduler fires next) in step with the cadence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from opsapp.db import session_scope
from opsapp.features.backups.errors import BackupInputError
from opsapp.features.backups.schedules import (
    KEEP_MAX,
    ScheduleInput,
    create_schedule,
    delete_schedule,
    get_schedule,
    set_enabled,
    update_schedule,
)
from opsapp.models import BackupSchedule
from opsapp.operations.access import NotFound
from tests.factories import make_tenant

NOW = datetime(2026, 1, 10, 12, tzinfo=UTC)  # a Saturday


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def data(**overrides) -> ScheduleInput:
    fields = {
        "name": "Nightly",
        "time_of_day": "02:30",
        "timezone": "Europe/Berlin",
        "policy_types": ["deviceConfiguration"],
    }
    return ScheduleInput(**{**fields, **overrides})


def create(engine, tenant_id: int, now: datetime = NOW, **overrides) -> BackupSchedule:
    with session_scope(engine) as session:
        return create_schedule(session, tenant_id=tenant_id, data=data(**overrides), now=now)


def update(engine, tenant_id: int, schedule_id: int, now: datetime = NOW, **overrides):
    with session_scope(engine) as session:
        return update_schedule(
            session,
            tenant_id=tenant_id,
            schedule_id=schedule_id,
            data=data(**overrides),
            now=now,
        )


def count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(BackupSchedule)).scalar_one()


@pytest.fixture
def tenant(engine):
    return make_tenant(engine)


def test_create_stores_the_normalised_schedule_and_its_first_slot(engine, tenant):
    schedule = create(
        engine,
        tenant.id,
        name="  Weekly config  ",
        frequency="Weekly",
        weekdays=["Thu", "mon", 0, "monday"],
        time_of_day="2:05",
        timezone="America/New_York",
        policy_types=["deviceConfiguration", "deviceCompliancePolicy", "deviceConfiguration"],
        keep_last="14",
    )
    with session_scope(engine) as session:
        stored = get_schedule(session, tenant_id=tenant.id, schedule_id=schedule.id)
        assert (stored.name, stored.frequency, stored.weekdays) == (
            "Weekly config",
            "weekly",
            [0, 3],
        )
        assert (stored.time_of_day, stored.timezone, stored.keep_last) == (
            "02:05",
            "America/New_York",
            14,
        )
        assert stored.policy_types == ["deviceCompliancePolicy", "deviceConfiguration"]
        # Saturday 2026-01-10 → Monday 2026-01-12 02:05 EST = 07:05 UTC
        assert stored.next_run_at == utc(2026, 1, 12, 7, 5)
        assert stored.enabled is True and stored.last_scheduled_for is None


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "Name is required"),
        ({"name": "   "}, "name", "Name is required"),
        ({"name": "x" * 10_000}, "name", "too long (10,000 characters"),
        ({"name": "Nightly\nbackup"}, "name", "control or invisible"),
        ({"name": "tab\there"}, "name", "control or invisible"),
        ({"name": "bell\x07"}, "name", "control or invisible"),
        ({"name": "zero\u200bwidth"}, "name", "control or invisible"),
        ({"name": None}, "name", "must be text"),
        ({"timezone": "CEST"}, "timezone", "not an IANA time zone"),
        ({"timezone": "Europe/Atlantis"}, "timezone", "not an IANA time zone"),
        ({"timezone": "+02:00"}, "timezone", "not an IANA time zone"),
        ({"timezone": ""}, "timezone", "not an IANA time zone"),
        ({"policy_types": ["deviceConfiguration", "notAType"]}, "policy_types", "notAType"),
        ({"policy_types": []}, "policy_types", "at least one policy type"),
        ({"policy_types": ["  "]}, "policy_types", "at least one policy type"),
        ({"keep_last": 0}, "keep_last", "from 1 to 365"),
        ({"keep_last": -3}, "keep_last", "from 1 to 365"),
        ({"keep_last": KEEP_MAX + 1}, "keep_last", "from 1 to 365"),
        ({"keep_last": "seven"}, "keep_last", "whole number"),
        ({"keep_last": "2.5"}, "keep_last", "whole number"),
        ({"frequency": "hourly"}, "frequency", "daily or weekly"),
        ({"frequency": "weekly", "weekdays": []}, "weekdays", "at least one weekday"),
        ({"frequency": "weekly", "weekdays": ["funday"]}, "weekdays", "not a weekday"),
        ({"frequency": "weekly", "weekdays": [7]}, "weekdays", "not a weekday"),
        ({"frequency": "weekly", "weekdays": [True]}, "weekdays", "not a weekday"),
        ({"time_of_day": "24:00"}, "time", "HH:MM"),
        ({"time_of_day": "2:5"}, "time", "HH:MM"),
        ({"time_of_day": "noon"}, "time", "HH:MM"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_created(
    engine, tenant, overrides, field, message
):
    with pytest.raises(BackupInputError) as caught:
        create(engine, tenant.id, **overrides)
    assert caught.value.field == field
    assert message in str(caught.value)
    assert len(str(caught.value)) < 300  # a 10,000-character input is not echoed back
    assert count(engine) == 0


def test_keep_last_bounds_are_inclusive(engine, tenant):
    assert create(engine, tenant.id, name="one", keep_last=1).keep_last == 1
    assert create(engine, tenant.id, name="max", keep_last=KEEP_MAX).keep_last == KEEP_MAX


def test_a_daily_schedule_ignores_weekdays(engine, tenant):
    assert create(engine, tenant.id, weekdays=["funday"]).weekdays == []


def test_names_are_unique_per_tenant_case_insensitively(engine, tenant):
    create(engine, tenant.id, name="Nightly")
    with pytest.raises(BackupInputError, match="already exists") as caught:
        create(engine, tenant.id, name="NIGHTLY")
    assert caught.value.field == "name"
    other = make_tenant(engine)
    create(engine, other.id, name="Nightly")  # another tenant may use it
    assert count(engine) == 2


def test_edit_recomputes_next_run_at_when_the_cadence_changes(engine, tenant):
    schedule = create(engine, tenant.id)
    assert schedule.next_run_at == utc(2026, 1, 11, 1, 30)  # Sunday 02:30 CET

    later = utc(2026, 1, 11, 3)  # after that slot
    edited = update(engine, tenant.id, schedule.id, now=later, time_of_day="04:00")
    assert edited.next_run_at == utc(2026, 1, 12, 3, 0)  # never a slot already in the past

    tz = update(engine, tenant.id, schedule.id, now=later, time_of_day="04:00", timezone="UTC")
    assert tz.next_run_at == utc(2026, 1, 11, 4, 0)

    weekly = update(
        engine,
        tenant.id,
        schedule.id,
        now=later,
        time_of_day="04:00",
        timezone="UTC",
        frequency="weekly",
        weekdays=["fri"],
    )
    assert weekly.next_run_at == utc(2026, 1, 16, 4, 0)


def test_edit_without_a_cadence_change_keeps_next_run_at(engine, tenant):
    schedule = create(engine, tenant.id)
    edited = update(
        engine,
        tenant.id,
        schedule.id,
        now=utc(2026, 1, 10, 20),
        name="Renamed",
        keep_last=3,
        policy_types=["deviceCompliancePolicy"],
    )
    assert edited.next_run_at == schedule.next_run_at
    assert (edited.name, edited.keep_last) == ("Renamed", 3)
    # keeping its own name is not a clash
    assert update(engine, tenant.id, schedule.id, name="RENAMED").name == "RENAMED"


def test_a_bad_edit_changes_nothing(engine, tenant):
    schedule = create(engine, tenant.id)
    with pytest.raises(BackupInputError):
        update(engine, tenant.id, schedule.id, timezone="Mars/Olympus_Mons")
    with session_scope(engine) as session:
        stored = session.get(BackupSchedule, schedule.id)
        assert (stored.timezone, stored.next_run_at) == ("Europe/Berlin", schedule.next_run_at)


def test_disabled_schedules_have_no_next_run_and_get_one_from_now_when_enabled(engine, tenant):
    off = create(engine, tenant.id, name="Off from the start", enabled=False)
    assert off.next_run_at is None

    schedule = create(engine, tenant.id)
    with session_scope(engine) as session:
        disabled = set_enabled(
            session, tenant_id=tenant.id, schedule_id=schedule.id, enabled=False, now=NOW
        )
        assert disabled.next_run_at is None
    back = utc(2026, 2, 1, 12)
    with session_scope(engine) as session:
        enabled = set_enabled(
            session, tenant_id=tenant.id, schedule_id=schedule.id, enabled=True, now=back
        )
        assert enabled.next_run_at == utc(2026, 2, 2, 1, 30)
    # an edit that disables clears it too
    assert update(engine, tenant.id, schedule.id, enabled=False).next_run_at is None


def test_another_tenants_schedule_is_not_found(engine, tenant):
    schedule = create(engine, tenant.id)
    other = make_tenant(engine)
    with session_scope(engine) as session:
        with pytest.raises(NotFound):
            get_schedule(session, tenant_id=other.id, schedule_id=schedule.id)
        with pytest.raises(NotFound):
            delete_schedule(session, tenant_id=other.id, schedule_id=schedule.id)
    with pytest.raises(NotFound):
        update(engine, other.id, schedule.id, name="Hijack")
    assert count(engine) == 1


def test_delete_returns_the_name_and_removes_the_schedule(engine, tenant):
    schedule = create(engine, tenant.id, name="Doomed")
    with session_scope(engine) as session:
        assert delete_schedule(session, tenant_id=tenant.id, schedule_id=schedule.id) == "Doomed"
    assert count(engine) == 0
    with session_scope(engine) as session, pytest.raises(NotFound):
        get_schedule(session, tenant_id=tenant.id, schedule_id=schedule.id)
