"""Restore in the browser (production build, embedded worker, demo Graph over HTTP): an owner
drafts a restore from a backup set, previews it (one policy differs), executes it behind the
confirmation (toast → View run → completed) and sees the per-item results; an operator and a
reader see restores but no restore controls."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.e2e.conftest import RunningApp, Served, http, shot, sign_in
from tests.e2e.test_backup_sets import _ensure_policies, _query
from tests.e2e.test_drift import _sync_policies

pytestmark = pytest.mark.slow
RUN_TIMEOUT_MS = 60_000
DC = "deviceConfiguration"
RESTORE_URL = re.compile(r".*/t/contoso/restore/(\d+)$")


def _source_set(app: RunningApp, name: str, per_type: int = 3) -> int:
    """A backup set of a few device configuration and compliance policies (SQL; adding through
    the page is the backup set tests' business)."""
    engine = app.engine()
    try:
        with engine.begin() as conn:
            tenant = conn.execute(sa.text("SELECT id FROM tenants WHERE slug = 'contoso'")).scalar()
            set_id = conn.execute(
                sa.text(
                    "INSERT INTO backup_sets (tenant_id, name, created_at, updated_at) "
                    "VALUES (:t, :n, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id"
                ),
                {"t": tenant, "n": name},
            ).scalar()
            for policy_type in (DC, "deviceCompliancePolicy"):
                conn.execute(
                    sa.text(
                        "INSERT INTO backup_items (backup_set_id, tenant_id, policy_id, "
                        "policy_version_id, policy_type, display_name, include_assignments, "
                        "include_scope_tags, added_at) SELECT :s, tenant_id, id, current_version_id, "
                        "policy_type, display_name, 1, 1, CURRENT_TIMESTAMP FROM policies "
                        "WHERE tenant_id = :t AND policy_type = :p AND removed_at IS NULL "
                        "ORDER BY id LIMIT :n"
                    ),
                    {"s": set_id, "t": tenant, "p": policy_type, "n": per_type},
                )
        return set_id
    finally:
        engine.dispose()


def test_owner_previews_and_executes_a_restore(prod_app: RunningApp, demo_graph: Served, new_page):
    owner = new_page()
    sign_in(owner, prod_app, "owner", next_path="/t/contoso/restore")
    owner.get_by_role("heading", name="Restore", exact=True).wait_for()
    policies = _ensure_policies(prod_app, owner)
    # Other browser tests change demo policies (and put them back); capture what Graph holds now
    # (from another tab: this one may have just synced, inside the repeated-click window).
    syncer = new_page()
    sign_in(syncer, prod_app, "manager", next_path="/t/contoso/policies")
    _sync_policies(syncer, prod_app)
    set_name = "Restore source (e2e)"
    _source_set(prod_app, set_name)
    target = next(p for p in policies if p["policy_type"] == DC)
    graph_id = _query(prod_app, "SELECT graph_id FROM policies WHERE id = :i", i=target["id"])[0][
        "graph_id"
    ]
    admin = f"{demo_graph.base_url}/_demo/tenants/contoso/policies/{DC}/{graph_id}"
    original = json.loads(http(admin)[1])["passwordMinimumLength"]
    assert http(admin, method="PATCH", body={"passwordMinimumLength": 15})[0] == 200

    owner.goto(f"{prod_app.base_url}/t/contoso/restore")
    owner.get_by_role("button", name="New restore").click()
    dialog = owner.get_by_role("dialog")
    dialog.get_by_role("combobox", name="Backup set").click()
    owner.get_by_role("option", name=re.compile(re.escape(set_name))).click()
    dialog.get_by_role("button", name="Create draft").click()
    owner.wait_for_url(RESTORE_URL)
    expect(owner.get_by_test_id("restore-status")).to_have_text("Draft")
    expect(owner.get_by_test_id("restore-selected-count")).to_have_text("6 of 6 items selected")
    shot(owner, "restore-draft")

    owner.get_by_test_id("restore-preview").click()
    owner.locator("[data-sonner-toast]").filter(has_text="Preview ready").first.wait_for(
        timeout=RUN_TIMEOUT_MS
    )
    expect(owner.get_by_test_id("restore-status")).to_have_text("Previewed")
    expect(owner.get_by_test_id("restore-plan-counts")).to_contain_text("Update: 1")
    updated = owner.locator("[data-testid=restore-item-row][data-action=update]")
    expect(updated).to_have_count(1)
    expect(updated).to_contain_text(target["display_name"])
    expect(owner.locator("[data-testid=restore-item-row][data-action=unchanged]")).to_have_count(5)
    shot(owner, "restore-plan")

    owner.get_by_test_id("restore-execute").click()
    confirmation = owner.get_by_test_id("restore-confirmation")
    expect(confirmation).to_contain_text("1 policy ")
    expect(confirmation).to_contain_text("Contoso")
    shot(owner, "restore-confirm")
    owner.get_by_role("button", name="Execute restore").click()
    toast = owner.locator("[data-sonner-toast]").filter(has_text="Restore queued").first
    toast.wait_for()
    toast.get_by_role("button", name="View run").click()
    owner.wait_for_url(re.compile(r".*/t/contoso/operations/\d+$"))
    expect(owner.locator("[data-run-state]").first).to_have_attribute(
        "data-run-state", "succeeded", timeout=RUN_TIMEOUT_MS
    )
    owner.go_back()
    owner.wait_for_url(RESTORE_URL)
    expect(owner.get_by_test_id("restore-status")).to_have_text("Succeeded", timeout=RUN_TIMEOUT_MS)
    expect(owner.locator("[data-testid=restore-item-row][data-result=updated]")).to_have_count(1)
    shot(owner, "restore-results")
    assert json.loads(http(admin)[1])["passwordMinimumLength"] == original
    expect(owner.locator("[data-sonner-toast]").filter(has_text="An error occurred")).to_have_count(
        0
    )


@pytest.mark.parametrize("who", ["operator", "reader"])
def test_operators_and_readers_have_no_restore_controls(prod_app: RunningApp, new_page, who):
    page = new_page()
    sign_in(page, prod_app, who, next_path="/t/contoso/restore")
    page.get_by_role("heading", name="Restore", exact=True).wait_for()
    page.wait_for_timeout(500)
    expect(page.get_by_role("button", name="New restore")).to_have_count(0)
    rows = page.get_by_test_id("restore-row")
    if rows.count():
        rows.first.get_by_role("link").click()
        page.wait_for_url(RESTORE_URL)
        page.get_by_test_id("restore-status").wait_for()
        expect(page.get_by_test_id("restore-preview")).to_have_count(0)
        expect(page.get_by_test_id("restore-plan-counts")).not_to_contain_text("undefined")
        expect(page.get_by_test_id("restore-execute")).to_have_count(0)
    if who == "reader":
        shot(page, "restore-reader")
