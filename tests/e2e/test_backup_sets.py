"""Backup sets in the browser (production build, real task bodies against the demo Graph):
create a set, pick policies of two types through search and the type filter, add them (toast →
View run → completed → items in the set), the empty-selection message, row and bulk remove,
delete with its confirmation — and a reader, who sees none of those controls."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.e2e.conftest import RunningApp, shot, sign_in

pytestmark = pytest.mark.slow
RUN_URL = re.compile(r".*/t/contoso/operations/(\d+)$")
SET_URL = re.compile(r".*/t/contoso/backup-sets/(\d+)$")
RUN_TIMEOUT_MS = 60_000
TYPES = ("deviceConfiguration", "deviceCompliancePolicy")
TYPE_LABELS = {
    "deviceConfiguration": "Device configuration",
    "deviceCompliancePolicy": "Compliance policy",
}


def _query(app: RunningApp, sql: str, **params) -> list[dict]:
    engine = app.engine()
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def _policies(app: RunningApp) -> list[dict]:
    return _query(
        app,
        "SELECT p.id, p.display_name, p.policy_type FROM policies p JOIN tenants t"
        " ON t.id = p.tenant_id WHERE t.slug = 'contoso' AND p.removed_at IS NULL ORDER BY p.id",
    )


def _ensure_policies(app: RunningApp, page) -> list[dict]:
    """Contoso's policies, synced through the Policies page first if there are none yet."""
    if not _policies(app):
        page.goto(f"{app.base_url}/t/contoso/policies")
        page.get_by_role("button", name="Sync now").click()
        page.locator("[data-sonner-toast]").filter(has_text="Policy sync").first.wait_for()
        page.locator("tbody tr").first.wait_for(timeout=RUN_TIMEOUT_MS)
    rows = _policies(app)
    assert rows, "the policy sync captured no policies"
    return rows


def _unique_names(policies: list[dict], policy_type: str, count: int) -> list[str]:
    """Names of `count` policies of the type whose name no other policy contains."""
    names = [p["display_name"] for p in policies]
    picked = []
    for p in policies:
        name = p["display_name"]
        if p["policy_type"] == policy_type and sum(name.lower() in n.lower() for n in names) == 1:
            picked.append(name)
        if len(picked) == count:
            return picked
    pytest.skip(f"the demo tenant has too few distinctly named {policy_type} policies")


def _runs(app: RunningApp, run_type: str) -> list[dict]:
    return app.runs(type=run_type)


def _create_set(page, app: RunningApp, name: str) -> int:
    page.goto(f"{app.base_url}/t/contoso/backup-sets")
    page.get_by_role("button", name="New backup set").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_role("button", name="Create").click()
    page.wait_for_url(SET_URL)
    page.get_by_role("heading", name=name).wait_for()
    return int(SET_URL.match(page.url).group(1))


def _pick(page, name: str, type_label: str) -> None:
    picker = page.get_by_test_id("policy-picker")
    current = picker.get_by_role("combobox", name="Filter by type")
    if current.inner_text().strip() != type_label:
        current.click()
        page.get_by_role("option", name=type_label, exact=True).click()
    picker.get_by_role("textbox", name="Search policies by name").fill(name)
    box = picker.get_by_role("checkbox", name=f"Select {name}", exact=True)
    expect(picker.get_by_test_id("picker-row")).to_have_count(1)
    box.click()
    expect(box).to_be_checked()


def _wait_for_run(page, app: RunningApp, toast_text: str):
    toast = page.locator("[data-sonner-toast]").filter(has_text=toast_text).first
    toast.wait_for()
    return toast


