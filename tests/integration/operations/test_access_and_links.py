"""Viewing runs: members of the run's tenant only (404 otherwise), and the links a run carries."""

import pytest

from opsapp.db import session_scope
from opsapp.models import Role
from opsapp.operations.access import Capability, Forbidden, NotFound, authorize, get_run_for_user
from opsapp.operations.links import related_links, view_run_path
from opsapp.operations.service import ensure_run
from tests.factories import make_tenant, make_user


def _run(engine, tenant, run_type="backup_set.add_policies", inputs=None):
    with session_scope(engine) as s:
        return ensure_run(
            s,
            tenant_id=tenant.id,
            run_type=run_type,
            inputs=inputs
            or {
                "backup_set_id": 4,
                "policy_ids": [1],
                "include_assignments": True,
                "include_scope_tags": True,
            },
            user_id=None,
            initiator_name="System",
        ).run


@pytest.mark.parametrize("role", list(Role))
def test_every_role_may_view_its_tenants_runs(engine, role):
    tenant = make_tenant(engine)
    user = make_user(engine, tenant=tenant, role=role)
    run = _run(engine, tenant)
    with session_scope(engine) as s:
        assert get_run_for_user(s, user_id=user.id, run_id=run.id, tenant_id=tenant.id).id == run.id


def test_other_tenants_runs_and_unknown_runs_look_the_same(engine):
    mine, theirs = make_tenant(engine), make_tenant(engine)
    me = make_user(engine, tenant=mine, role=Role.owner)
    their_run = _run(engine, theirs)
    with session_scope(engine) as s:
        with pytest.raises(NotFound) as not_member:
            get_run_for_user(s, user_id=me.id, run_id=their_run.id)
        with pytest.raises(NotFound) as wrong_tenant_in_url:
            get_run_for_user(s, user_id=me.id, run_id=their_run.id, tenant_id=mine.id)
        with pytest.raises(NotFound) as unknown:
            get_run_for_user(s, user_id=me.id, run_id=987654)
        with pytest.raises(NotFound):
            get_run_for_user(s, user_id=None, run_id=their_run.id)
    assert str(not_member.value) == str(wrong_tenant_in_url.value) == str(unknown.value)
    assert not_member.value.http_status == 404


def test_capabilities_by_role(engine):
    tenant = make_tenant(engine)
    users = {role: make_user(engine, tenant=tenant, role=role) for role in Role}
    expected = {
        Capability.start_operations: {Role.owner, Role.manager, Role.operator},
        Capability.execute_restore: {Role.owner, Role.manager},
        Capability.manage_schedules: {Role.owner, Role.manager},
        Capability.view_runs: set(Role),
    }
    with session_scope(engine) as s:
        for capability, allowed in expected.items():
            for role, user in users.items():
                if role in allowed:
                    authorize(s, user_id=user.id, tenant_id=tenant.id, capability=capability)
                else:
                    with pytest.raises(Forbidden) as denied:
                        authorize(s, user_id=user.id, tenant_id=tenant.id, capability=capability)
                    assert denied.value.http_status == 403


def test_links_per_type():
    ctx = {
        "inputs": {"backup_set_id": 4, "schedule_id": 9, "retried_run_id": 12, "restore_run_id": 3}
    }
    assert view_run_path("contoso", 5) == "/t/contoso/operations/5"
    expected = {
        "inventory.sync": "/t/contoso/inventory",
        "policy.sync": "/t/contoso/policies",
        "directory_groups.sync": "/t/contoso/directory/groups",
        "drift.generate": "/t/contoso/drift",
        "backup_set.add_policies": "/t/contoso/backup-sets/4",
        "backup_set.remove_policies": "/t/contoso/backup-sets/4",
        "backup_schedule.run_now": "/t/contoso/backup-schedules/9",
        "backup_schedule.scheduled": "/t/contoso/backup-schedules/9",
        "restore.execute": "/t/contoso/restore/3",
    }
    for run_type, url in expected.items():
        links = related_links(tenant_slug="contoso", run_type=run_type, context=ctx)
        assert links[0]["url"] == url, run_type
        assert {"label": "All operations", "url": "/t/contoso/operations"} in links
    retry = related_links(tenant_slug="contoso", run_type="backup_schedule.retry", context=ctx)
    assert {"label": "Retried run", "url": "/t/contoso/operations/12"} in retry
