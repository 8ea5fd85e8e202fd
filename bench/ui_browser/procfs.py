"""Memory and CPU read from /proc: of the app's process group, and of the whole machine.

The machine-wide CPU snapshot exists to say in the report how busy other engineers' processes
kept the 2 shared cores while this run measured.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from pathlib import Path


def _stat_fields(proc: Path) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (which may contain spaces)."""
    return (proc / "stat").read_text().rsplit(")", 1)[1].split()


def _cpu_ticks(fields: list[str]) -> int:
    return int(fields[11]) + int(fields[12])  # utime + stime


def _pid_dirs():
    return (entry for entry in Path("/proc").iterdir() if entry.name.isdigit())


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in _pid_dirs():
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(_stat_fields(entry)[2]) == pgid:
                pids.append(int(entry.name))
    return pids


def _kb(path: Path, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def group_memory(pgid: int) -> dict:
    """RSS and PSS summed over the group (MiB), process count, CPU seconds so far."""
    rss = pss = cpu_ticks = 0
    pids = _group_pids(pgid)
    for pid in pids:
        proc = Path(f"/proc/{pid}")
        rss += _kb(proc / "status", "VmRSS:")
        pss += _kb(proc / "smaps_rollup", "Pss:")
        with contextlib.suppress(OSError, IndexError, ValueError):
            cpu_ticks += _cpu_ticks(_stat_fields(proc))
    tick = os.sysconf("SC_CLK_TCK")
    return {"rss": rss / 1024, "pss": pss / 1024, "procs": len(pids), "cpu_s": cpu_ticks / tick}


def _label(entry: Path) -> str:
    """The first words of the command line without options, e.g. `postgres opsapp_test_…`."""
    args = (entry / "cmdline").read_bytes().split(b"\0")
    words = [Path(w.decode(errors="replace")).name for w in args[:3] if w]
    return " ".join(w for w in words if not w.startswith("-"))[:40]


def cpu_snapshot() -> dict[int, tuple[str, int, int]]:
    """pid → (label, parent pid, CPU ticks so far) for every process on the machine."""
    snap = {}
    for entry in _pid_dirs():
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            label = _label(entry) or stat.split()[1]  # kernel threads: "(name)"
            snap[int(entry.name)] = (label, int(fields[1]), _cpu_ticks(fields))
    return snap


def _ours(pid: int, snap: dict) -> bool:
    """This script or one of its descendants (apps, demo Graph, Playwright, Chromium)."""
    me, seen = os.getpid(), set()
    while pid in snap and pid not in seen:
        if pid == me:
            return True
        seen.add(pid)
        pid = snap[pid][1]
    return False


def cpu_report(first: dict, last: dict, wall_s: float) -> str:
    """CPU used during the run by processes that are not this run's (top labels)."""
    tick = os.sysconf("SC_CLK_TCK")
    others: Counter[str] = Counter()
    for pid, (label, _, ticks) in last.items():
        if not _ours(pid, last):
            others[label] += (ticks - first.get(pid, (label, 0, 0))[2]) / tick
    top = ", ".join(f"{k} {v:.0f} s" for k, v in others.most_common(5) if v >= 1) or "none"
    cores = os.cpu_count() or 1
    return (
        f"Other engineers' processes (not started by this run) used "
        f"{sum(others.values()):.0f} core-s of the {wall_s * cores:.0f} available during the "
        f"{wall_s:.0f} s run (top: {top}; processes that exited during the run are not counted)"
    )
