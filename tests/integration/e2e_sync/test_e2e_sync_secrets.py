"""Secrets planted in Graph error bodies never come out anywhere, end to end.

The demo Graph's `leak_secrets` fault makes every error answer (403, 429, 503, also inside
`$batch`) echo the caller's bearer token, a JWT and the tenant's client secret — what a careless
server or proxy might do. Three syncs run on a REAL worker (logging at DEBUG, the most talkative
setting an operator might pick) against endpoints that answer with such bodies; then every place
a run's story is told is searched: operation_runs rows, notifications, the worker's output, this
process's log records, and `opsapp ops show` / `ops list`."""

from __future__ import annotations

import asyncio
import json
import logging
import re

import httpx
import pytest
import sqlalchemy as sa

from opsapp.graph.demo import CONTOSO
from opsapp.graph.demo.answers import fake_jwt
from opsapp.policy_types import POLICY_TYPES_BY_KEY

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]

LISTING_FORBIDDEN = "deviceConfiguration"
# A bearer token that is not followed by our redaction marker.
UNREDACTED_BEARER = re.compile(r"(?i)bearer\s+(?!\[redacted\])[A-Za-z0-9._~+/=-]{8,}")


@pytest.fixture(scope="module")
def worker_log_level() -> str:
    return "DEBUG"


def _planted(tokens: list[str]) -> list[str]:
    """Every planted string: the client secret (and a fragment of it), the demo's JWT and its
    parts, any JWT at all ('eyJ' = base64 of '{"'), and the bearer tokens the demo issued."""
    jwt = fake_jwt(CONTOSO)
    return [
        CONTOSO.client_secret,
        "demoContosoSecret",
        jwt,
        *jwt.split("."),
        "eyJ",
        *tokens,
    ]


def _leaks(where: str, text: str, needles: list[str]) -> list[str]:
    found = []
    for needle in needles:
        at = text.find(needle)
        if at >= 0:
            found.append(f"{where}: {needle[:24]}… in …{text[max(0, at - 80) : at + 40]!r}…")
    for match in UNREDACTED_BEARER.finditer(text):
        found.append(f"{where}: unredacted bearer token {match.group(0)[:20]}…")
    return found


def _rows_as_json(engine, table: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(f"SELECT row_to_json(t)::text FROM {table} t")).scalars())


def _record_tokens(demo, monkeypatch) -> list[str]:
    """Remember every access token the demo issues (the bearer tokens its errors echo)."""
    tokens: list[str] = []
    issue = demo.issue_token

    def recording(*args, **kwargs):
        answer = issue(*args, **kwargs)
        if answer:
            tokens.append(answer["access_token"])
        return answer

    monkeypatch.setattr(demo, "issue_token", recording)
    return tokens


