"""drift.generate over 5,000 policies, and the Drift page's findings table over 5,000 findings.

Issue goals: `drift.generate` over 5,000 policies with 5 % changed ≤ 3 s and RSS growth
≤ 100 MB; the findings table with 5,000 findings p95 ≤ 50 ms.

Seeding is bulk SQLAlchemy Core inserts (no Graph, no sync). Payloads are real-shaped: the demo
Graph's recipes (`opsapp.graph.demo.catalog`: make_policy / make_settings / make_assignments)
plus a few per-type extras (device-configuration properties with nulls, compliance scheduled
actions, administrative-template definition values), settings-catalog policies with 5–13
settings. `content_hash` is `Snapshot.digest` — exactly what policy.sync stores. One tenant per
scenario: N baseline policies pinned by one backup set to their first version; a fraction of
them with a second, current version (a real setting change ~60 %, an assignment change ~20 %,
a volatile-only `version`/`lastModifiedDateTime` change ~20 %); ~1 % removed (removed_at set)
and ~1 % added (no item).

generate: `generate_drift()` (the task body's service) — a first run (findings opened; the
baseline's findings are deleted before each, outside the timing) and a re-run with nothing
changed (every finding kept), beside `detect()` alone (reads + normalise + diff, no writes) and
the FLOOR: the bare reads of the same rows (items ⨝ versions hashes, the policies scan, the
payloads of the changed versions) as raw `conn.execute(sa.text(...))`. Interleaved, after a
warm-up of each. Peak RSS: a fresh subprocess per measurement (`python -m bench.drift --child`):
VmRSS after imports + engine + one query (high-water mark reset there through
`/proc/self/clear_refs`), and VmHWM after one `generate_drift()`.

Findings table: 5,000 open findings on one baseline (bulk insert), `list_findings()` variants
and `summary()` — interleaved sample by sample with their floor: the very SQL statements the
call executed (captured once), run raw on the same driver connection.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.common import (
    drop_pg,
    machine,
    percentile,
    scratch_pg,
    scratch_sqlite,
    seed_operator,
    write_section,
)

N = 5000
SEED = 20240101
REPS = 5
WORST_REPS = 3
TABLE_REPEATS, TABLE_PER_REPEAT, TABLE_WARMUP = 3, 350, 30
CHILD_TIMEOUT = 300
NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
CAPTURED = NOW - timedelta(days=7)  # when the baseline's items were added


# --- real-shaped payloads ---------------------------------------------------------------------

_DC_EXTRA = {
    "defenderScanType": ("userDefined", "quick", "full", None),
    "defenderScheduledScanTime": ("02:00:00.0000000", "12:00:00.0000000", None),
    "defenderCloudBlockLevel": ("notConfigured", "high", "highPlus"),
    "defenderRequireRealTimeMonitoring": (True, False),
    "defenderRequireBehaviorMonitoring": (True, False),
    "defenderSignatureUpdateIntervalInHours": (1, 4, 8, None),
    "edgeBlockPopups": (True, False),
    "edgeBlockPasswordManager": (True, False),
    "edgeHomepageUrls": (["https://intranet.contoso.com"], [], None),
    "smartScreenEnableAppInstallControl": (True, False),
    "windowsSpotlightBlocked": (True, False),
    "cameraBlocked": (True, False),
    "cellularBlockDataWhenRoaming": (True, False),
    "lockScreenTimeoutInSeconds": (300, 600, 900, None),
    "passwordExpirationDays": (30, 60, 90, None),
    "passwordPreviousPasswordBlockCount": (5, 10, 24, None),
    "passwordRequiredType": ("deviceDefault", "alphanumeric", "numeric"),
    "usbBlocked": (True, False),
    "storageBlockRemovableStorage": (True, False),
    "wiFiBlocked": (True, False),
    "privacyAdvertisingId": ("notConfigured", "blocked", "allowed"),
    "enterpriseCloudPrintDiscoveryEndPoint": (None,),
    "networkProxyServer": (None,),
    "startMenuLayoutXml": (None,),
}
_ADMX = ("ADMX_Edge", "ADMX_OneDrive", "ADMX_Office", "ADMX_WindowsUpdate", "ADMX_Teams")
# Shape fields that are volatile (normalize drops them): a "setting change" never picks them.
_NOT_SETTINGS = {"version", "settingCount", "isAssigned"}


def _group(i: int) -> str:
    return f"{i:08x}-0000-4000-8000-00000000beef"


def real_shaped(key: str, index: int) -> tuple[dict, list, list | None]:
    """(payload, assignments, settings or None) of policy `index` of type `key`."""
    from opsapp.graph.demo.catalog import make_assignments, make_policy, make_settings
    from opsapp.policy_types import POLICY_TYPES_BY_KEY

    gid = f"{index:08x}-{sum(map(ord, key)):04x}-4000-8000-{SEED:012d}"
    payload = make_policy(key=key, seed=SEED, index=index, object_id=gid)
    rng = random.Random(f"extra:{key}:{index}")
    settings = None
    if key == "deviceConfiguration":
        for name, choices in _DC_EXTRA.items():
            payload[name] = rng.choice(choices)
    elif key == "deviceCompliancePolicy":
        payload["scheduledActionsForRule"] = [
            {
                "ruleName": "PasswordRequired",
                "scheduledActionConfigurations": [
                    {
                        "id": f"{gid}-a{n}",
                        "actionType": action,
                        "gracePeriodHours": rng.choice((0, 24, 72)),
                        "notificationTemplateId": "",
                        "notificationMessageCCList": [],
                    }
                    for n, action in enumerate(("block", "notification"))
                ],
            }
        ]
        payload["validOperatingSystemBuildRanges"] = []
    elif key == "groupPolicyConfiguration":
        payload["definitionValues"] = [
            {
                "id": f"{gid}-d{n}",
                "enabled": rng.choice((True, False)),
                "configurationType": "policy",
                "definition": {
                    "id": f"{n:08x}-aaaa-4000-8000-{index:012d}",
                    "displayName": f"{rng.choice(_ADMX)} setting {n}",
                    "classType": rng.choice(("machine", "user")),
                },
                "presentationValues": [
                    {
                        "@odata.type": "#microsoft.graph.groupPolicyPresentationValueText",
                        "id": f"{gid}-p{n}",
                        "value": f"value-{rng.randrange(100)}",
                        "presentation": {"id": f"{n:08x}-bbbb-4000-8000-{index:012d}"},
                    }
                ],
            }
            for n in range(rng.randint(3, 8))
        ]
    elif key == "settingsCatalogPolicy":
        count = rng.randint(5, 13)
        payload["settingCount"] = count
        settings = make_settings(seed=SEED, index=index, count=count)
    assignments = (
        make_assignments(
            seed=SEED,
            key=key,
            index=index,
            policy_id=gid,
            group_id_at=_group,
            group_count=25_000,
        )
        if POLICY_TYPES_BY_KEY[key].has_assignments
        else []
    )
    return payload, assignments, settings


def changed(key: str, index: int, base: tuple, how: str) -> tuple[dict, list, list | None]:
    """A second version of `base`: a setting, an assignment or only volatile fields changed."""
    from opsapp.graph.demo.catalog import SHAPES
    from opsapp.policy_types import POLICY_TYPES_BY_KEY

    payload, assignments, settings = copy.deepcopy(base)
    rng = random.Random(f"change:{key}:{index}")
    modified = datetime.fromisoformat(payload["lastModifiedDateTime"].replace("Z", "+00:00"))
    payload["lastModifiedDateTime"] = (modified + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if "version" in payload:
        payload["version"] = int(payload["version"]) + 1
    if how == "assignment" and not POLICY_TYPES_BY_KEY[key].has_assignments:
        how = "setting"
    if how == "assignment":
        assignments.append(
            {
                "id": f"{payload['id']}_new",
                "target": {
                    "@odata.type": "#microsoft.graph.groupAssignmentTarget",
                    "groupId": _group(rng.randrange(25_000)),
                    "deviceAndAppManagementAssignmentFilterId": None,
                    "deviceAndAppManagementAssignmentFilterType": "none",
                },
            }
        )
    elif how == "setting":
        if settings:
            value = settings[rng.randrange(len(settings))]["settingInstance"]["choiceSettingValue"]
            value["value"] = value["value"][:-1] + "9"
        else:
            fields = [
                f
                for f, choices in SHAPES[key].fields.items()
                if f not in _NOT_SETTINGS and len(set(choices)) > 1
            ]
            if fields:
                name = rng.choice(fields)
                choices = [c for c in SHAPES[key].fields[name] if c != payload.get(name)]
                payload[name] = rng.choice(choices)
            else:
                payload["description"] = payload.get("description", "") + " (changed)"
    return payload, assignments, settings


def _version_row(policy_type: str, version: tuple, **extra) -> tuple[dict, str]:
    from opsapp.features.policies.snapshots import Snapshot

    payload, assignments, settings = version
    snap = Snapshot(policy_type, payload["id"], payload, assignments, settings)
    row = {
        "payload": snap.stored_payload,
        "assignments": assignments,
        "scope_tags": snap.scope_tags,
        **extra,
    }
    return row, snap.digest


def seed_scenario(
    engine, *, tenant_id: int, changed_fraction: float, removed: int, added: int, name: str
) -> dict:
    """Policies, versions and a baseline set for one tenant (see the module docstring)."""
    from opsapp.features.common import display_name
    from opsapp.models import BackupItem, BackupSet, Policy, PolicyVersion
    from opsapp.policy_types import POLICY_TYPES

    P, V, S, Items = (m.__table__ for m in (Policy, PolicyVersion, BackupSet, BackupItem))
    keys = [t.key for t in POLICY_TYPES]
    rng = random.Random(f"scenario:{name}")
    total = N + added
    specs = [(keys[i % len(keys)], i) for i in range(total)]
    firsts = [real_shaped(k, i) for k, i in specs]
    baseline_idx = list(range(N))
    removed_idx = set(rng.sample(baseline_idx, removed))
    present = [i for i in baseline_idx if i not in removed_idx]
    n_changed = round(N * changed_fraction) if changed_fraction < 1 else len(present)
    change_idx = rng.sample(present, min(n_changed, len(present)))
    hows = {}
    for n, i in enumerate(change_idx):
        r = n % 10
        hows[i] = "setting" if r < 6 else ("assignment" if r < 8 else "volatile")
    seconds = {i: changed(specs[i][0], i, firsts[i], hows[i]) for i in change_idx}

    started = time.perf_counter()
    v1_rows, v1_hash, v2_rows, v2_hash = [], {}, {}, {}
    for i, (key, _) in enumerate(specs):
        v1_rows.append(_version_row(key, firsts[i]))
        v1_hash[i] = v1_rows[-1][1]
        if i in seconds:
            v2_rows[i] = _version_row(key, seconds[i])
            v2_hash[i] = v2_rows[i][1]
    with engine.begin() as conn:
        policy_rows = [
            {
                "tenant_id": tenant_id,
                "policy_type": key,
                "graph_id": firsts[i][0]["id"],
                "display_name": display_name(seconds.get(i, firsts[i])[0]),
                "content_hash": v2_hash.get(i, v1_hash[i]),
                # First captured before the baseline (added: after it, see generate's "added").
                "created_at": NOW if i >= N else CAPTURED - timedelta(days=30),
                "updated_at": NOW,
                "removed_at": NOW if i in removed_idx else None,
            }
            for i, (key, _) in enumerate(specs)
        ]
        ids = conn.execute(
            sa.insert(P).returning(P.c.id, sort_by_parameter_order=True), policy_rows
        ).scalars()
        policy_ids = list(ids)

        def version_params(i: int, rows: dict | list, number: int) -> dict:
            row, digest = rows[i]
            return {
                **row,
                "policy_id": policy_ids[i],
                "tenant_id": tenant_id,
                "version_number": number,
                "content_hash": digest,
                "captured_at": NOW,
            }

        v1_ids = list(
            conn.execute(
                sa.insert(V).returning(V.c.id, sort_by_parameter_order=True),
                [version_params(i, v1_rows, 1) for i in range(total)],
            ).scalars()
        )
        if v2_rows:
            conn.execute(sa.insert(V), [version_params(i, v2_rows, 2) for i in sorted(v2_rows)])
        conn.execute(
            sa.text(
                "UPDATE policies SET current_version_id = (SELECT max(v.id) FROM policy_versions v "
                "WHERE v.policy_id = policies.id) WHERE tenant_id = :t"
            ),
            {"t": tenant_id},
        )
        set_id = conn.execute(
            sa.insert(S).returning(S.c.id),
            {"tenant_id": tenant_id, "name": f"Baseline {name}", "created_at": NOW,
             "updated_at": NOW},
        ).scalar_one()  # fmt: skip
        conn.execute(
            sa.insert(Items),
            [
                {
                    "backup_set_id": set_id,
                    "tenant_id": tenant_id,
                    "policy_id": policy_ids[i],
                    "policy_version_id": v1_ids[i],
                    "policy_type": specs[i][0],
                    "display_name": display_name(firsts[i][0]),
                    "include_assignments": True,
                    "include_scope_tags": True,
                    "added_at": CAPTURED,
                }
                for i in baseline_idx
            ],
        )
    _analyze(engine)
    volatile = sum(1 for h in hows.values() if h == "volatile")
    payload_bytes = [len(json.dumps(r[0])) for r in v1_rows]
    return {
        "tenant_id": tenant_id,
        "set_id": set_id,
        "policies": total,
        "baseline": N,
        "changed": len(change_idx),
        "kinds": {
            h: sum(1 for x in hows.values() if x == h)
            for h in ("setting", "assignment", "volatile")
        },  # fmt: skip
        "removed": removed,
        "added": added,
        "expected_created": len(change_idx) - volatile + removed + added,
        "seed_seconds": time.perf_counter() - started,
        "payload_bytes": statistics.median(payload_bytes),
        "payload_max": max(payload_bytes),
    }


def _analyze(engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))


# --- generate --------------------------------------------------------------------------------


def inputs_for(set_id: int) -> dict:
    from opsapp.operations.catalog import get_type

    return get_type("drift.generate").identity.normalise({"baseline_id": set_id})


def reset(engine, set_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text("DELETE FROM drift_findings WHERE baseline_set_id = :s"), {"s": set_id}
        )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM drift_findings"))


def run_generate(engine, sc: dict) -> tuple[float, dict]:
    from opsapp.features.drift.generate import generate_drift

    inputs = inputs_for(sc["set_id"])
    t0 = time.perf_counter()
    result = generate_drift(engine, tenant_id=sc["tenant_id"], inputs=inputs, run_id=None)
    seconds = time.perf_counter() - t0
    assert result.fatal is None, result.fatal
    return seconds, dict(result.counts)


def run_detect(engine, sc: dict) -> float:
    from opsapp.features.drift.generate import detect

    types = list(inputs_for(sc["set_id"])["policy_types"])
    t0 = time.perf_counter()
    with engine.connect() as conn:
        detect(conn, tenant_id=sc["tenant_id"], set_id=sc["set_id"], types=types)
    return time.perf_counter() - t0


FLOOR_BASELINE = sa.text(
    "SELECT i.policy_id, i.policy_type, i.display_name, i.policy_version_id, v.content_hash, "
    "i.include_assignments FROM backup_items i JOIN policy_versions v "
    "ON v.id = i.policy_version_id WHERE i.backup_set_id = :s"
)
FLOOR_CURRENT = sa.text(
    "SELECT id, policy_type, display_name, current_version_id, content_hash, removed_at "
    "FROM policies WHERE tenant_id = :t"
)
FLOOR_PAYLOADS = sa.text(
    "SELECT id, payload, assignments, scope_tags FROM policy_versions WHERE id IN :ids"
).bindparams(sa.bindparam("ids", expanding=True))


def changed_version_ids(engine, sc: dict) -> list[int]:
    """Both versions of every policy generate diffs (hashes differ, present in both)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT i.policy_version_id, p.current_version_id FROM backup_items i "
                "JOIN policy_versions v ON v.id = i.policy_version_id "
                "JOIN policies p ON p.id = i.policy_id "
                "WHERE i.backup_set_id = :s AND p.removed_at IS NULL "
                "AND p.content_hash <> v.content_hash AND p.current_version_id <> v.id"
            ),
            {"s": sc["set_id"]},
        ).all()
    return sorted({x for r in rows for x in r})


