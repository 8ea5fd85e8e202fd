"""Drift in the browser (production build, embedded worker, real demo Graph over HTTP): a baseline
of contoso's policies, one setting changed in the demo Graph and synced, then two admins open the
Drift page at once — exactly one generation starts (auto-on-open), both pages show the finding
when it completes without a reload; the finding side by side; acknowledge with a note; a reader
sees the stale notice and never starts a run."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.e2e.conftest import RunningApp, Served, http, shot, sign_in
from tests.e2e.test_backup_sets import _ensure_policies, _query

pytestmark = pytest.mark.slow
RUN_TIMEOUT_MS = 60_000
DC = "deviceConfiguration"


def _make_baseline(app: RunningApp, name: str) -> int:
    """A backup set holding every contoso policy at its current version (SQL: adding policies
    through the page is covered by the backup set tests)."""
    engine = app.engine()
    try:
        with engine.begin() as conn:
            tenant_id = conn.execute(
                sa.text("SELECT id FROM tenants WHERE slug = 'contoso'")
            ).scalar()
            set_id = conn.execute(
                sa.text(
                    "INSERT INTO backup_sets (tenant_id, name, created_at, updated_at) "
                    "VALUES (:t, :n, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id"
                ),
                {"t": tenant_id, "n": name},
            ).scalar()
            conn.execute(
                sa.text(
                    "INSERT INTO backup_items (backup_set_id, tenant_id, policy_id, "
                    "policy_version_id, policy_type, display_name, include_assignments, "
                    "include_scope_tags, added_at) SELECT :s, tenant_id, id, current_version_id, "
                    "policy_type, display_name, 1, 1, CURRENT_TIMESTAMP FROM policies "
                    "WHERE tenant_id = :t AND removed_at IS NULL"
                ),
                {"s": set_id, "t": tenant_id},
            )
        return set_id
    finally:
        engine.dispose()


def _drift_runs(app: RunningApp, baseline_id: int) -> list[dict]:
    return [
        r
        for r in app.runs(type="drift.generate")
        if json.loads(r["context"] or "{}").get("inputs", {}).get("baseline_id") == baseline_id
    ]


def _wait_for(page, check, what: str) -> None:
    for _ in range(RUN_TIMEOUT_MS // 250):
        if check():
            return
        page.wait_for_timeout(250)
    pytest.fail(f"timed out waiting for {what}")


def _sync_policies(page, app: RunningApp) -> None:
    """A fresh policy sync through the Policies page, waited for until it completed."""

    def idle() -> bool:
        return all(r["status"] == "completed" for r in app.runs(type="policy.sync"))

    _wait_for(page, idle, "earlier policy syncs")  # else "Sync now" reuses the active one
    before = len(app.runs(type="policy.sync"))
    page.goto(f"{app.base_url}/t/contoso/policies")
    page.get_by_role("button", name="Sync now").click()
    page.locator("[data-sonner-toast]").filter(has_text="Policy sync queued").first.wait_for()
    _wait_for(page, lambda: len(app.runs(type="policy.sync")) > before and idle(), "the sync")
    assert app.runs(type="policy.sync")[0]["outcome"] == "succeeded"


def _patch_policy(demo_graph: Served, graph_id: str, changes: dict) -> None:
    status, _ = http(
        f"{demo_graph.base_url}/_demo/tenants/contoso/policies/{DC}/{graph_id}",
        method="PATCH",
        body=changes,
    )
    assert status == 200


def test_two_admins_open_stale_drift_one_run_then_acknowledge(
    prod_app: RunningApp, demo_graph: Served, new_page
):
    operator, manager = new_page(), new_page()
    sign_in(operator, prod_app, "operator", next_path="/t/contoso/backup-sets")
    sign_in(manager, prod_app, "manager", next_path="/t/contoso/backup-sets")
    policies = _ensure_policies(prod_app, operator)
    baseline = _make_baseline(prod_app, "Drift baseline (e2e)")
    target = next(p for p in policies if p["policy_type"] == DC)
    graph_id = _query(prod_app, "SELECT graph_id FROM policies WHERE id = :i", i=target["id"])[0][
        "graph_id"
    ]
    _, body = http(f"{demo_graph.base_url}/_demo/tenants/contoso/policies/{DC}/{graph_id}")
    original = json.loads(body)["passwordMinimumLength"]
    _patch_policy(demo_graph, graph_id, {"passwordMinimumLength": 15})
    _sync_policies(manager, prod_app)  # the operator's tab just started one (repeat window)

    url = f"{prod_app.base_url}/t/contoso/drift?baseline={baseline}"
    for page in (operator, manager):  # both navigations start before either finishes loading
        page.evaluate("url => { window.location.href = url }", url)
    for page in (operator, manager):
        page.get_by_role("heading", name="Drift", exact=True).wait_for()
        expect(page.get_by_role("combobox", name="Baseline")).to_contain_text(
            "Drift baseline (e2e)"
        )
    # Exactly one of the two pages started the generation and said so (toast + View run).
    toasts = [
        page.locator("[data-sonner-toast]").filter(has_text="generating drift")
        for page in (operator, manager)
    ]
    _wait_for(operator, lambda: sum(t.count() for t in toasts) >= 1, "the auto-start toast")
    starter = operator if toasts[0].count() else manager
    expect(toasts[0 if starter is operator else 1].first).to_contain_text("View run")
    shot(starter, "drift-auto-start")

    for page in (operator, manager):  # the finding arrives without a reload
        row = page.get_by_test_id("finding-row").filter(has_text=target["display_name"])
        expect(row).to_have_count(1, timeout=RUN_TIMEOUT_MS)
        expect(row).to_contain_text("Modified")
    runs = _drift_runs(prod_app, baseline)
    assert len(runs) == 1, runs
    assert runs[0]["status"] == "completed" and runs[0]["outcome"] == "succeeded"
    expect(operator.get_by_test_id("count-modified")).to_have_text("1")
    shot(operator, "drift-findings")

    # The finding side by side, then acknowledged with a note.
    operator.get_by_role("link", name=target["display_name"]).first.click()
    operator.wait_for_url(re.compile(r".*/t/contoso/drift/findings/\d+$"))
    changed = operator.locator("[data-testid=change-row][data-changed=true]")
    expect(changed).to_have_count(1)
    expect(changed).to_contain_text("passwordMinimumLength")
    expect(changed).to_contain_text("15")
    shot(operator, "drift-finding-detail")
    operator.get_by_test_id("acknowledge-finding").click()
    dialog = operator.get_by_role("dialog")
    dialog.get_by_label("Note (optional)").fill("Approved: CHG-1042 longer PIN")
    shot(operator, "drift-acknowledge-dialog")
    dialog.get_by_role("button", name="Acknowledge").click()
    expect(operator.get_by_test_id("acknowledgement")).to_contain_text("CHG-1042")
    operator.get_by_role("link", name="← Drift").click()
    row = operator.get_by_test_id("finding-row").filter(has_text=target["display_name"])
    expect(row).to_contain_text("Acknowledged")

    # Opening the page again starts nothing: the findings are fresh.
    manager.reload()
    manager.get_by_role("heading", name="Drift", exact=True).wait_for()
    manager.get_by_test_id("finding-row").first.wait_for()
    manager.wait_for_timeout(1000)
    assert len(_drift_runs(prod_app, baseline)) == 1

    _patch_policy(demo_graph, graph_id, {"passwordMinimumLength": original})
    for page in (operator, manager):  # a backend exception shows as this toast
        expect(
            page.locator("[data-sonner-toast]").filter(has_text="An error occurred")
        ).to_have_count(0)


def test_a_reader_sees_stale_findings_and_never_starts_a_run(prod_app: RunningApp, new_page):
    operator = new_page()
    sign_in(operator, prod_app, "operator", next_path="/t/contoso/backup-sets")
    _ensure_policies(prod_app, operator)
    baseline = _make_baseline(prod_app, "Reader's baseline (e2e)")
    reader = new_page()
    sign_in(reader, prod_app, "reader", next_path=f"/t/contoso/drift?baseline={baseline}")
    reader.get_by_role("heading", name="Drift", exact=True).wait_for()
    expect(reader.get_by_test_id("stale-notice")).to_contain_text("An operator, manager or owner")
    expect(reader.get_by_test_id("generate-drift")).to_have_count(0)
    reader.wait_for_timeout(1500)
    assert _drift_runs(prod_app, baseline) == []
    expect(
        reader.locator("[data-sonner-toast]").filter(has_text="An error occurred")
    ).to_have_count(0)
    shot(reader, "drift-reader-stale")