async def test_secrets_in_graph_error_bodies_never_reach_runs_notifications_logs_or_cli(
    e2e, caplog, monkeypatch
):
    caplog.set_level(logging.DEBUG)
    tokens = _record_tokens(e2e.demo, monkeypatch)
    policies = e2e.demo.tenant("contoso").data.policies
    compliance = POLICY_TYPES_BY_KEY["deviceCompliancePolicy"].graph_path
    settings = POLICY_TYPES_BY_KEY["settingsCatalogPolicy"].graph_path
    compliance_id = policies["deviceCompliancePolicy"].id_at(0)
    settings_id = policies["settingsCatalogPolicy"].id_at(0)
    leaky = dict(
        leak_secrets=True,
        forbidden=(
            LISTING_FORBIDDEN,  # a whole listing refused
            f"{compliance}/{compliance_id}/assignments",  # one sub-request inside a $batch
            f"{settings}/{settings_id}/settings",  # one plain GET of an item
            "groups",  # the groups listing: the groups sync cannot proceed
        ),
        throttle_first=2,  # leaky 429s, then leaky 503s, retried and logged by the worker
        error_first=2,
        error_status=503,
        batch_item_throttle_first=3,  # leaky 429 sub-responses, retried
        retry_after_s=0.01,
    )

    # The planted strings really are in the demo's error bodies (else this test proves nothing).
    e2e.demo.set_faults("contoso", leak_secrets=True, forbidden=(LISTING_FORBIDDEN,))
    async with httpx.AsyncClient(base_url=e2e.demo_url) as http:
        token = await http.post(
            f"/{CONTOSO.entra_tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": CONTOSO.client_id,
                "client_secret": CONTOSO.client_secret,
                "scope": "https://graph.microsoft.com/.default",
            },
        )
        bearer = token.json()["access_token"]
        probe = await http.get(
            f"/beta/{POLICY_TYPES_BY_KEY[LISTING_FORBIDDEN].graph_path}",
            headers={"Authorization": f"Bearer {bearer}"},
        )
    assert probe.status_code == 403
    for planted in (CONTOSO.client_secret, fake_jwt(CONTOSO), f"Bearer {bearer}"):
        assert planted in probe.text

    e2e.demo.set_faults("contoso", **leaky)
    started = [
        await e2e.start("policy.sync"),
        await e2e.start("inventory.sync"),
        await e2e.start("directory_groups.sync"),
    ]
    rows = [await e2e.wait_completed(s.run.id) for s in started]
    policy, inventory, groups = rows
    for row in rows:
        e2e.final_notifications(row["id"])

    # What the runs say is right and useful: codes, items, paths — just no secrets.
    assert policy["outcome"] == "partially_succeeded", policy
    assert {(f["code"], f["item"]) for f in policy["failures"]} == {
        ("graph.forbidden", LISTING_FORBIDDEN),
        ("graph.forbidden", f"deviceCompliancePolicy/{compliance_id}"),
        ("graph.forbidden", f"settingsCatalogPolicy/{settings_id}"),
    }
    assert inventory["outcome"] == "partially_succeeded", inventory
    assert [(f["code"], f["item"]) for f in inventory["failures"]] == [
        ("graph.forbidden", LISTING_FORBIDDEN)
    ]
    assert groups["outcome"] == "failed", groups
    assert [(f["code"], f["item"]) for f in groups["failures"]] == [("graph.forbidden", "groups")]
    for row in rows:
        for failure in row["failures"]:
            assert failure["message"].startswith("Graph returned 403 Forbidden for ")
    assert len(tokens) >= 4, tokens  # the probe's and one per run's Graph client

    # Where the story is told: the CLI (separate processes, like an operator would run it).
    cli_runs = [asyncio.to_thread(e2e.cli, "ops", "show", str(row["id"])) for row in rows] + [
        asyncio.to_thread(e2e.cli, "ops", "list", "--tenant", "contoso", "--since", "all")
    ]
    outputs = await asyncio.gather(*cli_runs)
    for proc in outputs:
        assert proc.returncode == 0, proc.stderr
    shown = [json.loads(proc.stdout) for proc in outputs]
    assert [s["outcome"] for s in shown[:3]] == [r["outcome"] for r in rows]
    assert {r["id"] for r in shown[3]} == {row["id"] for row in rows}

    worker_log = e2e.worker.log_path.read_text(errors="replace")
    assert "Graph $batch: " in worker_log and "throttled; retry" in worker_log  # retries logged
    assert "-> 403" in worker_log  # DEBUG request lines of the refused calls are in the output

    haystacks = {"worker output": worker_log}
    for table in ("operation_runs", "notifications"):
        for i, text in enumerate(_rows_as_json(e2e.engine, table)):
            haystacks[f"{table} #{i}"] = text
    haystacks["caplog"] = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    for proc in outputs:
        haystacks[f"opsapp {' '.join(proc.args[3:])}"] = proc.stdout + proc.stderr
    assert len(haystacks) == 1 + 3 + 6 + 1 + 4  # 3 runs, a queued + a terminal notice each
    needles = _planted(tokens)
    leaks = [leak for where, text in haystacks.items() for leak in _leaks(where, text, needles)]
    assert leaks == []