def run_floor(engine, sc: dict, version_ids: list[int]) -> float:
    t0 = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(FLOOR_BASELINE, {"s": sc["set_id"]}).all()
        conn.execute(FLOOR_CURRENT, {"t": sc["tenant_id"]}).all()
        for start in range(0, len(version_ids), 1000):
            conn.execute(FLOOR_PAYLOADS, {"ids": version_ids[start : start + 1000]}).all()
    return time.perf_counter() - t0


def count_statements(engine, fn) -> tuple[int, float]:
    stats = {"n": 0, "t": 0.0}

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_t0"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        stats["n"] += 1
        stats["t"] += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        fn()
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)
    return stats["n"], stats["t"]


def measure_generate(engine, sc: dict, reps: int, label: str) -> dict:
    version_ids = changed_version_ids(engine, sc)
    run_floor(engine, sc, version_ids)  # warm-up of each
    reset(engine, sc["set_id"])
    run_generate(engine, sc)
    run_generate(engine, sc)
    run_detect(engine, sc)
    out: dict[str, list] = {"floor": [], "first": [], "rerun": [], "detect": []}
    counts: dict[str, dict] = {}
    for rep in range(reps):
        out["floor"].append(run_floor(engine, sc, version_ids))
        reset(engine, sc["set_id"])
        seconds, counts["first"] = run_generate(engine, sc)
        out["first"].append(seconds)
        out["detect"].append(run_detect(engine, sc))
        out["floor"].append(run_floor(engine, sc, version_ids))
        seconds, counts["rerun"] = run_generate(engine, sc)
        out["rerun"].append(seconds)
        print(
            f"{label} rep {rep + 1}: floor {out['floor'][-1]:.3f} s, first {out['first'][-1]:.3f}"
            f" s, re-run {out['rerun'][-1]:.3f} s, detect {out['detect'][-1]:.3f} s",
            file=sys.stderr,
            flush=True,
        )
    assert counts["first"]["created"] == sc["expected_created"], (counts, sc)
    assert counts["rerun"]["unchanged"] == sc["expected_created"], (counts, sc)
    assert counts["rerun"]["created"] == 0, counts
    reset(engine, sc["set_id"])
    statements = {"first": count_statements(engine, lambda: run_generate(engine, sc))}
    statements["rerun"] = count_statements(engine, lambda: run_generate(engine, sc))
    return {
        **out,
        "counts": counts,
        "statements": statements,
        "diffed": len(version_ids) // 2,
    }


