"""Backup schedule pages: the list (Run now, Retry, pause, delete) and the form, driven through
their state handlers with real sessions — the server decides what each role may do."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from opsapp.db import session_scope
from opsapp.features.backups.schedules import ScheduleInput, create_schedule
from opsapp.models import BackupSchedule, OperationRun
from opsapp.models.types import utcnow
from opsapp.operations.service import ensure_run
from opsapp.ui.state.backup_schedules import BackupScheduleFormState, BackupScheduleListState
from tests.integration.ui.conftest import describe, make_state, run_handler, token_for

LIST_ROUTE = "/t/[tenant_slug]/backup-schedules"
FORM_ROUTE = "/t/[tenant_slug]/backup-schedules/[schedule_id]"
NEW_ROUTE = "/t/[tenant_slug]/backup-schedules/new"


def _schedule(engine, tenant, name="Nightly", **kwargs) -> BackupSchedule:
    data = ScheduleInput(
        name=name,
        time_of_day="02:30",
        timezone="Europe/Berlin",
        policy_types=["deviceConfiguration"],
        **kwargs,
    )
    with session_scope(engine) as session:
        return create_schedule(session, tenant_id=tenant.id, data=data)


def _list(token: str, slug: str = "contoso"):
    return make_state(
        BackupScheduleListState,
        route=LIST_ROUTE,
        path=f"/t/{slug}/backup-schedules",
        params={"tenant_slug": slug},
        token=token,
    )


def _form(token: str, schedule_id: int | None = None, slug: str = "contoso"):
    if schedule_id is None:
        return make_state(
            BackupScheduleFormState,
            route=NEW_ROUTE,
            path=f"/t/{slug}/backup-schedules/new",
            params={"tenant_slug": slug},
            token=token,
        )
    return make_state(
        BackupScheduleFormState,
        route=FORM_ROUTE,
        path=f"/t/{slug}/backup-schedules/{schedule_id}",
        params={"tenant_slug": slug, "schedule_id": str(schedule_id)},
        token=token,
    )


def _runs(engine) -> list[OperationRun]:
    with session_scope(engine) as session:
        return list(session.exec(sa.select(OperationRun).order_by(OperationRun.id)).scalars())


def _schedules(engine) -> list[BackupSchedule]:
    with session_scope(engine) as session:
        return list(session.exec(sa.select(BackupSchedule)).scalars())


async def test_list_shows_next_run_in_the_schedule_zone(app_db, contoso, users):
    _schedule(app_db, contoso)
    state = _list(token_for(app_db, users["readonly"]))
    await run_handler(state.load())

    assert state.access == "ok" and len(state.schedules) == 1
    row = state.schedules[0]
    assert row["time_of_day"] == "02:30" and row["next_run_local"].endswith(("CET", "CEST"))
    assert " 02:30 " in row["next_run_local"]
    assert state.can_manage is False  # readonly: no edit controls


async def test_run_now_starts_one_run_and_toasts_view_run(app_db, contoso, users, dispatcher):
    schedule = _schedule(app_db, contoso)
    state = _list(token_for(app_db, users["operator"]))
    await run_handler(state.load())

    events = describe(await run_handler(state.run_now(schedule.id)))
    again = describe(await run_handler(state.run_now(schedule.id)))

    runs = _runs(app_db)
    assert len(runs) == 1 and runs[0].type == "backup_schedule.run_now"
    assert runs[0].context["inputs"] == {"schedule_id": schedule.id}
    assert "queued" in events and f"/t/contoso/operations/{runs[0].id}" in events
    assert "already running" in again
    assert dispatcher.dispatched == [runs[0].id]


async def test_readonly_run_now_is_refused_and_creates_nothing(app_db, contoso, users, dispatcher):
    schedule = _schedule(app_db, contoso)
    state = _list(token_for(app_db, users["readonly"]))
    events = describe(await run_handler(state.run_now(schedule.id)))
    assert "Not allowed" in events and _runs(app_db) == []


async def test_run_now_for_another_tenants_schedule_is_not_found(
    app_db, contoso, other_tenant, users, dispatcher
):
    foreign = _schedule(app_db, other_tenant, name="Theirs")
    state = _list(token_for(app_db, users["owner"]))
    events = describe(await run_handler(state.run_now(foreign.id)))
    assert "Backup schedule not found" in events and _runs(app_db) == []


async def test_retry_only_for_a_failed_run_of_the_schedule(app_db, contoso, users, dispatcher):
    schedule = _schedule(app_db, contoso)
    with session_scope(app_db) as session:
        run = ensure_run(
            session,
            tenant_id=contoso.id,
            run_type="backup_schedule.run_now",
            inputs={"schedule_id": schedule.id},
            user_id=None,
            initiator_name="System",
        ).run
    state = _list(token_for(app_db, users["operator"]))
    refused = describe(await run_handler(state.retry(schedule.id, run.id)))
    assert "Retry is offered only" in refused and len(_runs(app_db)) == 1  # still active

    with session_scope(app_db) as session:
        row = session.get(OperationRun, run.id)
        row.status, row.outcome, row.completed_at = "completed", "failed", utcnow()
        session.add(row)
    events = describe(await run_handler(state.retry(schedule.id, run.id)))
    retry = _runs(app_db)[-1]
    assert "queued" in events and retry.type == "backup_schedule.retry"
    assert retry.context["inputs"] == {"schedule_id": schedule.id, "retried_run_id": run.id}


async def test_operator_cannot_pause_or_delete(app_db, contoso, users):
    schedule = _schedule(app_db, contoso)
    state = _list(token_for(app_db, users["operator"]))
    await run_handler(state.load())
    assert "Not allowed" in describe(await run_handler(state.set_enabled(schedule.id, False)))
    state.ask_delete(schedule.id, "Nightly")
    assert "Not allowed" in describe(await run_handler(state.confirm_delete()))
    assert [s.enabled for s in _schedules(app_db)] == [True]


async def test_manager_pauses_and_deletes(app_db, contoso, users):
    schedule = _schedule(app_db, contoso)
    state = _list(token_for(app_db, users["manager"]))
    await run_handler(state.load())
    await run_handler(state.set_enabled(schedule.id, False))
    assert state.schedules[0]["enabled"] is False and state.schedules[0]["next_run_at"] is None

    state.ask_delete(schedule.id, "Nightly")
    events = describe(await run_handler(state.confirm_delete()))
    assert "deleted" in events and _schedules(app_db) == [] and state.schedules == []


async def test_new_form_is_for_owners_and_managers(app_db, contoso, users):
    for role, access in (("operator", "forbidden"), ("readonly", "forbidden"), ("owner", "ok")):
        state = _form(token_for(app_db, users[role]))
        await run_handler(state.load())
        assert state.access == access, role


async def test_create_shows_field_errors_and_saves_nothing(app_db, contoso, users):
    state = _form(token_for(app_db, users["manager"]))
    await run_handler(state.load())
    state.change_name("Weekly")
    state.change_frequency("weekly")
    state.toggle_weekday("mon", False)
    state.change_timezone("Mars/Olympus")
    state.toggle_policy_type("deviceConfiguration", True)

    await run_handler(state.save())
    assert "weekdays" in state.errors  # weekly without a day
    state.toggle_weekday("thu", True)
    await run_handler(state.save())
    assert "IANA" in state.errors["timezone"]
    assert _schedules(app_db) == []

    state.change_timezone("America/New_York")
    events = describe(await run_handler(state.save()))
    saved = _schedules(app_db)
    assert len(saved) == 1 and saved[0].weekdays == [3] and saved[0].timezone == "America/New_York"
    assert "/t/contoso/backup-schedules" in events and "saved" in events


async def test_edit_loads_and_recomputes_next_run(app_db, contoso, users):
    schedule = _schedule(app_db, contoso)
    state = _form(token_for(app_db, users["owner"]), schedule.id)
    await run_handler(state.load())
    assert (state.form_name, state.time_of_day, state.timezone) == (
        "Nightly",
        "02:30",
        "Europe/Berlin",
    )
    state.change_time("23:15")
    await run_handler(state.save())
    with session_scope(app_db) as session:
        row = session.get(BackupSchedule, schedule.id)
    assert row.time_of_day == "23:15" and row.next_run_at != schedule.next_run_at


async def test_readonly_may_view_a_schedule_but_not_save_it(app_db, contoso, users):
    schedule = _schedule(app_db, contoso)
    state = _form(token_for(app_db, users["readonly"]), schedule.id)
    await run_handler(state.load())
    assert state.access == "ok" and state.can_manage is False
    state.change_name("Hijacked")
    assert "Not allowed" in describe(await run_handler(state.save()))
    assert _schedules(app_db)[0].name == "Nightly"


async def test_foreign_or_bogus_schedule_page_is_not_found(app_db, contoso, other_tenant, users):
    foreign = _schedule(app_db, other_tenant, name="Theirs")
    for schedule_id in (foreign.id, 999_999):
        state = _form(token_for(app_db, users["owner"]), schedule_id)
        await run_handler(state.load())
        assert state.access == "not_found"


@pytest.mark.parametrize("state_cls", [BackupScheduleListState, BackupScheduleFormState])
def test_schedule_page_handlers_run_on_the_page_state(app_db, state_cls):
    names = {
        BackupScheduleListState: ("load", "run_now", "retry", "set_enabled", "watch_tick"),
        BackupScheduleFormState: ("load", "save", "change_name", "toggle_policy_type"),
    }[state_cls]
    for name in names:
        assert getattr(state_cls, name).state_full_name == state_cls.get_full_name(), name
