"""Restore with the real parts: a `taskiq worker` process (Redis, PostgreSQL) executes it, the
demo Graph is changed over its HTTP admin API, and the restore is created, previewed and
executed through the `opsapp` command line as a subprocess."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
import sqlalchemy as sa

from opsapp.db import session_scope
from opsapp.features.backups.sets import create_backup_set

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]
DC, COMPLIANCE = "deviceConfiguration", "deviceCompliancePolicy"
OWNER, OPERATOR = "owner@opsapp.demo", "operator@opsapp.demo"


def _json(e2e, *args: str) -> dict:
    proc = e2e.cli(*args, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _graph_ids(e2e, policy_type: str, n: int) -> list[str]:
    with e2e.engine.connect() as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT graph_id FROM policies WHERE policy_type = :p AND removed_at IS NULL "
                    "ORDER BY id LIMIT :n"
                ),
                {"p": policy_type, "n": n},
            ).scalars()
        )


async def test_cli_preview_execute_through_the_worker_restores_the_tenant(e2e):
    assert (await e2e.run("policy.sync"))["outcome"] == "succeeded"
    tenant_id = e2e.tenant_id("contoso")
    with session_scope(e2e.engine) as s:
        set_id = create_backup_set(s, tenant_id=tenant_id, name=f"R {uuid.uuid4().hex[:6]}").id
    ids = []
    with e2e.engine.connect() as conn:
        for policy_type in (DC, COMPLIANCE):
            ids += list(
                conn.execute(
                    sa.text(
                        "SELECT id FROM policies WHERE tenant_id = :t AND policy_type = :p "
                        "AND removed_at IS NULL ORDER BY id LIMIT 3"
                    ),
                    {"t": tenant_id, "p": policy_type},
                ).scalars()
            )
    added = await e2e.run("backup_set.add_policies", backup_set_id=set_id, policy_ids=ids)
    assert added["outcome"] == "succeeded", added

    changed, deleted = _graph_ids(e2e, DC, 1)[0], _graph_ids(e2e, COMPLIANCE, 1)[0]
    base = f"{e2e.demo_url}/_demo/tenants/contoso/policies"
    async with httpx.AsyncClient(base_url=base, timeout=10) as admin:
        original = (await admin.get(f"/{DC}/{changed}")).json()
        await admin.patch(f"/{DC}/{changed}", json={"passwordMinimumLength": 15})
        assert (await admin.delete(f"/{COMPLIANCE}/{deleted}")).status_code == 200

    refused = e2e.cli(
        "restore", "create", "--tenant", "contoso", "--as", OPERATOR, "--backup-set", str(set_id)
    )
    assert refused.returncode == 3, refused.stderr
    draft = _json(
        e2e, "restore", "create", "--tenant", "contoso", "--as", OWNER, "--backup-set", str(set_id)
    )
    assert (draft["status"], len(draft["items"]), draft["operation_run_id"]) == ("draft", 6, None)
    plan = _json(e2e, "restore", "preview", str(draft["id"]), "--as", OWNER)
    actions = {i["graph_id"]: i["action"] for i in plan["items"]}
    assert actions[changed] == "update" and actions[deleted] == "create"
    assert sorted(actions.values()).count("unchanged") == 4
    assert plan["status"] == "previewed" and plan["run_status"] == "queued"

    done = _json(
        e2e, "restore", "execute", str(draft["id"]), "--as", OWNER, "--wait", "--timeout", "60"
    )
    assert done["dispatched"] and done["run"]["status"] == "completed", done
    assert done["run"]["outcome"] == "succeeded", done
    assert "(restore.execute) claimed" in e2e.worker.log_tail(200_000)
    shown = _json(e2e, "restore", "show", str(draft["id"]))
    assert (shown["status"], shown["outcome"]) == ("completed", "succeeded")
    async with httpx.AsyncClient(base_url=base, timeout=10) as admin:
        now = (await admin.get(f"/{DC}/{changed}")).json()
    assert now["passwordMinimumLength"] == original["passwordMinimumLength"]
    created = next(i for i in shown["items"] if i["graph_id"] == deleted)
    assert created["result"] == "created" and created["target_graph_id"]

    again = e2e.cli("restore", "execute", str(draft["id"]), "--as", OWNER)
    assert again.returncode == 2 and "start a new restore" in again.stderr, again.stderr
