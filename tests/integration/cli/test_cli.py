"""The `opsapp` command line, run as a real subprocess against a migrated database."""

import json
import os
import subprocess
import sys

import pytest

from opsapp.graph.demo import CONTOSO, BackgroundDemoServer

OPSAPP = [sys.executable, "-m", "opsapp.cli"]


@pytest.fixture
def cli(db):
    url, engine = db

    def run(*args, stdin=None, env=None, check=True):
        full_env = {
            **os.environ,
            "DATABASE_URL": url,
            "OPSAPP_BROKER": "memory",
            "OPSAPP_SECRET_KEY": "cli-test-key",
            **(env or {}),
        }
        proc = subprocess.run(
            [*OPSAPP, *args], input=stdin, capture_output=True, text=True, env=full_env, timeout=120
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"opsapp {' '.join(args)} failed ({proc.returncode}): {proc.stderr}"
            )
        return proc

    run("demo", "seed")
    with engine.begin() as conn:  # these tests count runs: drop the seeded demo history
        conn.exec_driver_sql("DELETE FROM notifications")
        conn.exec_driver_sql("DELETE FROM operation_runs")
    return run


def _json(proc):
    return json.loads(proc.stdout)


def _start(cli, run_type, as_email, **kwargs):
    return cli("ops", "start", run_type, "--tenant", "contoso", "--as", as_email, **kwargs)


def _runs(cli, *extra):
    return _json(cli("ops", "list", "--tenant", "contoso", "--since", "all", *extra))


@pytest.mark.slow
def test_start_runs_the_sync_in_process_and_prints_the_run(cli):
    out = _json(_start(cli, "directory_groups.sync", "operator@opsapp.demo"))
    run = out["run"]
    assert out["created"] is True
    assert (run["status"], run["outcome"], run["type"], run["tenant"]) == (
        "completed",
        "succeeded",
        "directory_groups.sync",
        "contoso",
    )
    assert run["summary_counts"]["created"] == CONTOSO.size // 2
    assert run["initiator_name"] == "Oscar Operator"
    assert run["view_url"] == f"/t/contoso/operations/{run['id']}"
    for key in (
        "run_identity_hash",
        "failures",
        "context",
        "created_at",
        "started_at",
        "completed_at",
    ):
        assert key in run
    shown = _json(cli("ops", "show", str(run["id"])))
    assert shown["summary_counts"] == run["summary_counts"]

    again = _json(_start(cli, "directory_groups.sync", "owner@opsapp.demo"))
    assert again["created"] is True and again["run"]["id"] != run["id"]
    assert again["run"]["summary_counts"]["unchanged"] == CONTOSO.size // 2


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["ops", "start", "nope.sync", "--tenant", "contoso", "--as", "operator@opsapp.demo"],
            2,
            "unknown operation type",
        ),
        (
            ["ops", "start", "policy.sync", "--tenant", "nowhere", "--as", "operator@opsapp.demo"],
            4,
            "no tenant",
        ),
        (
            ["ops", "start", "policy.sync", "--tenant", "contoso", "--as", "fabrikam@opsapp.demo"],
            4,
            "not a member",
        ),
        (
            ["ops", "start", "policy.sync", "--tenant", "contoso", "--as", "reader@opsapp.demo"],
            3,
            "permission",
        ),
        (
            [
                "ops",
                "start",
                "policy.sync",
                "--tenant",
                "contoso",
                "--as",
                "operator@opsapp.demo",
                "--inputs",
                "{bad",
            ],
            2,
            "not valid JSON",
        ),
        (
            [
                "ops",
                "start",
                "policy.sync",
                "--tenant",
                "contoso",
                "--as",
                "operator@opsapp.demo",
                "--inputs",
                "[1]",
            ],
            2,
            "JSON object",
        ),
        (
            [
                "ops",
                "start",
                "policy.sync",
                "--tenant",
                "contoso",
                "--as",
                "operator@opsapp.demo",
                "--inputs",
                '{"policy_types": ["bogus"]}',
            ],
            2,
            "unsupported values",
        ),
        (
            [
                "ops",
                "start",
                "restore.execute",
                "--tenant",
                "contoso",
                "--as",
                "owner@opsapp.demo",
                "--inputs",
                '{"restore_run_id": 1}',
            ],
            3,
            "started by the system",
        ),
        (["ops", "show", "999999"], 4, "no operation run"),
        (["ops", "list", "--tenant", "contoso", "--since", "yesterday"], 2, "not a time range"),
    ],
)
def test_errors_are_one_line_non_zero_and_create_nothing(cli, args, code, message):
    proc = cli(*args, check=False)
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert _runs(cli) == []


