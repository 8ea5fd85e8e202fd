"""Drift end to end with the real parts: a `taskiq worker` process (Redis, PostgreSQL) runs the
syncs, the backup and the generations; the demo Graph is changed over its HTTP admin API; drift
is started, read and acknowledged through the `opsapp` command line as a subprocess."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
import sqlalchemy as sa

from opsapp.db import session_scope
from opsapp.features.backups.sets import create_backup_set
from tests.integration.e2e_sync.conftest import STARTERS

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]
DC, SC, COMPLIANCE = "deviceConfiguration", "settingsCatalogPolicy", "deviceCompliancePolicy"


def _cli_json(e2e, *args: str) -> dict:
    proc = e2e.cli(*args)
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


async def _generate(e2e, baseline: int) -> dict:
    started = _cli_json(
        e2e,
        "ops",
        "start",
        "drift.generate",
        "--tenant",
        "contoso",
        "--as",
        STARTERS["contoso"],
        "--inputs",
        json.dumps({"baseline_id": baseline}),
        "--wait",
        "--timeout",
        "60",
    )
    run = e2e.row(started["run"]["id"])
    assert (run["status"], run["outcome"]) == ("completed", "succeeded"), run
    assert "(drift.generate) claimed" in e2e.worker.log_tail(200_000)
    return run


def _findings(e2e, baseline: int, *extra: str) -> dict:
    return _cli_json(
        e2e, "drift", "findings", "--tenant", "contoso", "--baseline", str(baseline), *extra
    )


async def test_backup_change_sync_generate_acknowledge_regenerate_revert(e2e):
    assert (await e2e.run("policy.sync"))["outcome"] == "succeeded"
    tenant_id = e2e.tenant_id("contoso")
    with session_scope(e2e.engine) as s:
        baseline = create_backup_set(
            s, tenant_id=tenant_id, name=f"Drift {uuid.uuid4().hex[:6]}"
        ).id
    with e2e.engine.connect() as conn:
        ids = list(
            conn.execute(
                sa.text("SELECT id FROM policies WHERE tenant_id = :t"), {"t": tenant_id}
            ).scalars()
        )
    added = await e2e.run("backup_set.add_policies", backup_set_id=baseline, policy_ids=ids)
    assert added["outcome"] == "succeeded", added

    (setting,), (assigned,), (deleted,) = (_graph_ids(e2e, t, 1) for t in (DC, COMPLIANCE, SC))
    base = f"{e2e.demo_url}/_demo/tenants/contoso/policies"
    async with httpx.AsyncClient(base_url=base, timeout=10) as admin:
        original = (await admin.get(f"/{DC}/{setting}")).json()["passwordMinimumLength"]
        assert (
            await admin.patch(f"/{DC}/{setting}", json={"passwordMinimumLength": 15})
        ).status_code == 200
        group = e2e.demo.tenant("contoso").data.groups.id_at(3)
        target = {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group}
        answer = await admin.put(
            f"/{COMPLIANCE}/{assigned}/assignments", json={"assignments": [{"target": target}]}
        )
        assert answer.status_code == 200
        assert (await admin.delete(f"/{SC}/{deleted}")).status_code == 200
        template = (await admin.get(f"/{COMPLIANCE}/{assigned}")).json()
        body = {
            k: v
            for k, v in template.items()
            if k not in ("id", "createdDateTime", "lastModifiedDateTime")
        }
        body["displayName"] = "macOS compliance - Contractors"
        assert (await admin.post(f"/{COMPLIANCE}", json=body)).status_code == 200
    assert (await e2e.run("policy.sync"))["outcome"] == "succeeded"

    await _generate(e2e, baseline)
    listed = _findings(e2e, baseline)
    by_kind = sorted((f["kind"], f["policy_type"]) for f in listed["findings"])
    assert by_kind == [
        ("added", COMPLIANCE),
        ("modified", COMPLIANCE),
        ("modified", DC),
        ("removed", SC),
    ], listed
    modified = next(f for f in listed["findings"] if f["policy_type"] == DC)
    assert modified["changed_paths"] == ["passwordMinimumLength"]
    assert set(modified) >= {"policy_id", "display_name", "policy_type", "kind", "state"}

    acked = _cli_json(
        e2e,
        "drift",
        "acknowledge",
        str(modified["id"]),
        "--as",
        STARTERS["contoso"],
        "--note",
        "CHG-1042",
    )
    assert acked["acknowledged"] == [modified["id"]]
    reader = e2e.cli("drift", "acknowledge", str(modified["id"]), "--as", "reader@opsapp.demo")
    assert reader.returncode == 3 and reader.stderr.count("\n") == 1, reader.stderr

    await _generate(e2e, baseline)  # nothing changed: same findings, acknowledgement kept
    again = _findings(e2e, baseline, "--state", "open")
    assert sorted(f["id"] for f in again["findings"]) == sorted(f["id"] for f in listed["findings"])
    kept = next(f for f in again["findings"] if f["id"] == modified["id"])
    assert (kept["state"], kept["note"]) == ("acknowledged", "CHG-1042")

    async with httpx.AsyncClient(base_url=base, timeout=10) as admin:
        await admin.patch(f"/{DC}/{setting}", json={"passwordMinimumLength": original})
    assert (await e2e.run("policy.sync"))["outcome"] == "succeeded"
    await _generate(e2e, baseline)
    resolved = _findings(e2e, baseline, "--state", "resolved")
    assert [f["id"] for f in resolved["findings"]] == [modified["id"]]
    assert len(_findings(e2e, baseline, "--state", "open")["findings"]) == 3


async def test_cli_errors_are_one_line_and_change_nothing(e2e):
    cases = [
        (("drift", "findings", "--tenant", "nowhere"), 4, "no tenant"),
        (
            ("drift", "findings", "--tenant", "contoso", "--baseline", "99999999"),
            4,
            "no backup set",
        ),
        (("drift", "findings", "--tenant", "contoso", "--kind", "weird"), 2, "invalid choice"),
        (("drift", "acknowledge", "99999999", "--as", STARTERS["contoso"]), 4, "no drift finding"),
        (("drift", "acknowledge", "x1", "--as", STARTERS["contoso"]), 2, "a finding id"),
        (
            (
                "ops",
                "start",
                "drift.generate",
                "--tenant",
                "contoso",
                "--as",
                STARTERS["contoso"],
                "--inputs",
                '{"baseline_id": 99999999}',
            ),
            4,
            "Baseline backup set not found",
        ),
    ]
    runs = e2e.count("operation_runs")
    for args, code, message in cases:
        proc = e2e.cli(*args)
        assert proc.returncode == code, (args, proc.stderr)
        assert message in proc.stderr and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert e2e.count("operation_runs") == runs