def test_create_pick_add_remove_and_delete(prod_app: RunningApp, new_page):
    page = new_page()
    sign_in(page, prod_app, "operator", next_path="/t/contoso/backup-sets")
    page.get_by_role("heading", name="Backup sets", exact=True).wait_for()
    if not _query(prod_app, "SELECT id FROM backup_sets"):
        page.get_by_test_id("empty-state").wait_for()
        shot(page, "backup-sets-empty")
    policies = _ensure_policies(prod_app, page)
    first, second = _unique_names(policies, TYPES[0], 2)
    (third,) = _unique_names(policies, TYPES[1], 1)

    # A name the service refuses: the message shows in the dialog, nothing is created.
    page.goto(f"{prod_app.base_url}/t/contoso/backup-sets")
    page.get_by_role("button", name="New backup set").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("   ")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.get_by_test_id("form-error")).to_have_text("Name is required.")
    shot(page, "backup-set-create-error")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)

    set_id = _create_set(page, prod_app, "Before the Windows 11 rollout")
    page.get_by_test_id("empty-state").wait_for()

    # Empty selection: said in the dialog, no run.
    before = len(_runs(prod_app, "backup_set.add_policies"))
    page.get_by_role("button", name="Add policies").click()
    picker = page.get_by_test_id("policy-picker")
    picker.get_by_test_id("picker-row").first.wait_for()
    picker.get_by_role("button", name="Add selected").click()
    expect(picker.get_by_test_id("picker-message")).to_have_text("No policies selected")
    page.wait_for_timeout(500)
    assert len(_runs(prod_app, "backup_set.add_policies")) == before

    # Three policies of two types, found by search and the type filter.
    _pick(page, first, TYPE_LABELS[TYPES[0]])
    _pick(page, second, TYPE_LABELS[TYPES[0]])
    expect(picker.get_by_test_id("picker-message")).to_have_count(0)
    _pick(page, third, TYPE_LABELS[TYPES[1]])
    expect(picker.get_by_test_id("picker-selected-count")).to_have_text("3 selected")
    # A wider search: the picked policy is still ticked among its neighbours.
    picker.get_by_role("textbox", name="Search policies by name").fill(third.rsplit(" ", 1)[0])
    expect(picker.get_by_test_id("picker-row").nth(1)).to_be_visible()
    ticked = picker.get_by_role("checkbox", name=f"Select {third}", exact=True)
    if ticked.count():
        expect(ticked).to_be_checked()
    expect(picker.get_by_test_id("picker-selected-count")).to_have_text("3 selected")
    shot(page, "backup-set-picker")

    picker.get_by_role("button", name="Add selected").click()
    toast = _wait_for_run(page, prod_app, "Add policies to backup set queued")
    expect(page.get_by_test_id("policy-picker")).to_have_count(0)  # the dialog closed
    toast.get_by_role("button", name="View run").click()
    page.wait_for_url(RUN_URL)
    run_id = int(RUN_URL.match(page.url).group(1))
    page.wait_for_function(
        "() => document.querySelector('[data-testid=run-status]')?.innerText === 'Completed'",
        timeout=RUN_TIMEOUT_MS,
    )
    assert page.get_by_test_id("run-outcome").inner_text() == "Succeeded"
    run = prod_app.runs(id=run_id)[0]
    assert run["type"] == "backup_set.add_policies"
    assert len(_runs(prod_app, "backup_set.add_policies")) == before + 1

    page.goto(f"{prod_app.base_url}/t/contoso/backup-sets/{set_id}")
    rows = page.get_by_test_id("backup-item-row")
    expect(rows).to_have_count(3)
    for name in (first, second, third):
        expect(rows.filter(has_text=name)).to_have_count(1)
    expect(page.get_by_test_id("set-item-count")).to_have_text("3 items")
    shot(page, "backup-set-detail")

    # Row remove: one run; the page follows it and reloads its items.
    page.get_by_role("button", name=f"Remove {first}", exact=True).click()
    _wait_for_run(page, prod_app, "Remove policies from backup set queued")
    expect(rows).to_have_count(2, timeout=RUN_TIMEOUT_MS)

    # Bulk remove of the other two.
    for name in (second, third):
        page.get_by_role("checkbox", name=f"Select {name}", exact=True).click()
    expect(page.get_by_test_id("items-selected-count")).to_have_text("2 selected")
    page.get_by_role("button", name="Remove selected").click()
    expect(rows).to_have_count(0, timeout=RUN_TIMEOUT_MS)
    page.get_by_test_id("empty-state").wait_for()
    removes = _runs(prod_app, "backup_set.remove_policies")
    assert len(removes) >= 2 and all(r["status"] == "completed" for r in removes[:2])

    # Delete names the set and what goes with it.
    long_name = "Quarterly baseline " + "with a very long descriptive name " * 4
    _create_set(page, prod_app, long_name.strip())
    page.goto(f"{prod_app.base_url}/t/contoso/backup-sets")
    contoso_sets = len(
        _query(
            prod_app,
            "SELECT s.id FROM backup_sets s JOIN tenants t ON t.id = s.tenant_id"
            " WHERE t.slug = 'contoso'",
        )
    )  # the two made here, and the demo's own
    expect(page.get_by_test_id("backup-set-row")).to_have_count(contoso_sets)
    shot(page, "backup-sets-list")
    page.get_by_role("button", name="Delete Before the Windows 11 rollout").click()
    confirmation = page.get_by_test_id("delete-confirmation")
    expect(confirmation).to_contain_text("Before the Windows 11 rollout")
    expect(confirmation).to_contain_text("it has no items")
    shot(page, "backup-set-delete-confirmation")
    page.get_by_role("button", name="Delete backup set").click()
    page.locator("[data-sonner-toast]").filter(has_text="Backup set deleted").wait_for()
    expect(page.get_by_test_id("backup-set-row")).to_have_count(contoso_sets - 1)
    assert _query(prod_app, "SELECT id FROM backup_sets WHERE id = :i", i=set_id) == []


def test_reader_sees_no_backup_set_controls(prod_app: RunningApp, new_page):
    operator = new_page()
    sign_in(operator, prod_app, "operator", next_path="/t/contoso/backup-sets")
    _ensure_policies(prod_app, operator)
    set_id = _create_set(operator, prod_app, "Seen by a reader")
    engine = prod_app.engine()
    try:
        with engine.begin() as conn:  # two items, as an add run leaves them
            conn.execute(
                sa.text(
                    "INSERT INTO backup_items (backup_set_id, tenant_id, policy_id,"
                    " policy_version_id, policy_type, display_name, include_assignments,"
                    " include_scope_tags, added_at)"
                    " SELECT :s, p.tenant_id, p.id, p.current_version_id, p.policy_type,"
                    " p.display_name, 1, 0, CURRENT_TIMESTAMP FROM policies p"
                    " JOIN tenants t ON t.id = p.tenant_id"
                    " WHERE t.slug = 'contoso' AND p.current_version_id IS NOT NULL"
                    " ORDER BY p.id LIMIT 2"
                ),
                {"s": set_id},
            )
    finally:
        engine.dispose()

    page = new_page()
    sign_in(page, prod_app, "reader", next_path="/t/contoso/backup-sets")
    page.get_by_role("heading", name="Backup sets", exact=True).wait_for()
    page.get_by_test_id("backup-set-row").first.wait_for()
    expect(page.get_by_role("button", name="New backup set")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^(Rename|Delete) "))).to_have_count(0)
    shot(page, "backup-sets-readonly")

    page.goto(f"{prod_app.base_url}/t/contoso/backup-sets/{set_id}")
    expect(page.get_by_test_id("backup-item-row")).to_have_count(2)
    expect(page.get_by_role("button", name="Add policies")).to_have_count(0)
    expect(page.get_by_role("checkbox")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Remove"))).to_have_count(0)
    shot(page, "backup-set-detail-readonly")