def test_tenants_and_users_are_created_with_secrets_from_stdin(cli, db):
    _, engine = db
    tenant = _json(
        cli(
            "tenants",
            "create",
            "acme",
            "--name",
            "Acme",
            "--entra-tenant-id",
            "0d1f3a5e-1b2c-4d5e-8f90-a1b2c3d4e5f6",
            "--client-id",
            "abc",
            "--client-secret-stdin",
            stdin="Zz9Q~very-secret-value-1234567890\n",
        )
    )
    assert tenant["has_client_secret"] and "very-secret" not in json.dumps(tenant)
    with engine.connect() as conn:
        stored = conn.exec_driver_sql(
            "SELECT client_secret_encrypted FROM tenants WHERE slug='acme'"
        ).scalar()
    assert stored and "very-secret" not in stored  # encrypted at rest
    user = _json(
        cli(
            "users",
            "create",
            "Ann@Example.test",
            "--tenant",
            "acme",
            "--role",
            "manager",
            "--password-stdin",
            stdin="long enough password\n",
        )
    )
    assert (user["email"], user["role"]) == ("ann@example.test", "manager")

    dup = cli("tenants", "create", "acme", "--name", "Again", check=False)
    assert dup.returncode == 2 and "already exists" in dup.stderr
    short = cli(
        "users",
        "create",
        "bob@example.test",
        "--tenant",
        "acme",
        "--role",
        "operator",
        "--password-stdin",
        stdin="short\n",
        check=False,
    )
    assert short.returncode == 2 and "at least 8" in short.stderr

    # With a real tenant in the database, demo users (published passwords) are refused.
    refused = cli("demo", "seed", check=False)
    assert refused.returncode == 2 and "real tenants" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_demo_seed_is_idempotent(cli):
    again = _json(cli("demo", "seed", "--json"))
    assert {t["slug"] for t in again["tenants"]} == {"contoso", "fabrikam", "woodgrove"}
    assert not any(t["created"] for t in again["tenants"])
    assert not any(u["created"] for u in again["users"])


@pytest.mark.slow
def test_a_secret_in_a_graph_error_body_never_reaches_the_database_or_output(cli, db):
    _, engine = db
    with BackgroundDemoServer() as server:
        server.demo.set_faults(
            "contoso", forbidden=["deviceManagement/deviceCompliancePolicies"], leak_secrets=True
        )
        proc = cli(
            "ops",
            "start",
            "inventory.sync",
            "--tenant",
            "contoso",
            "--as",
            "operator@opsapp.demo",
            env={"OPSAPP_DEMO_GRAPH_URL": server.url},
        )
    run = _json(proc)["run"]
    assert run["outcome"] == "partially_succeeded"
    assert [f["code"] for f in run["failures"]] == ["graph.forbidden"]
    with engine.connect() as conn:
        stored = json.dumps(
            [list(r) for r in conn.exec_driver_sql("SELECT failures, context FROM operation_runs")]
        )
    for blob in (proc.stdout, proc.stderr, stored):
        assert CONTOSO.client_secret not in blob
        assert "eyJ" not in blob


def test_list_filters(cli):
    _start(cli, "directory_groups.sync", "operator@opsapp.demo")
    assert len(_runs(cli, "--type", "directory_groups.sync")) == 1
    assert _runs(cli, "--type", "policy.sync") == []
    assert len(_runs(cli, "--state", "succeeded")) == 1
    assert _runs(cli, "--state", "failed") == []
    assert len(_runs(cli, "--initiator", "Oscar Operator")) == 1
    assert _runs(cli, "--initiator", "Olivia Owner") == []
    assert len(_json(cli("ops", "list", "--tenant", "contoso"))) == 1  # default: last 30 days


def test_prune_deletes_only_expired_completed_runs(cli, db):
    _, engine = db
    _start(cli, "directory_groups.sync", "operator@opsapp.demo")
    _start(cli, "directory_groups.sync", "operator@opsapp.demo")
    with engine.begin() as conn:  # age the first run past the 90-day retention
        conn.exec_driver_sql(
            "UPDATE operation_runs SET completed_at = created_at - INTERVAL '100 days' WHERE id = "
            "(SELECT MIN(id) FROM operation_runs)"
            if engine.dialect.name == "postgresql"
            else "UPDATE operation_runs SET completed_at = datetime(created_at, '-100 days') "
            "WHERE id = (SELECT MIN(id) FROM operation_runs)"
        )
    out = cli("ops", "prune")
    assert "pruned 1 runs" in out.stdout
    assert len(_runs(cli)) == 1


@pytest.mark.slow
def test_demo_graph_command_serves_the_demo_graph_over_http(tmp_path):
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [*OPSAPP, "demo", "graph", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/{CONTOSO.entra_tenant_id}/oauth2/v2.0/token"
        form = {
            "grant_type": "client_credentials",
            "client_id": CONTOSO.client_id,
            "client_secret": CONTOSO.client_secret,
            "scope": "https://graph.microsoft.com/.default",
        }
        for _ in range(100):
            try:
                answer = httpx.post(url, data=form, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert answer.status_code == 200 and answer.json()["token_type"] == "Bearer"
    finally:
        os.killpg(proc.pid, 9)
        proc.wait(timeout=10)
