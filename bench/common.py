"""Shared helpers: a scratch database per benchmark, percentiles, and the results file."""

from __future__ import annotations

import collections
import os
import platform
import statistics
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from tests import dbutil

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
OUT = Path(__file__).resolve().parent / "out"


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def summary_ms(samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (
        f"p50 {percentile(ms, 50):.2f} ms, p95 {percentile(ms, 95):.2f} ms, "
        f"p99 {percentile(ms, 99):.2f} ms, mean {statistics.fmean(ms):.2f} ms (n={len(ms)})"
    )


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {pg}, "
        f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load}"
    )


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section `## name` of RESULTS.md."""
    OUT.mkdir(exist_ok=True)
    text = (
        RESULTS.read_text()
        if RESULTS.exists()
        else "# Benchmark results\n\nWritten by `make bench`.\n"
    )
    header = f"## {name}\n"
    block = f"{header}\n{body.strip()}\n\n"
    if header in text:
        start = text.index(header)
        nxt = text.find("\n## ", start + len(header))
        text = text[:start] + block + (text[nxt + 1 :] if nxt != -1 else "")
    else:
        text = text.rstrip() + "\n\n" + block
    RESULTS.write_text(text.rstrip() + "\n")


def scratch_pg() -> str:
    return dbutil.create_pg_database()


def drop_pg(url: str) -> None:
    dbutil.drop_pg_database(url)


def scratch_sqlite(directory: str | Path) -> str:
    return f"sqlite:///{Path(directory) / 'opsapp-bench.db'}"


class RecordingDispatcher:
    """A dispatcher that accepts every type and only records the run ids (no broker)."""

    def __init__(self) -> None:
        self.dispatched: list[int] = []

    def supports(self, run_type: str) -> bool:
        return True

    async def dispatch(self, run) -> None:
        self.dispatched.append(run.id)


def seed_operator(engine, slug: str = "bench") -> tuple[int, int]:
    """A demo-provider tenant and an operator member of it: (tenant_id, user_id)."""
    from opsapp.db import session_scope
    from opsapp.models import Role
    from opsapp.tenancy import create_tenant, create_user, set_membership

    with session_scope(engine) as session:
        tenant = create_tenant(session, slug=slug, name=f"Bench {slug}")
        user = create_user(
            session,
            email=f"operator@{slug}.example.test",
            password="correct horse battery staple",
            display_name="Bench Operator",
        )
        set_membership(session, tenant=tenant, user=user, role=Role.operator)
        return tenant.id, user.id


class WaitSampler(threading.Thread):
    """Samples pg_stat_activity every ~2 ms: what the active client backends of the database
    wait on (wait_event_type:wait_event and the start of their query), except this sampler's own
    backend and those of `exclude_application` (an application_name)."""

    def __init__(self, url: str, *, exclude_application: str = "") -> None:
        import sqlalchemy as sa

        super().__init__(daemon=True)
        self._sa = sa
        self.engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        self.exclude = exclude_application
        self.stop, self.samples = threading.Event(), 0
        self.waits: collections.Counter[str] = collections.Counter()

    def run(self) -> None:
        query = self._sa.text(
            "SELECT wait_event_type, wait_event, left(query, 24) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' "
            "AND wait_event_type IS NOT NULL AND (:exclude = '' OR application_name <> :exclude) "
            "AND backend_type = 'client backend'"
        )
        with self.engine.connect() as conn:
            while not self.stop.is_set():
                for kind, event, what in conn.execute(query, {"exclude": self.exclude}):
                    self.waits[f"{kind}:{event} ({' '.join(what.split())}…)"] += 1
                self.samples += 1
                time.sleep(0.002)
        self.engine.dispose()

    def lock_waits(self) -> int:
        return sum(n for k, n in self.waits.items() if k.startswith("Lock:"))

    def top(self, n: int = 5) -> str:
        return ", ".join(f"{k} ×{c}" for k, c in self.waits.most_common(n)) or "nothing"