# --- peak RSS in a fresh subprocess ----------------------------------------------------------


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def child(url: str, tenant_id: int, set_id: int) -> None:
    """One generate in this fresh process. The peak is VmHWM after resetting it to the current
    RSS (`/proc/self/clear_refs` ← 5) right before the call: `ru_maxrss` would not do, a child
    inherits its parent's high-water mark through fork/vfork + exec (here: the seeding parent's)."""
    from opsapp.db import get_engine
    from opsapp.features.drift.generate import generate_drift  # noqa: F401 (imports first)

    engine = get_engine(url)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT count(*) FROM policies")).scalar_one()
    inherited = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Path("/proc/self/clear_refs").write_text("5")
    before_rss = _status_kb("VmRSS")
    seconds, counts = run_generate(engine, {"tenant_id": tenant_id, "set_id": set_id})
    print(
        json.dumps(
            {
                "seconds": seconds,
                "counts": counts,
                "ru_maxrss_before_kb": inherited,
                "before_rss_kb": before_rss,
                "peak_kb": _status_kb("VmHWM"),
                "after_rss_kb": _status_kb("VmRSS"),
            }
        )
    )


def measure_rss(url: str, engine, sc: dict) -> dict:
    """A first run and a re-run, each in its own fresh subprocess."""
    out = {}
    reset(engine, sc["set_id"])
    for label in ("first", "rerun"):
        proc = subprocess.run(
            [sys.executable, "-m", "bench.drift", "--child", url, str(sc["tenant_id"]),
             str(sc["set_id"])],
            capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=True,
        )  # fmt: skip
        out[label] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["first"]["counts"]["created"] == sc["expected_created"], out
    return out


