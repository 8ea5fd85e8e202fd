"""`opsapp policies|backup-sets|schedules …` and backup runs through `opsapp ops start`, as a real
subprocess against a migrated database (SQLite and PostgreSQL), in-process broker and demo
Graph. Errors: one line on stderr, exit 2 bad input / 3 not allowed / 4 not found, nothing
created."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from opsapp.graph.demo import CONTOSO

OPSAPP = [sys.executable, "-m", "opsapp.cli"]
OPERATOR, OWNER, READER, OTHER = (
    "operator@opsapp.demo",
    "owner@opsapp.demo",
    "reader@opsapp.demo",
    "fabrikam@opsapp.demo",
)


@pytest.fixture
def cli(db):
    url, engine = db

    def run(*args, check=True):
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "OPSAPP_BROKER": "memory",
            "OPSAPP_SECRET_KEY": "cli-test-key",
        }
        proc = subprocess.run(
            [*OPSAPP, *args], capture_output=True, text=True, env=env, timeout=120
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"opsapp {' '.join(args)} failed ({proc.returncode}): {proc.stderr}"
            )
        return proc

    run("demo", "seed")
    with engine.begin() as conn:  # these tests count runs and sets: drop the seeded history
        for table in (
            "notifications",
            "backup_items",
            "backup_sets",
            "backup_schedules",
            "operation_runs",
        ):
            conn.exec_driver_sql(f"DELETE FROM {table}")
    run.engine = engine
    return run


def _json(proc):
    return json.loads(proc.stdout)


def _count(cli, table):
    with cli.engine.connect() as conn:
        return conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()


def _start(cli, run_type, inputs, as_email=OPERATOR, check=True):
    return cli(
        "ops", "start", run_type, "--tenant", "contoso", "--as", as_email,
        "--inputs", json.dumps(inputs), check=check,
    )  # fmt: skip


@pytest.mark.slow
def test_pick_policies_fill_a_set_and_show_it(cli):
    assert _json(_start(cli, "policy.sync", {}))["run"]["outcome"] == "succeeded"
    listed = _json(cli("policies", "list", "--tenant", "contoso", "--type", "roleScopeTag"))
    assert listed["rows"] and {r["policy_type"] for r in listed["rows"]} == {"roleScopeTag"}
    name = listed["rows"][0]["display_name"]
    found = _json(cli("policies", "list", "--tenant", "contoso", "--search", name[:12]))
    assert name in [r["display_name"] for r in found["rows"]]
    compliance = _json(
        cli("policies", "list", "--tenant", "contoso", "--type", "deviceCompliancePolicy")
    )
    picked = [listed["rows"][0]["id"], compliance["rows"][0]["id"], compliance["rows"][1]["id"]]

    created = _json(
        cli("backup-sets", "create", "Before change", "--tenant", "contoso", "--as", OPERATOR)
    )
    assert (created["name"], created["item_count"]) == ("Before change", 0)
    out = _json(
        _start(
            cli, "backup_set.add_policies", {"backup_set_id": created["id"], "policy_ids": picked}
        )
    )
    assert out["created"] and out["run"]["outcome"] == "succeeded"
    assert out["run"]["summary_counts"]["created"] == 3

    shown = _json(cli("backup-sets", "show", str(created["id"])))
    assert shown["item_count"] == 3 and shown["tenant"] == "contoso"
    assert sorted(i["policy_id"] for i in shown["items"]) == sorted(picked)
    assert all(i["version_number"] == 1 for i in shown["items"])
    sets = _json(cli("backup-sets", "list", "--tenant", "contoso"))
    assert [(r["name"], r["item_count"]) for r in sets["rows"]] == [("Before change", 3)]

    item = shown["items"][0]["id"]
    removed = _json(
        _start(
            cli, "backup_set.remove_policies", {"backup_set_id": created["id"], "item_ids": [item]}
        )
    )
    assert removed["run"]["summary_counts"]["removed"] == 1
    assert _json(cli("backup-sets", "show", str(created["id"])))["item_count"] == 2


@pytest.mark.slow
def test_schedules_are_created_listed_and_run(cli):
    made = _json(
        cli(
            "schedules", "create", "--tenant", "contoso", "--as", OWNER, "--name", "Weekly",
            "--frequency", "weekly", "--weekdays", "mon,thu", "--time", "02:30",
            "--timezone", "Europe/Berlin", "--policy-types", "roleScopeTag,assignmentFilter",
            "--keep", "3",
        )
    )  # fmt: skip
    assert (made["name"], made["weekdays"], made["keep_last"]) == ("Weekly", ["mon", "thu"], 3)
    assert made["policy_types"] == ["assignmentFilter", "roleScopeTag"]
    assert made["next_run_local"].endswith(("CET", "CEST")) and " 02:30 " in made["next_run_local"]
    listed = _json(cli("schedules", "list", "--tenant", "contoso"))
    assert [r["id"] for r in listed["rows"]] == [made["id"]]

    run = _json(_start(cli, "backup_schedule.run_now", {"schedule_id": made["id"]}))["run"]
    assert run["outcome"] == "succeeded", run
    assert run["summary_counts"]["created"] > 0
    [row] = _json(cli("schedules", "list", "--tenant", "contoso"))["rows"]
    assert row["last_run"]["id"] == run["id"] and row["set_count"] == 1


def _schedule_args(**override):
    values = {
        "--name": "Nightly", "--frequency": "daily", "--time": "02:00",
        "--timezone": "Europe/Berlin", "--policy-types": "roleScopeTag", "--keep": "7",
        **override,
    }  # fmt: skip
    return [x for pair in values.items() for x in pair]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["backup-sets", "create", "  ", "--tenant", "contoso", "--as", OPERATOR], 2, "Name is required"),
        (["backup-sets", "create", "x" * 10_000, "--tenant", "contoso", "--as", OPERATOR], 2, "too long"),
        (["backup-sets", "create", "a\tb", "--tenant", "contoso", "--as", OPERATOR], 2, "control"),
        (["backup-sets", "create", "S", "--tenant", "contoso", "--as", READER], 3, "permission"),
        (["backup-sets", "create", "S", "--tenant", "contoso", "--as", OTHER], 4, "not a member"),
        (["backup-sets", "create", "S", "--tenant", "nowhere", "--as", OPERATOR], 4, "no tenant"),
        (["backup-sets", "create", "S", "--tenant", "contoso", "--as", "x@y.z"], 4, "no user"),
        (["backup-sets", "show", "999999"], 4, "no backup set"),
        (["backup-sets", "list", "--tenant", "nowhere"], 4, "no tenant"),
        (["policies", "list", "--tenant", "contoso", "--type", "bogus"], 2, "unknown policy type"),
        (["policies", "list", "--tenant", "contoso", "--page-size", "0"], 2, "--page-size"),
        (["schedules", "create", "--tenant", "contoso", "--as", OWNER,
          *_schedule_args(**{"--timezone": "Mars/Olympus"})], 2, "not an IANA time zone"),
        (["schedules", "create", "--tenant", "contoso", "--as", OWNER,
          *_schedule_args(**{"--name": "a\nb"})], 2, "control"),
        (["schedules", "create", "--tenant", "contoso", "--as", OWNER,
          *_schedule_args(**{"--policy-types": "bogus"})], 2, "Unknown policy type"),
        (["schedules", "create", "--tenant", "contoso", "--as", OWNER,
          *_schedule_args(**{"--frequency": "weekly"})], 2, "weekday"),
        (["schedules", "create", "--tenant", "contoso", "--as", OWNER,
          *_schedule_args(**{"--time": "25:00"})], 2, "HH:MM"),
        (["schedules", "create", "--tenant", "contoso", "--as", OWNER,
          *_schedule_args(**{"--keep": "0"})], 2, "Keep the last"),
        (["schedules", "create", "--tenant", "contoso", "--as", OPERATOR, *_schedule_args()], 3,
         "permission"),
        (["schedules", "create", "--tenant", "contoso", "--as", OTHER, *_schedule_args()], 4,
         "not a member"),
        (["schedules", "list", "--tenant", "nowhere"], 4, "no tenant"),
    ],
)  # fmt: skip
def test_errors_are_one_line_with_the_exit_code_and_create_nothing(cli, args, code, message):
    proc = cli(*args, check=False)
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert _count(cli, "backup_sets") == _count(cli, "backup_schedules") == 0


def test_an_empty_selection_is_refused_and_creates_no_run(cli):
    created = _json(cli("backup-sets", "create", "S", "--tenant", "contoso", "--as", OPERATOR))
    proc = _start(
        cli,
        "backup_set.add_policies",
        {"backup_set_id": created["id"], "policy_ids": []},
        check=False,
    )
    assert proc.returncode == 2 and "No policies selected" in proc.stderr
    proc = _start(
        cli, "backup_set.add_policies", {"backup_set_id": 999999, "policy_ids": [1]}, check=False
    )
    assert proc.returncode == 4 and "Backup set not found" in proc.stderr
    assert _count(cli, "operation_runs") == 0
    assert CONTOSO.client_secret not in proc.stderr
