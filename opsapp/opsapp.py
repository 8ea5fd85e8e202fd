"""The Reflex app: registers the pages and the embedded worker's lifespan; nothing else."""

from __future__ import annotations

import reflex as rx

# Registers every table on SQLModel.metadata before Reflex's start-up schema check compares it with
# the database; without it that check would see no tables and report a bogus "schema change".
import opsapp.models  # noqa: F401
from opsapp.bootstrap import init_process
from opsapp.ui import nav, routes
from opsapp.ui.layout import PRODUCT_NAME
from opsapp.ui.pages import (
    backup_schedules,
    backup_set_detail,
    backup_sets,
    dashboard,
    drift,
    drift_finding,
    groups,
    home,
    inventory,
    login,
    operation_detail,
    operations,
    policies,
    policy_detail,
    restore,
)
from opsapp.ui.state.backup_sets import BackupSetDetailState, BackupSetListState
from opsapp.ui.state.drift import DriftFindingState, DriftLandingState
from opsapp.ui.state.restore import RestoreDetailState, RestoreListState
from opsapp.worker.embedded import app_lifespan

init_process("web")

app = rx.App(
    html_lang="en",
    head_components=[rx.el.link(rel="icon", type="image/svg+xml", href="/favicon.svg")],
    toaster=rx.toast.provider(position="bottom-right", close_button=True, rich_colors=True),
)
# Memory broker: operations run inside this backend; redis: separate taskiq workers run them.
app.register_lifespan_task(app_lifespan)


def _title(label: str) -> str:
    return f"{label} · {PRODUCT_NAME}"


app.add_page(
    home.home,
    route=routes.HOME,
    title=home.TITLE,
    description=home.DESCRIPTION,
    on_load=home.HomeState.load,
)
app.add_page(login.login, route=routes.LOGIN, title=login.TITLE, on_load=login.SignInState.load)

_TENANT_PAGES = (
    (nav.DASHBOARD, dashboard.dashboard, dashboard.TenantDashboardState.load),
    (nav.INVENTORY, inventory.inventory, inventory.InventoryLandingState.load),
    (nav.POLICIES, policies.policies, policies.PolicyListState.load),
    (nav.GROUPS, groups.groups, groups.GroupListState.load),
    (nav.BACKUP_SETS, backup_sets.backup_sets, BackupSetListState.load),
    (
        nav.BACKUP_SCHEDULES,
        backup_schedules.backup_schedules,
        backup_schedules.BackupScheduleListState.load,
    ),
    (nav.RESTORE, restore.restore_list, RestoreListState.load),
    (nav.DRIFT, drift.drift, DriftLandingState.load),
    (nav.OPERATIONS, operations.operations, operations.OperationsListState.load),
)
for item, page, on_load in _TENANT_PAGES:
    app.add_page(
        page, route=routes.tenant_route(item.segment), title=_title(item.label), on_load=on_load
    )

app.add_page(
    policy_detail.policy_detail,
    route=routes.POLICY_DETAIL,
    title=_title("Policy"),
    on_load=policy_detail.PolicyDetailState.load,
)
app.add_page(
    backup_set_detail.backup_set_detail,
    route=routes.BACKUP_SET_DETAIL,
    title=_title("Backup set"),
    on_load=BackupSetDetailState.load,
)
app.add_page(
    restore.restore_detail,
    route=routes.RESTORE_DETAIL,
    title=_title("Restore"),
    on_load=RestoreDetailState.load,
)
app.add_page(
    drift_finding.drift_finding,
    route=routes.FINDING_DETAIL,
    title=_title("Drift finding"),
    on_load=DriftFindingState.load,
)
app.add_page(
    operation_detail.operation_detail,
    route=routes.RUN_DETAIL,
    title=_title("Run"),
    on_load=operation_detail.OperationDetailState.load,
)
# The create form and one schedule (everyone may look; owners and managers edit) share a page.
for _route in (routes.SCHEDULE_NEW, routes.SCHEDULE_DETAIL):
    app.add_page(
        backup_schedules.backup_schedule_form,
        route=_route,
        title=_title("Backup schedule"),
        on_load=backup_schedules.BackupScheduleFormState.load,
    )