# --- findings table --------------------------------------------------------------------------

TABLE_VARIANTS: dict[str, dict] = {
    "page 1, default filters (open, by name)": {},
    'search "a" (unselective)': {"search": "a"},
    "sort last_seen_at descending": {"sort": "last_seen_at", "descending": True},
    "deep page (150 of 25)": {"page": 150},
}


def seed_findings(engine, tenant_id: int) -> int:
    """5,000 open findings (80 % modified with 1–4 changes, 10 % removed, 10 % added; 15 %
    acknowledged) on a fresh baseline of `tenant_id`; returns the baseline's id."""
    from opsapp.models import BackupSet, DriftFinding

    S, F = BackupSet.__table__, DriftFinding.__table__
    rng = random.Random("findings")
    with engine.begin() as conn:
        policies = conn.execute(
            sa.text(
                "SELECT id, policy_type, display_name, current_version_id FROM policies "
                "WHERE tenant_id = :t ORDER BY id LIMIT :n"
            ),
            {"t": tenant_id, "n": N},
        ).all()
        assert len(policies) == N
        set_id = conn.execute(
            sa.insert(S).returning(S.c.id),
            {"tenant_id": tenant_id, "name": "Findings table baseline", "created_at": NOW,
             "updated_at": NOW},
        ).scalar_one()  # fmt: skip
        rows = []
        for n, p in enumerate(policies):
            roll = rng.random()
            kind = "modified" if roll < 0.8 else ("removed" if roll < 0.9 else "added")
            changes = (
                [
                    {
                        "path": f"settings[id=setting{k}].value",
                        "old": f"v{k}_0",
                        "new": f"v{k}_1",
                        "kind": "changed",
                    }
                    for k in range(rng.randint(1, 4))
                ]  # fmt: skip
                if kind == "modified"
                else []
            )
            acked = rng.random() < 0.15
            seen = NOW - timedelta(minutes=rng.randrange(60 * 24 * 30))
            rows.append(
                {
                    "tenant_id": tenant_id,
                    "baseline_set_id": set_id,
                    "policy_id": p.id,
                    "policy_type": p.policy_type,
                    "display_name": p.display_name,
                    "kind": kind,
                    "state": "acknowledged" if acked else "new",
                    "fingerprint": f"{n:064x}",
                    "changes": changes,
                    "changed_paths": len(changes),
                    "baseline_version_id": p.current_version_id if kind != "added" else None,
                    "current_version_id": p.current_version_id if kind != "removed" else None,
                    "first_seen_at": seen - timedelta(days=rng.randrange(30)),
                    "last_seen_at": seen,
                    "resolved_at": None,
                    "acknowledged_at": seen if acked else None,
                    "acknowledged_by_user_id": None,
                    "acknowledged_by_name": "Bench Operator" if acked else "",
                    "acknowledgement_note": "CHG-1042" if acked else "",
                    "first_run_id": None,
                    "last_run_id": None,
                }
            )
        conn.execute(sa.insert(F), rows)
    _analyze(engine)
    return set_id


