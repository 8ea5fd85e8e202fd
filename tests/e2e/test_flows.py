"""What a person does in the browser: sign in, start a sync, follow the run live, share links —
and what they must never get: another tenant's run, a start as a reader, two runs for one click."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    UI_TIMEOUT_MS,
    RunningApp,
    clear_faults,
    graph_requests,
    set_faults,
    shot,
    sign_in,
)

pytestmark = pytest.mark.slow
RUN_URL = re.compile(r".*/t/(\w+)/operations/(\d+)$")


def test_wrong_password_is_refused_then_sign_in_returns_to_the_page(prod_app: RunningApp, new_page):
    page = new_page()
    page.goto(f"{prod_app.base_url}/t/contoso/operations?state=failed")
    page.wait_for_url("**/login?next=**")
    shot(page, "sign-in")

    page.fill("#email", "owner@opsapp.demo")
    page.fill("#password", "not-the-password")
    page.get_by_role("button", name="Sign in").click()
    error = page.get_by_test_id("sign-in-error")
    error.wait_for()
    assert error.inner_text().strip() == "Invalid e-mail or password."

    page.fill("#password", "demo-owner-pass")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/t/contoso/operations?state=failed")
    page.get_by_role("heading", name="Operations", exact=True).wait_for()


def test_sync_now_toasts_view_run_and_the_run_completes_live(
    prod_app: RunningApp, demo_graph, new_page
):
    set_faults(demo_graph, "contoso", slow_ms=400)  # a run long enough to watch it move
    try:
        page = new_page()
        sign_in(page, prod_app, "operator", next_path="/t/contoso/inventory")
        page.get_by_role("heading", name="Inventory", exact=True).wait_for()

        page.get_by_role("button", name="Sync now").click()
        toast = page.locator("[data-sonner-toast]").filter(has_text="Inventory sync queued")
        toast.wait_for()
        shot(page, "inventory-sync-toast")
        page.evaluate("window.__noReload = true")  # gone if the page reloads
        toast.get_by_role("button", name="View run").click()

        page.wait_for_url(RUN_URL)
        run_id = int(RUN_URL.match(page.url).group(2))
        status = page.get_by_test_id("run-status")
        status.wait_for()
        assert status.inner_text() in ("Queued", "Running")
        page.get_by_test_id("run-progress").wait_for()
        shot(page, "run-detail-running")

        page.wait_for_function(
            "() => document.querySelector('[data-testid=run-status]')?.innerText === 'Completed'",
            timeout=60_000,
        )
        assert page.evaluate("window.__noReload") is True
        assert page.get_by_test_id("run-outcome").inner_text() == "Succeeded"
        assert page.get_by_test_id("run-progress").count() == 0  # polling view gone
        shot(page, "run-detail-completed")
    finally:
        clear_faults(demo_graph, "contoso")

    row = prod_app.runs(id=run_id)[0]
    assert (row["type"], row["status"], row["outcome"]) == (
        "inventory.sync",
        "completed",
        "succeeded",
    )

    page.goto(f"{prod_app.base_url}/t/contoso")
    page.get_by_test_id("count-inventory_items").filter(has_text="400").wait_for()
    page.locator(f'[data-testid=last-sync] a[href="/t/contoso/operations/{run_id}"]').wait_for()
    shot(page, "dashboard")


def test_double_click_on_sync_starts_one_run(prod_app: RunningApp, demo_graph, new_page):
    set_faults(demo_graph, "contoso", slow_ms=200)
    try:
        page = new_page()
        sign_in(page, prod_app, "manager", next_path="/t/contoso/directory/groups")
        before = {r["id"] for r in prod_app.runs(type="directory_groups.sync")}

        page.evaluate("window.__noReload = true")
        page.get_by_role("button", name="Sync groups").dblclick()
        page.locator("[data-sonner-toast]").first.wait_for()
        page.wait_for_timeout(1500)

        new = [r for r in prod_app.runs(type="directory_groups.sync") if r["id"] not in before]
        assert len(new) == 1
        # The page follows its sync and shows the groups once it completes, without a reload.
        page.locator("tbody tr").first.wait_for(timeout=60_000)
        assert page.evaluate("window.__noReload") is True
    finally:
        clear_faults(demo_graph, "contoso")


def test_two_users_starting_the_same_sync_get_the_same_run(
    prod_app: RunningApp, demo_graph, new_page
):
    set_faults(demo_graph, "fabrikam", slow_ms=300)
    try:
        pages = [new_page(), new_page()]
        sign_in(pages[0], prod_app, "owner", next_path="/t/fabrikam/policies")
        sign_in(pages[1], prod_app, "fabrikam", next_path="/t/fabrikam/policies")
        urls, texts = [], []
        for page in pages:
            page.get_by_role("button", name="Sync now").click()
            toast = page.locator("[data-sonner-toast]").filter(has_text="Policy sync")
            toast.first.wait_for()
            texts.append(toast.first.inner_text())
            toast.first.get_by_role("button", name="View run").click()
            page.wait_for_url(RUN_URL)
            urls.append(page.url)
        assert urls[0] == urls[1]
        assert "queued" in texts[0] and "already running" in texts[1]
    finally:
        clear_faults(demo_graph, "fabrikam")


def test_reader_sees_no_start_controls(prod_app: RunningApp, new_page):
    page = new_page()
    sign_in(page, prod_app, "reader", next_path="/t/contoso/inventory")
    page.get_by_role("heading", name="Inventory", exact=True).wait_for()
    page.wait_for_timeout(300)
    assert page.get_by_test_id("start-button").count() == 0
    for path in ("/t/contoso/policies", "/t/contoso/directory/groups", "/t/contoso"):
        page.goto(f"{prod_app.base_url}{path}")
        page.locator("main h1").first.wait_for()
        assert page.get_by_test_id("start-button").count() == 0, path


def test_another_tenants_run_and_a_missing_run_show_404(prod_app: RunningApp, new_page):
    contoso_run = prod_app.runs(tenant_id=1)[0]["id"]
    page = new_page()
    sign_in(page, prod_app, "fabrikam", next_path="/t/fabrikam")

    for path in (
        f"/t/contoso/operations/{contoso_run}",  # a real run of a tenant they are not in
        f"/t/fabrikam/operations/{contoso_run}",  # the same id crafted under their own tenant
        "/t/fabrikam/operations/99999999",
        "/t/contoso",
    ):
        page.goto(f"{prod_app.base_url}{path}")
        page.get_by_test_id("not-found").wait_for()
    shot(page, "not-found")


def test_operations_filters_survive_a_reload_and_a_shared_link(prod_app: RunningApp, new_page):
    page = new_page()
    sign_in(page, prod_app, "owner", next_path="/t/contoso/operations")
    page.get_by_role("heading", name="Operations", exact=True).wait_for()
    page.locator("tbody tr").first.wait_for()
    shot(page, "operations")

    page.get_by_role("combobox", name="State").click()
    page.get_by_role("option", name="Failed", exact=True).click()
    page.wait_for_url("**state=failed**")
    page.wait_for_function(
        """() => { const s = [...document.querySelectorAll('tbody [data-run-state]')];
                   return s.length > 0 && s.every(e => e.dataset.runState === 'failed'); }"""
    )
    label = page.locator("tbody tr th a").first.inner_text()  # a type that has failed runs
    page.get_by_role("combobox", name="Operation type").click()
    page.get_by_role("option", name=label, exact=True).click()
    page.wait_for_url("**type=**")
    shared = page.url

    def assert_filtered(p):
        # The selects show the URL's filters once the filtered view arrived (rows come with them).
        expect(p.get_by_role("combobox", name="Operation type")).to_have_text(
            label, timeout=UI_TIMEOUT_MS
        )
        expect(p.get_by_role("combobox", name="State")).to_have_text(
            "Failed", timeout=UI_TIMEOUT_MS
        )
        p.wait_for_function(
            """label => { const rows = [...document.querySelectorAll('tbody tr th a')];
                          return rows.length > 0 && rows.every(a => a.innerText === label); }""",
            arg=label,
        )
        states = p.locator("tbody [data-run-state]").evaluate_all(
            "els => els.map(e => e.dataset.runState)"
        )
        assert states and set(states) == {"failed"}

    assert_filtered(page)
    page.reload()
    assert_filtered(page)

    other = new_page()
    sign_in(other, prod_app, "manager", next_path=shared.replace(prod_app.base_url, ""))
    assert other.url == shared
    assert_filtered(other)


def test_monitoring_pages_render_while_graph_fails_and_never_call_it(
    prod_app: RunningApp, demo_graph, new_page
):
    run_id = prod_app.runs(tenant_id=1)[0]["id"]
    set_faults(demo_graph, "contoso", error_rate=1.0, error_status=503)
    try:
        before = graph_requests(demo_graph, "contoso")
        page = new_page()
        sign_in(page, prod_app, "owner", next_path="/t/contoso")
        page.get_by_test_id("count-inventory_items").wait_for()
        page.goto(f"{prod_app.base_url}/t/contoso/operations")
        page.locator("tbody tr").first.wait_for()
        page.goto(f"{prod_app.base_url}/t/contoso/operations/{run_id}")
        page.get_by_test_id("run-status").wait_for()
        assert graph_requests(demo_graph, "contoso") == before
    finally:
        clear_faults(demo_graph, "contoso")


def test_notifications_bell_lists_and_marks_read(prod_app: RunningApp, new_page):
    page = new_page()
    sign_in(page, prod_app, "owner", next_path="/t/contoso")
    badge = page.get_by_test_id("unread-count")
    badge.wait_for()
    unread = int(badge.inner_text())
    assert unread >= 1

    page.get_by_role("button", name="Notifications").click()
    page.get_by_role("button", name="Mark all read").click()
    page.wait_for_function("() => !document.querySelector('[data-testid=unread-count]')")
    shot(page, "notifications")


def test_dark_mode_and_phone_width(prod_app: RunningApp, new_page):
    page = new_page(color_scheme="dark")
    sign_in(page, prod_app, "owner", next_path="/t/contoso/operations")
    page.locator("tbody tr").first.wait_for()
    assert "dark" in (page.locator("html").get_attribute("class") or "")
    shot(page, "operations-dark")

    phone = new_page(width=390, height=844)
    sign_in(phone, prod_app, "owner", next_path="/t/contoso")
    phone.get_by_test_id("count-inventory_items").wait_for()
    shot(phone, "dashboard-phone")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"horizontal scroll at phone width: {width}px"


def test_tenant_switcher_lists_only_own_tenants_and_switches(prod_app: RunningApp, new_page):
    page = new_page()
    sign_in(page, prod_app, "fabrikam", next_path="/")
    page.wait_for_url("**/t/fabrikam")  # one tenant: straight to it
    page.get_by_role("button", name="Switch tenant").click()
    items = page.get_by_role("menuitem").all_inner_texts()
    assert len(items) == 1 and "Fabrikam" in items[0]
    page.keyboard.press("Escape")

    owner = new_page()
    sign_in(owner, prod_app, "owner", next_path="/t/contoso")
    owner.get_by_test_id("count-inventory_items").wait_for()
    owner.get_by_role("button", name="Switch tenant").click()
    assert len(owner.get_by_role("menuitem").all_inner_texts()) == 3
    owner.get_by_role("menuitem").filter(has_text="Woodgrove").click()
    owner.wait_for_url("**/t/woodgrove")
    owner.get_by_role("heading", name="Woodgrove Bank (demo)", exact=True).wait_for()
