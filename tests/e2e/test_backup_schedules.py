"""Backup schedules in the browser: a manager creates one (a bad time zone is refused with a
message), runs it now and follows the run; a reader sees schedules but no controls."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import RunningApp, shot, sign_in

pytestmark = pytest.mark.slow
RUN_URL = re.compile(r".*/t/(\w+)/operations/(\d+)$")
NAME = "Weekly compliance backup"


def _create(page, app: RunningApp) -> None:
    page.goto(f"{app.base_url}/t/contoso/backup-schedules")
    page.get_by_role("heading", name="Backup schedules", exact=True).wait_for()
    if page.get_by_test_id("schedule-row").filter(has_text=NAME).count():
        return
    shot(page, "backup-schedules-empty")
    page.get_by_test_id("new-schedule").first.click()
    page.get_by_role("heading", name="New backup schedule").wait_for()

    page.locator("input[name=name]").fill(NAME)
    page.get_by_role("combobox").first.click()
    page.get_by_role("option", name="weekly").click()
    page.get_by_role("checkbox", name="Thu").click()
    page.locator("input[name=time]").fill("02:30")
    page.locator("input[name=timezone]").fill("Europe/Atlantis")
    page.get_by_role("checkbox", name="Compliance policy").click()
    page.get_by_role("checkbox", name="Device configuration").click()
    page.locator("input[name=keep_last]").fill("3")
    page.get_by_test_id("save-schedule").click()
    error = page.get_by_test_id("error-timezone")
    error.wait_for()
    assert "not an IANA time zone" in error.inner_text()
    shot(page, "backup-schedule-form-error")

    page.locator("input[name=timezone]").fill("Europe/Berlin")
    error.wait_for(state="detached")  # a changed field's error goes away
    page.get_by_test_id("save-schedule").click()
    page.wait_for_url("**/t/contoso/backup-schedules")


def test_manager_creates_a_schedule_and_runs_it_now(prod_app: RunningApp, new_page):
    page = new_page()
    sign_in(page, prod_app, "manager", next_path="/t/contoso/backup-schedules")
    _create(page, prod_app)

    row = page.get_by_test_id("schedule-row").filter(has_text=NAME)
    row.wait_for()
    text = row.inner_text()
    assert "Weekly on Mon, Thu at 02:30" in text and "Europe/Berlin" in text
    assert re.search(r"\d{4}-\d\d-\d\d 02:30 CES?T", text), text  # in the schedule's zone
    assert "Never run" in text
    shot(page, "backup-schedules")

    row.get_by_test_id("run-now").click()
    toast = page.locator("[data-sonner-toast]").filter(has_text="Backup schedule run queued")
    toast.wait_for()
    toast.get_by_role("button", name="View run").click()
    page.wait_for_url(RUN_URL)
    run_id = int(RUN_URL.match(page.url).group(2))
    page.wait_for_function(
        "() => document.querySelector('[data-testid=run-status]')?.innerText === 'Completed'",
        timeout=120_000,
    )
    assert page.get_by_test_id("run-outcome").inner_text() == "Succeeded"
    shot(page, "backup-schedule-run")

    run = prod_app.runs(id=run_id)[0]
    assert run["type"] == "backup_schedule.run_now" and run["initiator_name"]
    page.go_back()
    row = page.get_by_test_id("schedule-row").filter(has_text=NAME)
    row.get_by_test_id("last-run").filter(has_text="Succeeded").wait_for()


def test_reader_sees_schedules_without_controls(prod_app: RunningApp, new_page):
    manager = new_page()
    sign_in(manager, prod_app, "manager", next_path="/t/contoso/backup-schedules")
    _create(manager, prod_app)

    page = new_page()
    sign_in(page, prod_app, "reader", next_path="/t/contoso/backup-schedules")
    page.get_by_test_id("schedule-row").filter(has_text=NAME).wait_for()
    assert page.get_by_test_id("run-now").count() == 0
    assert page.get_by_test_id("new-schedule").count() == 0
    assert page.get_by_role("switch").count() == 0
    shot(page, "backup-schedules-reader")

    page.get_by_role("link", name=NAME).click()
    page.get_by_text("Only owners and managers can change schedules.").wait_for()
    assert page.get_by_test_id("save-schedule").count() == 0

    page.goto(f"{prod_app.base_url}/t/contoso/backup-schedules/new")
    page.get_by_test_id("forbidden").wait_for()