def _capture(engine, fn) -> list[tuple[str, Any]]:
    captured: list[tuple[str, Any]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        fn()
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
    return captured


def measure_table(engine, tenant_id: int, set_id: int) -> tuple[list[dict], list[str]]:
    from sqlmodel import Session

    from opsapp.features.drift.queries import list_findings, summary

    calls = {
        name: (lambda s, kw=kw: list_findings(s, tenant_id=tenant_id, baseline_id=set_id, **kw))
        for name, kw in TABLE_VARIANTS.items()
    }
    calls["summary()"] = lambda s: summary(s, tenant_id=tenant_id, baseline_id=set_id)
    with Session(engine) as session:
        statements = {n: _capture(engine, lambda c=c: c(session)) for n, c in calls.items()}
        page = calls["deep page (150 of 25)"](session)
        first = calls["page 1, default filters (open, by name)"](session)
        searched = calls['search "a" (unselective)'](session)
    assert page.rows and page.total == N and first.total == N, (page.total, first.total)

    app: dict[str, list[float]] = {n: [] for n in calls}
    floor: dict[str, list[float]] = {n: [] for n in calls}
    for repeat in range(TABLE_REPEATS):
        with Session(engine) as session:
            raw = session.connection().connection.driver_connection

            def run_raw(name: str, raw=raw) -> None:
                with raw.cursor() as cur:
                    for statement, parameters in statements[name]:
                        cur.execute(statement, parameters)
                        cur.fetchall()

            for name, call in calls.items():  # warm-up per variant
                for _ in range(TABLE_WARMUP):
                    call(session)
                    run_raw(name)
            for i in range(TABLE_PER_REPEAT):
                for name, call in calls.items():
                    order = (
                        (app, lambda call=call: call(session)),
                        (floor, lambda name=name: run_raw(name)),
                    )
                    for bucket, fn in order if i % 2 == 0 else order[::-1]:
                        t0 = time.perf_counter()
                        fn()
                        bucket[name].append(time.perf_counter() - t0)
        print(f"table repeat {repeat + 1} done", file=sys.stderr, flush=True)

    plans = []
    with Session(engine) as session:
        raw = session.connection().connection.driver_connection
        for name, stmts in statements.items():
            with raw.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + stmts[0][0], stmts[0][1])
                plan = "\n".join(r[0] for r in cur.fetchall())
            plans.append(f"#### {name} (statement 1 of {len(stmts)})\n```\n{plan}\n```")
    results = [
        {
            "name": n,
            "app": app[n],
            "floor": floor[n],
            "statements": len(statements[n]),
            "rows": {"deep page (150 of 25)": len(page.rows)}.get(n),
        }
        for n in calls
    ]
    results[1]["matches"] = searched.total
    return results, plans


# --- report ----------------------------------------------------------------------------------


def _s(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} s (max {max(values):.3f})"


def _met(ok: bool) -> str:
    return "met" if ok else "**NOT met**"


def _ms(samples: list[float], pct: float) -> float:
    return percentile([s * 1000 for s in samples], pct)


def _gen_rows(label: str, g: dict, goal: bool) -> list[str]:
    floor = statistics.median(g["floor"])
    rows = []
    for key, what in (("first", "first run"), ("rerun", "re-run, nothing changed")):
        med = statistics.median(g[key])
        c = g["counts"][key]
        n, t = g["statements"][key]
        counts = f"created {c['created']}, unchanged {c['unchanged']}, removed {c['removed']}"
        rows.append(
            f"| {label}: {what} ({counts}; {n} statements, {t:.3f} s in them) "
            f"| {'≤ 3 s' if goal else '— (≤ 3 s is for 5 %)'} | **{_s(g[key])}** "
            f"| {_s(g['floor'])} | {med / floor:.1f}× "
            f"| {_met(max(g[key]) <= 3.0) if goal else ('≤ 3 s' if max(g[key]) <= 3 else '> 3 s')} |"
        )
    rows.append(
        f"| {label}: `detect()` alone (reads + normalise + diff of {g['diffed']:,}, no writes) "
        f"| | {_s(g['detect'])} | {_s(g['floor'])} "
        f"| {statistics.median(g['detect']) / floor:.1f}× | |"
    )
    return rows


def _rss_row(label: str, r: dict, goal: bool) -> list[str]:
    rows = []
    for key, what in (("first", "first run"), ("rerun", "re-run")):
        x = r[key]
        growth = (x["peak_kb"] - x["before_rss_kb"]) / 1024
        rows.append(
            f"| {label}: {what} | {'≤ 100 MB' if goal else '— (≤ 100 MB is for 5 %)'} "
            f"| **+{growth:.1f} MB** (peak {x['peak_kb'] / 1024:.0f} MB; before "
            f"{x['before_rss_kb'] / 1024:.0f} MB; RSS after {x['after_rss_kb'] / 1024:.0f} MB) "
            f"| {x['seconds']:.2f} s | {_met(growth <= 100) if goal else ''} |"
        )
    return rows


def report(
    pg5: dict, pgw: dict, sq5: dict | None, sc5: dict, scw: dict, rss5: dict, rssw: dict,
    table: list[dict], plans: list[str], findings_seed: float,
) -> str:  # fmt: skip
    kinds = sc5["kinds"]
    lines = [
        f"Machine: {machine()}",
        "",
        f"**Data.** One tenant per scenario, {N:,} baseline policies over the 8 policy types "
        f"(real-shaped payloads from the demo Graph recipes plus per-type extras; stored payload "
        f"median {sc5['payload_bytes']:,.0f} B, max {sc5['payload_max']:,} B; settings catalog "
        "5–13 settings; 0–3 assignments), a baseline set pinning all of them to version 1, "
        "`content_hash` = `Snapshot.digest`. **5 % scenario**: "
        f"{sc5['changed']} changed ({kinds['setting']} setting, {kinds['assignment']} assignment, "
        f"{kinds['volatile']} volatile-only), {sc5['removed']} removed, {sc5['added']} added "
        f"→ {sc5['expected_created']} findings expected (checked). **Worst case**: all "
        f"{scw['changed']:,} changed (same 60/20/20 mix) → {scw['expected_created']:,} findings. "
        f"Seeded with bulk Core inserts in {sc5['seed_seconds']:.1f} s / "
        f"{scw['seed_seconds']:.1f} s.",
        "",
        "**Method.** `generate_drift()` (the task body's service, run_id None) called directly. "
        "First run: the baseline's findings deleted (and the table vacuumed) before each, outside "
        "the timing. Re-run: right after, nothing changed, every finding kept. Floor: the bare "
        "reads of the same rows with `conn.execute(sa.text(...))` — items ⨝ versions (hash), the "
        "tenant's policies, and the payloads of both versions of every diffed policy (1,000 ids "
        "per query). Interleaved floor / first / detect / floor / re-run, after a warm-up of "
        f"each; {REPS} repetitions (worst case {WORST_REPS}). Statement counts from one extra "
        "instrumented run each. Peak RSS: a fresh subprocess per run (`python -m bench.drift "
        "--child`; first run and re-run each in their own process): after imports, engine and one "
        "query the high-water mark is reset (`/proc/self/clear_refs` ← 5); growth = VmHWM after "
        "`generate_drift()` − VmRSS before it. (`ru_maxrss` is not used: a child inherits its "
        "parent's high-water mark through vfork + exec — here it read "
        f"{rss5['first']['ru_maxrss_before_kb'] / 1024:.0f} MB before the call.)",
        "",
        "| figure | goal | measured | floor (bare reads) | ÷ floor | goal met? |",
        "|---|---|---|---|---|---|",
        *_gen_rows("PostgreSQL, 5 %", pg5, True),
        *_gen_rows("PostgreSQL, 100 % (worst case)", pgw, False),
    ]
    if sq5 is not None:
        lines += _gen_rows("SQLite, 5 %", sq5, True)
    lines += [
        "",
        "| peak RSS, fresh subprocess (PostgreSQL) | goal | growth during one generate "
        "| its wall time | goal met? |",
        "|---|---|---|---|---|",
        *_rss_row("5 %", rss5, True),
        *_rss_row("100 % (worst case)", rssw, False),
        "",
        f"**Findings table.** {N:,} open findings on one baseline (80 % modified with 1–4 "
        "changes, 10 % removed, 10 % added; 15 % acknowledged; last seen over 30 days) seeded in "
        f"{findings_seed:.1f} s; the tenant has {sc5['policies']:,} policies. Each variant: "
        f"`list_findings()` (page size 25; it runs the page query and a COUNT) or `summary()` on a "
        f"Session, {TABLE_REPEATS} repeats × {TABLE_PER_REPEAT} samples = "
        f"{TABLE_REPEATS * TABLE_PER_REPEAT:,}, variants interleaved sample by sample, "
        f"{TABLE_WARMUP} warm-ups per variant per repeat. Floor: the same SQL statements the "
        "call executed (captured once), run raw on the session's driver connection, "
        "interleaved with it (alternating which goes first).",
        "",
        "| variant | goal | measured | floor (same SQL, raw) | p95 ÷ floor p95 | goal met? |",
        "|---|---|---|---|---|---|",
    ]
    for r in table:
        p95 = _ms(r["app"], 95)
        extra = f"; {r['matches']:,} match" if r.get("matches") else ""
        lines.append(
            f"| {r['name']} ({r['statements']} statement{'s' if r['statements'] > 1 else ''}{extra}) "
            "| p95 ≤ 50 ms "
            f"| p50 {_ms(r['app'], 50):.2f} ms, **p95 {p95:.2f} ms**, p99 {_ms(r['app'], 99):.2f}"
            f" ms (n={len(r['app']):,}) | p50 {_ms(r['floor'], 50):.2f} ms, p95 "
            f"{_ms(r['floor'], 95):.2f} ms, p99 {_ms(r['floor'], 99):.2f} ms "
            f"| {p95 / _ms(r['floor'], 95):.1f}× | {_met(p95 <= 50)} |"
        )
    lines += [
        "",
        "<details><summary>EXPLAIN ANALYZE (findings table)</summary>",
        "",
        "\n\n".join(plans),
        "</details>",
    ]
    return "\n".join(lines)


def main() -> None:
    from opsapp.db import get_engine
    from opsapp.migrate import upgrade

    url = scratch_pg()
    try:
        upgrade(url)
        engine = get_engine(url)
        tenant5, _ = seed_operator(engine, "drift-5pct")
        tenantw, _ = seed_operator(engine, "drift-worst")
        sc5 = seed_scenario(engine, tenant_id=tenant5, changed_fraction=0.05, removed=N // 100,
                            added=N // 100, name="5pct")  # fmt: skip
        scw = seed_scenario(engine, tenant_id=tenantw, changed_fraction=1.0, removed=0, added=0,
                            name="worst")  # fmt: skip
        print(f"seeded: {sc5}\n        {scw}", file=sys.stderr, flush=True)
        pg5 = measure_generate(engine, sc5, REPS, "pg 5%")
        pgw = measure_generate(engine, scw, WORST_REPS, "pg 100%")
        rss5 = measure_rss(url, engine, sc5)
        rssw = measure_rss(url, engine, scw)
        t0 = time.perf_counter()
        findings_set = seed_findings(engine, tenant5)
        findings_seed = time.perf_counter() - t0
        table, plans = measure_table(engine, tenant5, findings_set)
        engine.dispose()
    finally:
        drop_pg(url)

    sq5 = None
    with tempfile.TemporaryDirectory() as tmp:
        lite = scratch_sqlite(tmp)
        upgrade(lite)
        engine = get_engine(lite)
        tenant, _ = seed_operator(engine, "drift-sqlite")
        sc = seed_scenario(engine, tenant_id=tenant, changed_fraction=0.05, removed=N // 100,
                           added=N // 100, name="sqlite")  # fmt: skip
        sq5 = measure_generate(engine, sc, REPS, "sqlite 5%")
        engine.dispose()

    body = report(pg5, pgw, sq5, sc5, scw, rss5, rssw, table, plans, findings_seed)
    print(body)
    write_section(
        "Drift generation and findings table (PostgreSQL and SQLite, 5,000 policies)", body
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=3, metavar=("URL", "TENANT", "SET"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
    else:
        main()
